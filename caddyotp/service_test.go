package caddyotp_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/internal/apptest"
	"github.com/caddyotp/caddyotp/caddyotp/internal/phone"
)

// checkCounter counts the store's code checks.
type checkCounter struct {
	caddyotp.Store
	checks atomic.Int64
}

func (s *checkCounter) CheckCode(ctx context.Context, k caddyotp.CodeKey, lockGroup string, hash []byte, policy caddyotp.LockPolicy) (caddyotp.CheckResult, error) {
	s.checks.Add(1)
	return s.Store.CheckCode(ctx, k, lockGroup, hash, policy)
}

// FuzzVerifyInput drives Verify with any mobile and code: a mobile that is not E.164 is
// invalid_mobile and a code that is not exactly the template's length in ASCII digits is
// invalid_otp, both before the store is touched; a well-formed pair costs exactly one
// store check.
func FuzzVerifyInput(f *testing.F) {
	app := apptest.Start(f, apptest.LogApp(nil))
	counter := &checkCounter{Store: app.StoreForTest()}
	app.SetStoreForTest(counter)
	t := app.Template(caddyotp.DefaultTemplate)
	for _, s := range [][2]string{
		{"+447400123456", "123456"}, {"+447400123456", "000000"}, {"+447400123456", "12345"},
		{"+447400123456", "1234567"}, {"+447400123456", " 123456"}, {"+447400123456", "12345 "},
		{"+447400123456", "+12345"}, {"+447400123456", "-12345"}, {"+447400123456", "１２３４５６"},
		{"+447400123456", "١٢٣٤٥٦"}, {"+447400123456", "12345\x00"}, {"+447400123456", ""},
		{"447400123456", "123456"}, {"+٤٤7400123456", "123456"}, {"+44 7400 123456", "123456"},
		{"+4474001234567890", "123456"}, {"+447400123456;ext=1", "123456"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(tt *testing.T, mobile, code string) {
		before := counter.checks.Load()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := app.Verify(ctx, caddyotp.VerifyRequest{Template: t, Mobile: mobile, Code: code})
		var e *caddyotp.Error
		if !errors.As(err, &e) {
			tt.Fatalf("Verify(%q, %q): expected an *Error, got %v", mobile, code, err)
		}
		checked := counter.checks.Load() - before
		wellFormed := len(code) == t.Length
		for i := 0; i < len(code); i++ {
			wellFormed = wellFormed && '0' <= code[i] && code[i] <= '9'
		}
		_, perr := phone.Parse(mobile)
		switch {
		case perr != nil:
			if e.Code != caddyotp.CodeInvalidMobile || checked != 0 {
				tt.Fatalf("Verify(%q, %q): expected invalid_mobile without a store check, got %s after %d", mobile, code, e.Code, checked)
			}
		case !wellFormed:
			if e.Code != caddyotp.CodeInvalidOTP || checked != 0 {
				tt.Fatalf("Verify(%q, %q): expected invalid_otp without a store check, got %s after %d", mobile, code, e.Code, checked)
			}
		default:
			if e.Code == caddyotp.CodeInvalidOTP || e.Code == caddyotp.CodeInvalidMobile || checked != 1 {
				tt.Fatalf("Verify(%q, %q): expected one store check, got %s after %d", mobile, code, e.Code, checked)
			}
		}
	})
}

// storeSpy counts the store steps of a send: the codes it stores, the limits it takes,
// the budget it reserves and gives back, the ledger entries it writes. It is also a sender
// that accepts every SMS, for the Decoy tests, which must not reach the provider.
type storeSpy struct {
	caddyotp.Store
	puts, allows, reserves, releases, ledger atomic.Int64
	sms                                      atomic.Int64
}

func (s *storeSpy) Allow(ctx context.Context, template string, takes []caddyotp.LimitTake) (caddyotp.Decision, error) {
	s.allows.Add(1)
	return s.Store.Allow(ctx, template, takes)
}

func (s *storeSpy) PutCode(ctx context.Context, k caddyotp.CodeKey, hash []byte, attempts int, ttl time.Duration) error {
	s.puts.Add(1)
	return s.Store.PutCode(ctx, k, hash, attempts, ttl)
}

func (s *storeSpy) ReserveBudget(ctx context.Context, at time.Time, microUSD int64, caps caddyotp.BudgetCaps) (caddyotp.Decision, error) {
	s.reserves.Add(1)
	return s.Store.ReserveBudget(ctx, at, microUSD, caps)
}

func (s *storeSpy) ReleaseBudget(ctx context.Context, at time.Time, microUSD int64) error {
	s.releases.Add(1)
	return s.Store.ReleaseBudget(ctx, at, microUSD)
}

func (s *storeSpy) AppendLedger(ctx context.Context, e caddyotp.LedgerEntry) error {
	s.ledger.Add(1)
	return s.Store.AppendLedger(ctx, e)
}

func (s *storeSpy) Send(context.Context, caddyotp.SMS) (string, error) {
	s.sms.Add(1)
	return "spy-1", nil
}

// newSpyApp provisions an app (memory store) with the template login and the spy as its
// store's wrapper and its sender.
func newSpyApp(t *testing.T, login *caddyotp.Template) (*caddyotp.App, *storeSpy) {
	t.Helper()
	app := apptest.LogApp(map[string]*caddyotp.Template{"login": login})
	app.Budget = &caddyotp.Budget{Daily: 10}
	apptest.Provision(t, app)
	spy := &storeSpy{Store: app.StoreForTest()}
	app.SetStoreForTest(spy)
	app.SetSenderForTest(spy)
	return app, spy
}

// sendSeries is how many caddy_otp_sms_sends_total series exist.
func sendSeries(app *caddyotp.App) int {
	ch := make(chan prometheus.Metric, 16)
	app.SendsMetricForTest().Collect(ch)
	close(ch)
	return len(ch)
}

// TestSendDecoy: a Decoy send stores a code nobody can match and takes the resend interval
// and the limits like a real send, without calling the provider, reserving budget, writing
// the ledger or counting an SMS.
func TestSendDecoy(t *testing.T) {
	resend := caddy.Duration(time.Minute)
	app, spy := newSpyApp(t, &caddyotp.Template{Resend: &resend, Limits: map[string]caddyotp.LimitConfig{caddyotp.LimitMobile: {Count: 2, Window: caddy.Duration(time.Hour)}}})
	tmpl := app.Template("login")
	ctx := context.Background()
	const mobile = "+447400123456"

	res, err := app.Send(ctx, caddyotp.SendRequest{Template: tmpl, Mobile: mobile, ClientIP: "192.0.2.1", Decoy: true})
	if err != nil || res.Mobile != mobile || res.MessageID != "" {
		t.Fatalf("expected a decoy send without a message id, got %+v, %v", res, err)
	}
	if spy.sms.Load() != 0 || spy.ledger.Load() != 0 {
		t.Errorf("expected no provider call or ledger entry, got %d, %d", spy.sms.Load(), spy.ledger.Load())
	}
	if spy.reserves.Load() != 1 || spy.releases.Load() != 1 {
		t.Errorf("expected the budget asked once and given back, got %d reservations and %d releases",
			spy.reserves.Load(), spy.releases.Load())
	}
	if spy.puts.Load() != 1 {
		t.Errorf("expected one stored code, got %d", spy.puts.Load())
	}
	if n := sendSeries(app); n != 0 {
		t.Errorf("expected no caddy_otp_sms_sends_total series, got %d", n)
	}
	if entries, err := app.StoreForTest().RecentLedger(ctx, "login", 10); err != nil || len(entries) != 0 {
		t.Errorf("expected an empty ledger, got %+v, %v", entries, err)
	}

	// The code is live: a wrong code counts down as for a real one, and no code of the
	// template's shape is the right one.
	for _, code := range []string{"000000", "123456", "999999"} {
		_, err := app.Verify(ctx, caddyotp.VerifyRequest{Template: tmpl, Mobile: mobile, Code: code})
		var e *caddyotp.Error
		if !errors.As(err, &e) || e.Code != caddyotp.CodeOTPIncorrect {
			t.Fatalf("code %s: expected otp_incorrect, got %v", code, err)
		}
	}

	// The resend interval was claimed.
	_, err = app.Send(ctx, caddyotp.SendRequest{Template: tmpl, Mobile: mobile, Decoy: true})
	if e, ok := err.(*caddyotp.Error); !ok || e.Code != caddyotp.CodeResendTooSoon {
		t.Errorf("expected resend_too_soon for a second decoy send, got %v", err)
	}
	// The mobile limit was taken: one more send fits, a decoy or not, then none.
	*tmpl.Resend = 0
	if _, err := app.Send(ctx, caddyotp.SendRequest{Template: tmpl, Mobile: mobile}); err != nil {
		t.Fatalf("expected the second send within the limit, got %v", err)
	}
	_, err = app.Send(ctx, caddyotp.SendRequest{Template: tmpl, Mobile: mobile, Decoy: true})
	if e, ok := err.(*caddyotp.Error); !ok || e.Code != caddyotp.CodeRateLimited {
		t.Errorf("expected rate_limited for a third send, got %v", err)
	}
	if spy.sms.Load() != 1 || spy.ledger.Load() != 1 {
		t.Errorf("expected the one real send to reach the provider and the ledger, got %d and %d", spy.sms.Load(), spy.ledger.Load())
	}
}

// TestSendDecoyNotAllowedCountry: a decoy is refused for a country the template refuses,
// as a real send is, and stores nothing.
func TestSendDecoyNotAllowedCountry(t *testing.T) {
	app, spy := newSpyApp(t, &caddyotp.Template{Countries: []string{"US"}})
	_, err := app.Send(context.Background(), caddyotp.SendRequest{Template: app.Template("login"), Mobile: "+447400123456", Decoy: true})
	if e, ok := err.(*caddyotp.Error); !ok || e.Code != caddyotp.CodeCountryNotAllowed {
		t.Errorf("expected country_not_allowed, got %v", err)
	}
	if spy.puts.Load() != 0 {
		t.Errorf("expected no stored code, got %d", spy.puts.Load())
	}
}

// TestSendDecoySpentBudget: with the budget spent, a decoy is refused with budget_exhausted
// and leaves no code, as a real send does, so a spent budget does not tell a refused mobile
// from an allowed one.
func TestSendDecoySpentBudget(t *testing.T) {
	resend := caddy.Duration(0)
	app, spy := newSpyApp(t, &caddyotp.Template{Resend: &resend})
	app.Budget = &caddyotp.Budget{Daily: 0.01} // less than one SMS
	tmpl := app.Template("login")
	ctx := context.Background()
	for _, tc := range []struct {
		mobile string
		decoy  bool
	}{{"+447400123456", false}, {"+447400123457", true}} {
		_, err := app.Send(ctx, caddyotp.SendRequest{Template: tmpl, Mobile: tc.mobile, Decoy: tc.decoy})
		if e, ok := err.(*caddyotp.Error); !ok || e.Code != caddyotp.CodeBudgetExhausted {
			t.Fatalf("decoy %v: expected budget_exhausted, got %v", tc.decoy, err)
		}
		_, err = app.Verify(ctx, caddyotp.VerifyRequest{Template: tmpl, Mobile: tc.mobile, Code: "123456"})
		if e, ok := err.(*caddyotp.Error); !ok || e.Code != caddyotp.CodeOTPExpired {
			t.Errorf("decoy %v: expected no live code (otp_expired), got %v", tc.decoy, err)
		}
	}
	if spy.sms.Load() != 0 {
		t.Errorf("expected no provider call, got %d", spy.sms.Load())
	}
}
