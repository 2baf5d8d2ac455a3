package redisstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/internal/apptest"
	"github.com/caddyotp/caddyotp/internal/redistest"
)

// BenchmarkSend is one whole send (the service's every store step, the log sender) on a
// private Redis: claim, limits, budget, code and ledger, with the daily counts in the ledger
// step. BENCHMARKS.md compares it with the tree before the counts.
func BenchmarkSend(b *testing.B) {
	srv := redistest.Start(b)
	resend := caddy.Duration(0)
	app := apptest.LogApp(map[string]*caddyotp.Template{"login": {Message: "{code}", Resend: &resend,
		Limits: map[string]caddyotp.LimitConfig{caddyotp.LimitMobile: {Count: 0}, caddyotp.LimitPrefix: {Count: 0},
			caddyotp.LimitTemplate: {Count: 0}}}})
	app.StoreRaw = json.RawMessage(`{"store":"redis","addresses":["` + srv.Addr() + `"]}`)
	apptest.Start(b, app)
	ctx, login := context.Background(), app.Template("login")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := app.Send(ctx, caddyotp.SendRequest{Template: login, Mobile: fmt.Sprintf("+4474001%05d", i%100000)}); err != nil {
			b.Fatal(err)
		}
	}
}
