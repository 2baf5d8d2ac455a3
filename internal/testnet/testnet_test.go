package testnet

import (
	"net"
	"strconv"
	"testing"
)

// TestFreePortNeverRepeats asks for many ports in a row, closing nothing in between, as
// a test that starts three sites does: no port may come back twice, and each must be
// free to listen on.
func TestFreePortNeverRepeats(t *testing.T) {
	seen := map[int]bool{}
	for range 300 {
		p := FreePort(t)
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
	}
	p := FreePort(t)
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	if err != nil {
		t.Fatalf("listening on the port just handed out: %v", err)
	}
	l.Close()
}
