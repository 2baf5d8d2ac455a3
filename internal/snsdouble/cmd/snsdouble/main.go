// Command snsdouble runs the SNS test double as a process, for process-level tests and the
// demo. It prints its URL as the first line of stdout, then serves the SNS API and the
// double's control paths (GET /_published, POST /_fault, POST /_reset; see
// snsdouble.Double.ServeHTTP) until interrupted. It listens on 127.0.0.1 only.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/caddyotp/caddyotp/internal/snsdouble"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on, 127.0.0.1 only (port 0: any free port)")
	flag.Parse()

	d, err := snsdouble.Listen(*listen)
	if err != nil {
		log.Fatalf("snsdouble: %v", err)
	}
	fmt.Println(d.URL())

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	<-stop
	d.Close()
}
