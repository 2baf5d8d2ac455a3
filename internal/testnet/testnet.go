// Package testnet finds loopback ports for tests. Every test server binds 127.0.0.1.
package testnet

import (
	"fmt"
	"net"
	"sync"
	"testing"
)

// given holds every port this process has handed out. The kernel may hand the same free
// port to two listens in a row once the first is closed, and two servers told the same
// port fail in ways that look like anything but a test helper's fault (Caddy: "ambiguous
// site definition"). A port is handed out at most once per process.
var given = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// TryFreePort returns a TCP port on 127.0.0.1 that was free a moment ago and that this
// process has not handed out before.
func TryFreePort() (int, error) {
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	given.Lock()
	defer given.Unlock()
	// Keep the ports already given open while asking again, so the kernel moves on.
	for range 64 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		held = append(held, l)
		port := l.Addr().(*net.TCPAddr).Port
		if !given.ports[port] {
			given.ports[port] = true
			return port, nil
		}
	}
	return 0, fmt.Errorf("no loopback port this process has not handed out already after 64 tries")
}

// FreePort is TryFreePort that fails the test on error.
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := TryFreePort()
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	return port
}

// Site is the address of a plain-HTTP site on 127.0.0.1:port.
func Site(port int) string { return fmt.Sprintf("http://127.0.0.1:%d", port) }
