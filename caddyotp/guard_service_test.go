package caddyotp_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/internal/apptest"
)

// guardApp is a started app whose template login has a guard judging after 25 sends, with
// the mobile and prefix limits out of the way, and a sender that records the codes.
func guardApp(t *testing.T, shadow bool) (*caddyotp.App, *feedbackSender) {
	t.Helper()
	resend := caddy.Duration(0)
	tmpl := &caddyotp.Template{Message: "{code}", Resend: &resend,
		Limits: map[string]caddyotp.LimitConfig{caddyotp.LimitPrefix: {Count: 0}, caddyotp.LimitMobile: {Count: 0}},
		Guard:  &caddyotp.Guard{MinSends: 25, MinConversion: 0.2, Block: caddy.Duration(time.Hour), Shadow: shadow}}
	app := apptest.Start(t, apptest.LogApp(map[string]*caddyotp.Template{"login": tmpl}))
	s := &feedbackSender{given: make(chan string, 1)}
	app.SetSenderForTest(s)
	return app, s
}

// TestGuardBlocksPumping: 25 sends to one country with 1 code used → the 26th is refused
// with 429 before the provider is called; a country whose codes are used is unaffected.
func TestGuardBlocksPumping(t *testing.T) {
	app, s := guardApp(t, false)
	ctx, login := context.Background(), app.Template("login")
	for i := range 25 {
		m := fmt.Sprintf("+4474001236%02d", i)
		if _, err := app.Send(ctx, caddyotp.SendRequest{Template: login, Mobile: m}); err != nil {
			t.Fatalf("send %d: %v", i+1, err)
		}
		if i == 0 {
			if _, err := app.Verify(ctx, caddyotp.VerifyRequest{Template: login, Mobile: m, Code: s.texts[0]}); err != nil {
				t.Fatal(err)
			}
		}
	}
	before := len(s.texts)
	_, err := app.Send(ctx, caddyotp.SendRequest{Template: login, Mobile: "+447400123699"})
	var e *caddyotp.Error
	if !errors.As(err, &e) || e.Code != caddyotp.CodeRateLimited || e.RetryAfter <= 59*time.Minute || e.RetryAfter > time.Hour {
		t.Fatalf("expected the 26th send refused rate_limited for about an hour, got %v", err)
	}
	if len(s.texts) != before {
		t.Errorf("expected the provider not called for a blocked destination")
	}
	if got := testutil.ToFloat64(app.LimitHitsMetricForTest().WithLabelValues("login", "guard")); got != 1 {
		t.Errorf("expected one guard refusal counted, got %v", got)
	}
	for _, scope := range []string{"country", "prefix"} {
		if got := testutil.ToFloat64(app.GuardBlocksMetricForTest().WithLabelValues("login", scope, "block")); got != 1 {
			t.Errorf("expected one %s block counted, got %v", scope, got)
		}
	}
	blocks, err := app.GuardBlocks(ctx, login)
	if err != nil || len(blocks) != 2 || blocks["country:GB"] <= 0 {
		t.Errorf("expected GB and its prefix blocked, got %v, %v", blocks, err)
	}
	st, err := app.Stats(ctx, login, 1)
	if err != nil || len(st.Countries) != 1 || !st.Countries[0].Blocked {
		t.Errorf("expected sms-stats to show GB blocked, got %+v, %v", st.Countries, err)
	}

	// the US converts: 30 sends, each code used, none refused
	for i := range 30 {
		m := fmt.Sprintf("+1202555%04d", 140+i)
		if _, err := app.Send(ctx, caddyotp.SendRequest{Template: login, Mobile: m}); err != nil {
			t.Fatalf("US send %d: %v", i+1, err)
		}
		if _, err := app.Verify(ctx, caddyotp.VerifyRequest{Template: login, Mobile: m, Code: s.texts[len(s.texts)-1]}); err != nil {
			t.Fatalf("US verify %d: %v", i+1, err)
		}
	}
}

// TestGuardShadow: in shadow mode the same traffic is refused nothing, and what would have
// been blocked is counted.
func TestGuardShadow(t *testing.T) {
	app, _ := guardApp(t, true)
	ctx, login := context.Background(), app.Template("login")
	for i := range 30 {
		if _, err := app.Send(ctx, caddyotp.SendRequest{Template: login, Mobile: fmt.Sprintf("+4474001237%02d", i)}); err != nil {
			t.Fatalf("expected shadow mode to refuse nothing, send %d got %v", i+1, err)
		}
	}
	for _, scope := range []string{"country", "prefix"} {
		if got := testutil.ToFloat64(app.GuardBlocksMetricForTest().WithLabelValues("login", scope, "shadow")); got != 1 {
			t.Errorf("expected one shadow %s block counted, got %v", scope, got)
		}
	}
	if got := testutil.ToFloat64(app.LimitHitsMetricForTest().WithLabelValues("login", "guard")); got != 0 {
		t.Errorf("expected no guard refusal in shadow mode, got %v", got)
	}
	st, err := app.Stats(ctx, login, 1)
	if err != nil || len(st.Countries) != 1 || st.Countries[0].Blocked {
		t.Errorf("expected sms-stats not to call a shadow block blocked, got %+v, %v", st.Countries, err)
	}
}
