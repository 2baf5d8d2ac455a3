// Package awsdouble is what the project's AWS test doubles (snsdouble, eumdouble, sqsdouble,
// logsdouble) share: a server that listens on 127.0.0.1 only, the plan of faults a test
// injects, the record of accepted requests a test waits for, the control paths of a double
// run as a process, the AWS JSON protocols' answers, request ids, and the offline SDK
// environment that points the real aws-sdk-go-v2 at nothing but a double.
//
// Each double speaks its own service's protocol on top; none of this knows a service.
package awsdouble

import (
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// Server is a double's HTTP server on 127.0.0.1. Its methods are safe for concurrent use.
type Server struct {
	url      string
	listener net.Listener
	server   *http.Server
	closing  chan struct{}
	once     sync.Once
}

// Listen opens addr, which must be a 127.0.0.1 address (port 0 for any free one). Nothing
// is answered until Serve.
func Listen(addr string) (*Server, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("listen address %q: %w", addr, err)
	}
	if host != "127.0.0.1" {
		return nil, fmt.Errorf("listen address %q: the double listens on 127.0.0.1 only", addr)
	}
	ln, err := net.Listen("tcp4", addr)
	if err != nil {
		return nil, err
	}
	return &Server{url: "http://" + ln.Addr().String(), listener: ln, closing: make(chan struct{})}, nil
}

// Serve answers the server's requests with h, in the background, until Close. The double
// that is h is made before Serve, so that no request meets it half made.
func (s *Server) Serve(h http.Handler) {
	s.server = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go s.server.Serve(s.listener) //nolint:errcheck // Serve returns ErrServerClosed on Close
}

// URL is the server's base URL, http://127.0.0.1:<port>, for a client's BaseEndpoint.
func (s *Server) URL() string { return s.url }

// Closing is closed when Close is called: a request held open (a hang, a long poll) ends.
func (s *Server) Closing() <-chan struct{} { return s.closing }

// Close stops the server, releasing any request held by Hang. It is safe to call twice.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.closing)
		if s.server == nil {
			s.listener.Close()
			return
		}
		s.server.Close()
	})
}

// Hang holds a request without an answer until the client gives up or the server closes;
// then the connection is dropped without a word, not even an empty answer.
func (s *Server) Hang(w http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-s.closing:
		DropConnection(w)
	}
}

// RefusedURL is the URL of a port of 127.0.0.1 that nothing listens on (it did a moment
// ago): a connection to it is refused, so a request to it provably never left.
func RefusedURL(tb testing.TB) string {
	tb.Helper()
	s, err := Listen("127.0.0.1:0")
	if err != nil {
		tb.Fatalf("finding a free port: %v", err)
	}
	s.Close()
	return s.URL()
}

// DropConnection closes the client's connection without writing an answer.
func DropConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // HTTP/2: reset the stream instead
	}
	conn.Close()
}

// Start starts a double with listen on a free port of 127.0.0.1 and closes it when the test
// ends; name says which double in the error when it cannot start.
func Start[D interface{ Close() }](tb testing.TB, name string, listen func(addr string) (D, error)) D {
	tb.Helper()
	d, err := listen("127.0.0.1:0")
	if err != nil {
		tb.Fatalf("starting %s: %v", name, err)
	}
	tb.Cleanup(d.Close)
	return d
}
