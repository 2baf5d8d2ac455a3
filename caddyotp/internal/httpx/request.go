package httpx

import (
	"net"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// MaxBodyBytes bounds an API request body.
const MaxBodyBytes = 4 << 10

// ClientIP is Caddy's {client_ip}: the remote address, or what trusted proxies said.
func ClientIP(r *http.Request) string {
	if ip, ok := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string); ok && ip != "" {
		return ip
	}
	// Without Caddy's variable (outside a Caddy server), the peer without its port: a port
	// would give every connection a fresh ip limit.
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// BodyReadTimeout bounds reading a request body of the API or of a gate form. Caddy sets no
// read timeout by default, so a body of a few bytes trickled slowly would hold its
// connection and goroutine for as long as the client likes.
const BodyReadTimeout = 5 * time.Second

// WithBodyDeadline runs read, which reads the request body, with BodyReadTimeout as the
// connection's read deadline, and lifts the deadline afterwards: left in place, it would
// cancel the request's context in the middle of a slow SMS send.
func WithBodyDeadline(w http.ResponseWriter, read func() error) error {
	rc := http.NewResponseController(w)
	if rc.SetReadDeadline(time.Now().Add(BodyReadTimeout)) != nil {
		return read()
	}
	defer rc.SetReadDeadline(time.Time{})
	return read()
}
