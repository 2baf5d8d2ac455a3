package twiliosender

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/httpsender"
	"github.com/caddyotp/caddyotp/internal/testcaddy"
	"github.com/caddyotp/caddyotp/internal/twiliodouble"
)

// BenchmarkSend sends one SMS per iteration to a server on 127.0.0.1: through Twilio's
// official library to its double (form in, JSON out, basic auth), and through the http
// sender (a signed JSON body) to a receiver that answers `{"id":"m"}`.
func BenchmarkSend(b *testing.B) {
	msg := caddyotp.SMS{To: "+447400123456", Text: "123456 is your Acme code. It expires in 5 minutes.", TTL: 300e9}
	run := func(b *testing.B, s caddyotp.Sender) {
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if _, err := s.Send(ctx, msg); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("twilio", func(b *testing.B) {
		d := twiliodouble.New(b)
		s := &TwilioSender{AccountSID: twiliodouble.AccountSID, AuthToken: twiliodouble.AuthToken,
			MessagingServiceSID: "MG0123456789abcdef0123456789abcdef", Endpoint: d.URL()}
		testcaddy.Provision(b, s)
		run(b, s)
	})
	b.Run("http", func(b *testing.B) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"id":"m"}`)
		}))
		b.Cleanup(srv.Close)
		s := &httpsender.HTTPSender{URL: srv.URL, Sign: "a-secret-of-at-least-16-bytes", MessageIDField: "/id"}
		testcaddy.Provision(b, s)
		run(b, s)
	})
}
