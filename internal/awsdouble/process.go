package awsdouble

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"
)

// Main runs a double as a process, for process-level tests and the demo: it listens where
// -listen says (127.0.0.1 only; port 0, the default, for any free one), prints the
// double's URL as the first line of stdout, and serves until interrupted. name is the
// command's name, for its errors.
func Main[D interface {
	URL() string
	Close()
}](name string, listen func(addr string) (D, error)) {
	addr := flag.String("listen", "127.0.0.1:0", "address to listen on, 127.0.0.1 only (port 0: any free port)")
	flag.Parse()

	// listening for the signals before the URL is out: a harness may stop the double as
	// soon as it has read it
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	d, err := listen(*addr)
	if err != nil {
		log.Fatalf("%s: %v", name, err)
	}
	fmt.Println(d.URL())
	<-stop
	d.Close()
}
