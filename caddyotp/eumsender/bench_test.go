package eumsender

import (
	"context"
	"testing"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/snssender"
	"github.com/caddyotp/caddyotp/internal/awsdouble"
	"github.com/caddyotp/caddyotp/internal/eumdouble"
	"github.com/caddyotp/caddyotp/internal/snsdouble"
	"github.com/caddyotp/caddyotp/internal/testcaddy"
)

// BenchmarkSend sends one SMS per iteration through each sender's real SDK client to its
// double on 127.0.0.1: the SNS Query protocol (form in, XML out) against End User
// Messaging's AWS JSON 1.0, signing and one HTTP round trip included.
func BenchmarkSend(b *testing.B) {
	msg := caddyotp.SMS{To: "+447400123456", Text: "123456 is your Acme code. It expires in 5 minutes.",
		SenderID: "ACME", MaxPriceUSD: 0.05, Template: "login", TTL: 300e9}
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
	b.Run("sns", func(b *testing.B) {
		d := snsdouble.New(b)
		awsdouble.OfflineAWS(b)
		s := &snssender.SNSSender{Connection: at(d.URL())}
		testcaddy.Provision(b, s)
		run(b, s)
	})
	b.Run("eum", func(b *testing.B) {
		d := eumdouble.New(b)
		awsdouble.OfflineAWS(b)
		s := &EUMSender{Connection: at(d.URL()), ConfigurationSet: "otp"}
		testcaddy.Provision(b, s)
		run(b, s)
	})
}
