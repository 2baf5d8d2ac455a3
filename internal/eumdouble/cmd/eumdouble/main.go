// Command eumdouble runs the End User Messaging SMS test double as a process, for
// process-level tests and the demo. It prints its URL as the first line of stdout, then
// serves the API and the double's control paths (GET /_sent, POST /_fault, POST /_reset;
// see eumdouble.Double.ServeHTTP) until interrupted. It listens on 127.0.0.1 only.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/caddyotp/caddyotp/internal/eumdouble"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on, 127.0.0.1 only (port 0: any free port)")
	flag.Parse()

	d, err := eumdouble.Listen(*listen)
	if err != nil {
		log.Fatalf("eumdouble: %v", err)
	}
	fmt.Println(d.URL())

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	<-stop
	d.Close()
}
