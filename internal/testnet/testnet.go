// Package testnet finds loopback ports for tests. Every test server binds 127.0.0.1.
package testnet

import (
	"fmt"
	"net"
	"testing"
)

// TryFreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func TryFreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
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
