package failoversender_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/internal/apptest"
)

// gbPrice is the estimate of one SMS to GB in the apps below.
const gbPrice = 0.04

// startApp runs the otp app with a failover of the fake senders a and b (open_after 2),
// the memory store, and a template without a resend interval.
func startApp(t *testing.T) *caddyotp.App {
	t.Helper()
	noResend := caddy.Duration(0)
	return apptest.Start(t, &caddyotp.App{
		SenderRaw: []byte(`{"sender":"failover","open_after":2,"senders":[
			{"sender":"failovertest_fake","name":"a"},{"sender":"failovertest_fake","name":"b"}]}`),
		Prices:    map[string]float64{"GB": gbPrice, "default": 0.07},
		Templates: map[string]*caddyotp.Template{"login": {Message: "{code} is your code", Resend: &noResend}},
	})
}

func send(t *testing.T, app *caddyotp.App) (caddyotp.SendResult, error) {
	t.Helper()
	return app.Send(context.Background(), caddyotp.SendRequest{Template: app.Template("login"), Mobile: "+447400123456", ClientIP: "192.0.2.1"})
}

// ledger is the template's ledger, oldest first, as "provider status price_usd".
func ledger(t *testing.T, app *caddyotp.App) string {
	t.Helper()
	entries, err := app.RecentSMS(context.Background(), app.Template("login"), 20)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		lines = append(lines, fmt.Sprintf("%s %s %.2f", e.Provider, e.Status, e.PriceUSD))
	}
	return strings.Join(lines, ", ")
}

// checkSpent fails t unless today's budget spend is want USD.
func checkSpent(t *testing.T, app *caddyotp.App, want float64) {
	t.Helper()
	stats, err := app.Stats(context.Background(), app.Template("login"), 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := stats.Budget.DailySpentUSD; math.Abs(got-want) > 1e-9 {
		t.Errorf("expected %.2f USD of budget spent, got %v", want, got)
	}
}

// TestAppDefiniteFailureFailsOver: the first sender refuses the SMS, the second sends it;
// both attempts are in the ledger under their providers, and only the sent one keeps its
// budget.
func TestAppDefiniteFailureFailsOver(t *testing.T) {
	a := fake(t, "a", &caddyotp.SendError{Code: "HTTP500", Retryable: true})
	b := fake(t, "b")
	app := startApp(t)
	res, err := send(t, app)
	if err != nil || res.MessageID != "b-1" {
		t.Fatalf("expected b's message id, got %+v, %v", res, err)
	}
	if ac, _ := a.count(); ac != 1 {
		t.Errorf("expected one attempt at a, got %d", ac)
	}
	if want := "failovertest_fake failed 0.00, failovertest_fake#2 sent 0.04"; ledger(t, app) != want {
		t.Errorf("expected ledger %q, got %q", want, ledger(t, app))
	}
	b.mu.Lock()
	sent := append([]caddyotp.SMS(nil), b.sent...)
	b.mu.Unlock()
	if len(sent) != 1 || sent[0].To != "+447400123456" || !strings.HasSuffix(sent[0].Text, " is your code") {
		t.Errorf("expected b to send the template's SMS to +447400123456, got %+v", sent)
	}
	checkSpent(t, app, gbPrice)
}

// TestAppMaybeSentStops: the first sender's answer is lost, so the SMS may be on its way:
// no second attempt, the ledger says "unknown" and the budget keeps the estimate.
func TestAppMaybeSentStops(t *testing.T) {
	fake(t, "a", &caddyotp.SendError{Code: "Timeout", Retryable: true, MaybeDelivered: true})
	b := fake(t, "b")
	app := startApp(t)
	_, err := send(t, app)
	var e *caddyotp.Error
	if !errors.As(err, &e) || e.Code != caddyotp.CodeSendFailed {
		t.Fatalf("expected send_failed, got %v", err)
	}
	if bc, _ := b.count(); bc != 0 {
		t.Errorf("expected no attempt at b, got %d", bc)
	}
	if want := "failovertest_fake unknown 0.04"; ledger(t, app) != want {
		t.Errorf("expected ledger %q, got %q", want, ledger(t, app))
	}
	checkSpent(t, app, gbPrice)
}

// TestAppCircuitOpens: after open_after (2) definite failures in a row the first sender is
// skipped: the third send goes straight to the second.
func TestAppCircuitOpens(t *testing.T) {
	refused := &caddyotp.SendError{Code: "HTTP400"}
	a := fake(t, "a", refused, refused, refused)
	b := fake(t, "b")
	app := startApp(t)
	for i := 1; i <= 3; i++ {
		if res, err := send(t, app); err != nil || res.MessageID != fmt.Sprintf("b-%d", i) {
			t.Fatalf("send %d: expected b-%d, got %+v, %v", i, i, res, err)
		}
	}
	ac, _ := a.count()
	bc, _ := b.count()
	if ac != 2 || bc != 3 {
		t.Errorf("expected 2 attempts at a and 3 at b, got %d and %d", ac, bc)
	}
	want := "failovertest_fake failed 0.00, failovertest_fake#2 sent 0.04, " +
		"failovertest_fake failed 0.00, failovertest_fake#2 sent 0.04, failovertest_fake#2 sent 0.04"
	if got := ledger(t, app); got != want {
		t.Errorf("expected ledger %q, got %q", want, got)
	}
	checkSpent(t, app, 3*gbPrice)
}
