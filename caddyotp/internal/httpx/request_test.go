package httpx

import (
	"net/http/httptest"
	"testing"
)

// TestClientIPWithoutCaddy: outside a Caddy server the client IP is the peer without its
// port, so every connection does not get a fresh ip limit.
func TestClientIPWithoutCaddy(t *testing.T) {
	r := httptest.NewRequest("POST", "/send-otp", nil)
	r.RemoteAddr = "198.51.100.7:53211"
	if got := ClientIP(r); got != "198.51.100.7" {
		t.Errorf("expected 198.51.100.7, got %q", got)
	}
}
