package caddyotp_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/caddyotp/caddyotp/caddyotp"
)

// fakeRouter is a Router over scripted senders, recording what the service told it.
type fakeRouter struct {
	routes []caddyotp.Route
	mu     sync.Mutex
	record []string // "provider ok|CODE"
}

func (f *fakeRouter) Send(context.Context, caddyotp.SMS) (string, error) {
	return "", &caddyotp.SendError{Code: "NotDriven", Err: fmt.Errorf("the service drives a Router through Routes")}
}
func (f *fakeRouter) Routes(time.Time) []caddyotp.Route { return f.routes }
func (f *fakeRouter) Record(provider string, err error, _ time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	outcome := "ok"
	if se, ok := err.(*caddyotp.SendError); ok {
		outcome = se.Code
	}
	f.record = append(f.record, provider+" "+outcome)
}

// TestSendFailover: with a Router the service makes one attempt per route in turn, each
// reserving the budget and ledgered under its route's provider; a definite failure moves
// on, one that may have been sent stops; the limits are taken once.
func TestSendFailover(t *testing.T) {
	tests := []struct {
		name        string
		first, next []sendStep
		errCode     string
		reserves    int64
		releases    int64
		ledger      []string // "provider status price_usd error", oldest first
		record      []string
	}{
		{
			name: "definite failure moves on", first: []sendStep{{err: &caddyotp.SendError{Code: "HTTP500", Retryable: true}}}, next: []sendStep{accepted},
			reserves: 2, releases: 1,
			ledger: []string{"a failed 0.00 HTTP500", "b sent 0.05"},
			record: []string{"a HTTP500", "b ok"},
		},
		{
			name: "maybe sent stops", first: []sendStep{lostReply}, next: []sendStep{accepted},
			errCode:  caddyotp.CodeSendFailed,
			reserves: 1, releases: 0,
			ledger: []string{"a unknown 0.05 ConnectionError"},
			record: []string{"a ConnectionError"},
		},
		{
			name: "every route fails", first: []sendStep{invalid}, next: []sendStep{throttled},
			errCode:  caddyotp.CodeSendFailed,
			reserves: 2, releases: 2,
			ledger: []string{"a failed 0.00 InvalidParameter", "b failed 0.00 Throttled"},
			record: []string{"a InvalidParameter", "b Throttled"},
		},
		{
			name: "first sends", first: []sendStep{accepted}, next: []sendStep{accepted},
			reserves: 1, releases: 0,
			ledger: []string{"a sent 0.05"},
			record: []string{"a ok"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resend := caddy.Duration(time.Minute)
			app, spy := newSpyApp(t, &caddyotp.Template{Message: "{code}", Resend: &resend})
			a, b := &scriptedSender{steps: tt.first}, &scriptedSender{steps: tt.next}
			router := &fakeRouter{routes: []caddyotp.Route{{Provider: "a", Sender: a}, {Provider: "b", Sender: b}}}
			app.SetSenderForTest(router)
			_, err := app.Send(context.Background(), caddyotp.SendRequest{Template: app.Template("login"), Mobile: "+447400123456"})
			if e, ok := err.(*caddyotp.Error); (tt.errCode == "" && err != nil) || (tt.errCode != "" && (!ok || e.Code != tt.errCode)) {
				t.Fatalf("expected error %q, got %v", tt.errCode, err)
			}
			if got := spy.allows.Load(); got != 1 {
				t.Errorf("expected the limits taken once, got %d", got)
			}
			if got := spy.reserves.Load(); got != tt.reserves {
				t.Errorf("expected %d budget reservations, got %d", tt.reserves, got)
			}
			if got := spy.releases.Load(); got != tt.releases {
				t.Errorf("expected %d budget releases, got %d", tt.releases, got)
			}
			entries, err := app.StoreForTest().RecentLedger(context.Background(), "login", 10)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for i := len(entries) - 1; i >= 0; i-- {
				e := entries[i]
				got = append(got, strings.TrimSpace(fmt.Sprintf("%s %s %.2f %s", e.Provider, e.Status, e.PriceUSD, e.Error)))
			}
			if strings.Join(got, ", ") != strings.Join(tt.ledger, ", ") {
				t.Errorf("expected ledger [%s], got [%s]", strings.Join(tt.ledger, ", "), strings.Join(got, ", "))
			}
			if strings.Join(router.record, ", ") != strings.Join(tt.record, ", ") {
				t.Errorf("expected the router told [%s], got [%s]", strings.Join(tt.record, ", "), strings.Join(router.record, ", "))
			}
			if n := metricValue(t, app, "a", "b"); n != float64(len(tt.ledger)) {
				t.Errorf("expected %d send attempts in the metric with providers a and b, got %v", len(tt.ledger), n)
			}
		})
	}
}

// metricValue sums caddy_otp_sms_sends_total over the series whose provider is one of providers.
func metricValue(t *testing.T, app *caddyotp.App, providers ...string) float64 {
	t.Helper()
	var sum float64
	for _, p := range providers {
		for _, outcome := range []string{"sent", "failed", "unknown"} {
			c, err := app.SendsMetricForTest().GetMetricWithLabelValues("login", "GB", outcome, p)
			if err != nil {
				t.Fatal(err)
			}
			sum += testutil.ToFloat64(c)
		}
	}
	return sum
}

// pricedSender answers with a price, as the http sender's price_field or Twilio do.
type pricedSender struct{ price float64 }

func (p *pricedSender) Send(ctx context.Context, msg caddyotp.SMS) (string, error) {
	r, err := p.SendPriced(ctx, msg)
	return r.MessageID, err
}
func (p *pricedSender) SendPriced(context.Context, caddyotp.SMS) (caddyotp.Receipt, error) {
	return caddyotp.Receipt{MessageID: "priced-1", BilledUSD: p.price, HasPrice: true}, nil
}

// TestSendPriced: a price in the provider's answer is the entry's billed price at once, the
// budget moves from the estimate to it, and the billed metric counts it.
func TestSendPriced(t *testing.T) {
	for _, billed := range []float64{0.0123, 0.0875} {
		t.Run(fmt.Sprint(billed), func(t *testing.T) {
			app, _ := newSpyApp(t, &caddyotp.Template{Message: "{code}"})
			app.SetSenderForTest(&pricedSender{price: billed})
			ctx := context.Background()
			if _, err := app.Send(ctx, caddyotp.SendRequest{Template: app.Template("login"), Mobile: "+447400123456"}); err != nil {
				t.Fatal(err)
			}
			entries, err := app.StoreForTest().RecentLedger(ctx, "login", 1)
			if err != nil || len(entries) != 1 {
				t.Fatalf("expected one entry, got %v (%v)", entries, err)
			}
			e := entries[0]
			if e.BilledUSD == nil || *e.BilledUSD != billed || e.PriceUSD != 0.05 || e.Status != "sent" || e.ReportedAt != nil {
				t.Errorf("expected sent, estimate 0.05, billed %v and no report, got %+v", billed, e)
			}
			day, _, err := app.StoreForTest().BudgetSpent(ctx, time.Now())
			if err != nil || day != caddyotp.ToMicroUSD(billed) {
				t.Errorf("expected the day's spend %d µUSD (the billed price), got %d (%v)", caddyotp.ToMicroUSD(billed), day, err)
			}
			c, _ := app.BilledMetricForTest().GetMetricWithLabelValues("login", "GB")
			if got := testutil.ToFloat64(c); got != billed {
				t.Errorf("expected billed metric %v, got %v", billed, got)
			}
		})
	}
}

// TestSendNoRoute: a Router that offers no sender fails the send before the budget.
func TestSendNoRoute(t *testing.T) {
	app, spy := newSpyApp(t, &caddyotp.Template{Message: "{code}"})
	app.SetSenderForTest(&fakeRouter{})
	_, err := app.Send(context.Background(), caddyotp.SendRequest{Template: app.Template("login"), Mobile: "+447400123456"})
	if e, ok := err.(*caddyotp.Error); !ok || e.Code != caddyotp.CodeSendFailed {
		t.Fatalf("expected send_failed, got %v", err)
	}
	if got := spy.reserves.Load(); got != 0 {
		t.Errorf("expected no budget reservation, got %d", got)
	}
}
