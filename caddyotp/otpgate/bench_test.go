package otpgate

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/internal/apptest"
)

// newBenchGate provisions an app (memory store, log sender) and a gate outside a running
// Caddy.
func newBenchGate(tb testing.TB) (*Gate, *caddyotp.App) {
	tb.Helper()
	app := apptest.Provision(tb, apptest.LogApp(nil))
	app.Start()
	tb.Cleanup(func() { app.Stop() })
	g := &Gate{AllowAny: true}
	g.logger = zap.NewNop()
	g.setup(app)
	if err := g.Validate(); err != nil {
		tb.Fatal(err)
	}
	// The memory store's revocation feed reports healthy as soon as it is followed.
	deadline := time.Now().Add(2 * time.Second)
	for !app.SessionsHealthy(context.Background()) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	return g, app
}

var okHandler = caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
})

// BenchmarkGateValidSession is the whole gate on a request with a valid session: header
// stripping, cookie lookup, token check, cookie removal, identity header.
func BenchmarkGateValidSession(b *testing.B) {
	g, app := newBenchGate(b)
	tok, _, _ := app.MintSession(g.tmpl.Name(), "", "+447400123456", time.Now(), time.Hour)
	req := httptest.NewRequest("GET", "/admin/", nil)
	cookie := sessionCookie + "=" + tok
	w := httptest.NewRecorder()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req.Header["Cookie"] = []string{cookie}
		req.Header["X_otp_mobile"] = []string{"spoofed"}
		if err := g.ServeHTTP(w, req, okHandler); err != nil {
			b.Fatal(err)
		}
	}
	if w.Code != http.StatusNoContent {
		b.Fatalf("expected 204 from next, got %d", w.Code)
	}
}

// BenchmarkGateValidSessionManySessions rotates 1,000 distinct sessions, so that no cache
// of a single token flatters the number.
func BenchmarkGateValidSessionManySessions(b *testing.B) {
	g, app := newBenchGate(b)
	cookies := make([]string, 1000)
	for i := range cookies {
		tok, _, _ := app.MintSession(g.tmpl.Name(), "", "+447400123456", time.Now(), time.Hour)
		cookies[i] = sessionCookie + "=" + tok
	}
	req := httptest.NewRequest("GET", "/admin/", nil)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req.Header["Cookie"] = []string{cookies[i%len(cookies)]}
		if err := g.ServeHTTP(w, req, okHandler); err != nil {
			b.Fatal(err)
		}
	}
}
