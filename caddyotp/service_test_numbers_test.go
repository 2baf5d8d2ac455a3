package caddyotp_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddyotp/caddyotp/caddyotp"
)

const (
	testMobile = "+447400000001"
	testCode   = "246810"
)

// testNumberTemplate is a template with one test number, a mobile limit of 5 an hour and
// no resend interval, so that a test can send until the limit refuses.
func testNumberTemplate() *caddyotp.Template {
	resend := caddy.Duration(0)
	return &caddyotp.Template{Message: "{code}", Resend: &resend,
		TestNumbers: map[string]string{testMobile: testCode},
		Limits:      map[string]caddyotp.LimitConfig{caddyotp.LimitMobile: {Count: 5, Window: caddy.Duration(time.Hour)}}}
}

// TestSendTestNumber: a send to a test number takes the limits like any other (the sixth
// under 5/1h is refused), stores its fixed code, calls no sender, reserves no budget and
// is ledgered as "test" at 0 USD from provider "test"; its code verifies, uncounted in
// the daily counts.
func TestSendTestNumber(t *testing.T) {
	app, spy := newSpyApp(t, testNumberTemplate())
	login := app.Template("login")
	ctx := context.Background()

	for i := 1; i <= 5; i++ {
		res, err := app.Send(ctx, caddyotp.SendRequest{Template: login, Mobile: testMobile, ClientIP: "192.0.2.1"})
		if err != nil {
			t.Fatalf("send %d: expected it to pass, got %v", i, err)
		}
		if !strings.HasPrefix(res.MessageID, "test-") || res.Mobile != testMobile || res.ExpiresIn != 5*time.Minute {
			t.Errorf("send %d: expected a test- message id, the mobile and 5m, got %+v", i, res)
		}
	}
	_, err := app.Send(ctx, caddyotp.SendRequest{Template: login, Mobile: testMobile, ClientIP: "192.0.2.1"})
	var e *caddyotp.Error
	if !errors.As(err, &e) || e.Code != caddyotp.CodeRateLimited {
		t.Fatalf("send 6: expected rate_limited under 5/1h, got %v", err)
	}
	if got := spy.allows.Load(); got != 6 {
		t.Errorf("expected the limits taken 6 times, got %d", got)
	}
	if spy.sms.Load() != 0 || spy.reserves.Load() != 0 || spy.releases.Load() != 0 {
		t.Errorf("expected no sender call and no budget, got %d SMS, %d reservations, %d releases",
			spy.sms.Load(), spy.reserves.Load(), spy.releases.Load())
	}
	if got := spy.puts.Load(); got != 5 {
		t.Errorf("expected 5 codes stored, got %d", got)
	}
	checkLedger(t, app, []string{"test 0.00", "test 0.00", "test 0.00", "test 0.00", "test 0.00"})
	entries, err := app.RecentSMS(ctx, login, 1)
	if err != nil {
		t.Fatal(err)
	}
	if e := entries[0]; e.Provider != "test" || !strings.HasPrefix(e.MessageID, "test-") || e.Mobile != "+44•••••••001" ||
		e.Country != "GB" || e.Parts != 1 {
		t.Errorf("expected a test entry from provider test, masked, GB, 1 part, got %+v", e)
	}
	if got := sendSeries(app); got != 0 {
		t.Errorf("expected no caddy_otp_sms_sends_total series (no SMS left), got %d", got)
	}

	if _, err := app.Verify(ctx, caddyotp.VerifyRequest{Template: login, Mobile: testMobile, Code: "135791"}); !errors.As(err, &e) || e.Code != caddyotp.CodeOTPIncorrect {
		t.Errorf("expected a wrong code to be otp_incorrect, got %v", err)
	}
	mobile, err := app.Verify(ctx, caddyotp.VerifyRequest{Template: login, Mobile: testMobile, Code: testCode})
	if err != nil || mobile != testMobile {
		t.Fatalf("expected the fixed code to verify, got %q, %v", mobile, err)
	}
	if _, err := app.Verify(ctx, caddyotp.VerifyRequest{Template: login, Mobile: testMobile, Code: testCode}); !errors.As(err, &e) || e.Code != caddyotp.CodeOTPExpired {
		t.Errorf("expected the fixed code to be good once per send (otp_expired after), got %v", err)
	}

	st, err := app.Stats(ctx, login, 1)
	if err != nil {
		t.Fatal(err)
	}
	if d := st.Days[0]; d.Sent != 0 || d.Verified != 0 || d.EstimatedUSD != 0 {
		t.Errorf("expected test sends and their codes not counted, got %+v", d)
	}
}

// TestSendTestNumberBeside: another mobile of the same template is sent as usual, with a
// generated code, through the sender and the budget.
func TestSendTestNumberBeside(t *testing.T) {
	app, spy := newSpyApp(t, testNumberTemplate())
	login := app.Template("login")
	sender := &scriptedSender{steps: []sendStep{accepted}}
	app.SetSenderForTest(sender)
	ctx := context.Background()

	if _, err := app.Send(ctx, caddyotp.SendRequest{Template: login, Mobile: "+447400123456"}); err != nil {
		t.Fatal(err)
	}
	if sender.attempts() != 1 || spy.reserves.Load() != 1 {
		t.Errorf("expected one SMS and one budget reservation, got %d and %d", sender.attempts(), spy.reserves.Load())
	}
	if sender.code() == testCode {
		t.Errorf("expected a generated code, got the test number's")
	}
	if _, err := app.Verify(ctx, caddyotp.VerifyRequest{Template: login, Mobile: "+447400123456", Code: sender.code()}); err != nil {
		t.Errorf("expected the code sent to verify, got %v", err)
	}
	checkLedger(t, app, []string{"sent 0.05"})
}

// TestSendTestNumberDecoy: a Decoy send to a test number is a decoy: no ledger entry, and
// the fixed code does not verify.
func TestSendTestNumberDecoy(t *testing.T) {
	app, spy := newSpyApp(t, testNumberTemplate())
	login := app.Template("login")
	ctx := context.Background()

	res, err := app.Send(ctx, caddyotp.SendRequest{Template: login, Mobile: testMobile, Decoy: true})
	if err != nil || res.MessageID != "" {
		t.Fatalf("expected a decoy send without a message id, got %+v, %v", res, err)
	}
	if spy.ledger.Load() != 0 || spy.sms.Load() != 0 {
		t.Errorf("expected no ledger entry and no SMS, got %d, %d", spy.ledger.Load(), spy.sms.Load())
	}
	if spy.reserves.Load() != 1 || spy.releases.Load() != 1 {
		t.Errorf("expected the decoy's budget check (asked and given back), got %d, %d", spy.reserves.Load(), spy.releases.Load())
	}
	var e *caddyotp.Error
	if _, err := app.Verify(ctx, caddyotp.VerifyRequest{Template: login, Mobile: testMobile, Code: testCode}); !errors.As(err, &e) || e.Code != caddyotp.CodeOTPIncorrect {
		t.Errorf("expected the fixed code to fail against a decoy, got %v", err)
	}
}

// TestSendTestNumberCountry: a test number outside the template's countries is refused
// like any other number.
func TestSendTestNumberCountry(t *testing.T) {
	tmpl := testNumberTemplate()
	tmpl.Countries = []string{"US"}
	app, spy := newSpyApp(t, tmpl)
	_, err := app.Send(context.Background(), caddyotp.SendRequest{Template: app.Template("login"), Mobile: testMobile})
	var e *caddyotp.Error
	if !errors.As(err, &e) || e.Code != caddyotp.CodeCountryNotAllowed {
		t.Fatalf("expected country_not_allowed, got %v", err)
	}
	if spy.puts.Load() != 0 || spy.ledger.Load() != 0 {
		t.Errorf("expected no code and no ledger entry, got %d, %d", spy.puts.Load(), spy.ledger.Load())
	}
}

// TestSendLocale: SendRequest.Locale picks the template's message of that language, with
// region fallback, and the plain message for an unknown language or none.
func TestSendLocale(t *testing.T) {
	resend := caddy.Duration(0)
	tmpl := &caddyotp.Template{Message: "en {code}", Resend: &resend,
		Messages: map[string]string{"fr": "fr {code}", "pt": "pt {code}"}}
	app, _ := newSpyApp(t, tmpl)
	login := app.Template("login")
	for _, tt := range []struct{ locale, prefix string }{
		{"fr", "fr "}, {"pt-BR", "pt "}, {"ja", "en "}, {"", "en "}, {"??", "en "},
	} {
		sender := &scriptedSender{steps: []sendStep{accepted}}
		app.SetSenderForTest(sender)
		if _, err := app.Send(context.Background(), caddyotp.SendRequest{Template: login, Mobile: "+447400123456", Locale: tt.locale}); err != nil {
			t.Fatalf("locale %q: %v", tt.locale, err)
		}
		if text := sender.code(); !strings.HasPrefix(text, tt.prefix) {
			t.Errorf("locale %q: expected a text starting %q, got %q", tt.locale, tt.prefix, text)
		}
	}
}
