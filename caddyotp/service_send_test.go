package caddyotp_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddyotp/caddyotp/caddyotp"
)

// scriptedSender answers the n-th attempt with the n-th step of its script and records the
// texts it was given, so a test can read the code that went out.
type scriptedSender struct {
	steps []sendStep

	mu    sync.Mutex
	texts []string
}

// sendStep is one attempt's answer.
type sendStep struct {
	err  error // nil: the provider accepted the SMS
	hang bool  // no answer until the attempt's context is done, then err
}

// The answers a sender may give, in the SendError's words.
var (
	accepted      = sendStep{}
	throttled     = sendStep{err: &caddyotp.SendError{Code: "Throttled", Retryable: true}}
	invalid       = sendStep{err: &caddyotp.SendError{Code: "InvalidParameter"}}
	lostReply     = sendStep{err: &caddyotp.SendError{Code: "ConnectionError", Retryable: true, MaybeDelivered: true}}
	hangToTimeout = sendStep{err: &caddyotp.SendError{Code: "Timeout", Retryable: true, MaybeDelivered: true}, hang: true}
	// a sender that breaks the contract, in words that say nothing of delivery
	plainError = sendStep{err: errors.New("provider refused")}
)

func (s *scriptedSender) Send(ctx context.Context, msg caddyotp.SMS) (string, error) {
	s.mu.Lock()
	s.texts = append(s.texts, msg.Text)
	n := len(s.texts)
	s.mu.Unlock()
	if n > len(s.steps) {
		return "", &caddyotp.SendError{Code: "Unscripted", Err: fmt.Errorf("attempt %d is not in the script", n)}
	}
	step := s.steps[n-1]
	if step.hang {
		<-ctx.Done()
	}
	if step.err != nil {
		return "", step.err
	}
	return fmt.Sprintf("fake-%d", n), nil
}

func (s *scriptedSender) attempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.texts)
}

// code is the code that went out: the test template's message is the code alone.
func (s *scriptedSender) code() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.texts) == 0 {
		return ""
	}
	return s.texts[0]
}

// TestSendAttempts drives Send's attempt policy against a scripted sender and the memory
// store: how many attempts, which limits and budget reservations are taken and given back,
// what the ledger says, and whether a code and the resend interval are left behind.
func TestSendAttempts(t *testing.T) {
	tests := []struct {
		name        string
		steps       []sendStep
		budgetUSD   float64       // daily budget; 0 keeps the helper's
		mobileLimit int           // sends per hour for the mobile; 0 for no limit
		sendTimeout time.Duration // 0 keeps the app's default

		errCode   string // "" for a successful send
		causeCode string // the SendError code that send_failed carries
		attempts  int
		allows    int64    // limit takes
		reserves  int64    // budget reservations asked
		releases  int64    // budget reservations given back
		ledger    []string // "status price_usd error", oldest first
	}{
		{
			name: "first attempt ok", steps: []sendStep{accepted},
			attempts: 1, allows: 1, reserves: 1, releases: 0,
			ledger: []string{"sent 0.05"},
		},
		{
			name: "retryable refusal then ok", steps: []sendStep{throttled, accepted},
			attempts: 2, allows: 2, reserves: 2, releases: 1,
			ledger: []string{"failed 0.00 Throttled", "sent 0.05"},
		},
		{
			name: "permanent refusal", steps: []sendStep{invalid},
			errCode: caddyotp.CodeSendFailed, causeCode: "InvalidParameter",
			attempts: 1, allows: 1, reserves: 1, releases: 1,
			ledger: []string{"failed 0.00 InvalidParameter"},
		},
		{
			name: "two retryable refusals", steps: []sendStep{throttled, throttled},
			errCode: caddyotp.CodeSendFailed, causeCode: "Throttled",
			attempts: 2, allows: 2, reserves: 2, releases: 2,
			ledger: []string{"failed 0.00 Throttled", "failed 0.00 Throttled"},
		},
		{
			name: "lost reply then ok", steps: []sendStep{lostReply, accepted},
			attempts: 2, allows: 2, reserves: 2, releases: 0,
			ledger: []string{"unknown 0.05 ConnectionError", "sent 0.05"},
		},
		{
			name: "timeout at the deadline", steps: []sendStep{hangToTimeout, accepted},
			sendTimeout: 150 * time.Millisecond,
			errCode:     caddyotp.CodeSendFailed, causeCode: "Timeout",
			attempts: 1, allows: 1, reserves: 1, releases: 0,
			ledger: []string{"unknown 0.05 Timeout"},
		},
		{
			name: "budget refuses attempt 2", steps: []sendStep{lostReply, accepted},
			budgetUSD: 0.05, // one SMS
			errCode:   caddyotp.CodeSendFailed, causeCode: "ConnectionError",
			attempts: 1, allows: 2, reserves: 2, releases: 0,
			ledger: []string{"unknown 0.05 ConnectionError"},
		},
		{
			name: "limits refuse attempt 2", steps: []sendStep{throttled, accepted},
			mobileLimit: 1,
			errCode:     caddyotp.CodeSendFailed, causeCode: "Throttled",
			attempts: 1, allows: 2, reserves: 1, releases: 1,
			ledger: []string{"failed 0.00 Throttled"},
		},
		{
			name: "not a SendError", steps: []sendStep{plainError, accepted},
			errCode:  caddyotp.CodeSendFailed,
			attempts: 1, allows: 1, reserves: 1, releases: 0,
			ledger: []string{"unknown 0.05 error"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resend := caddy.Duration(time.Minute)
			tmpl := &caddyotp.Template{Message: "{code}", Resend: &resend}
			if tt.mobileLimit > 0 {
				tmpl.Limits = map[string]caddyotp.LimitConfig{caddyotp.LimitMobile: {Count: tt.mobileLimit, Window: caddy.Duration(time.Hour)}}
			}
			app, spy := newSpyApp(t, tmpl)
			sender := &scriptedSender{steps: tt.steps}
			app.SetSenderForTest(sender)
			if tt.budgetUSD > 0 {
				app.Budget = &caddyotp.Budget{Daily: tt.budgetUSD}
			}
			if tt.sendTimeout > 0 {
				app.SendTimeout = caddy.Duration(tt.sendTimeout)
			}
			login := app.Template("login")
			ctx := context.Background()
			const mobile = "+447400123456"

			res, err := app.Send(ctx, caddyotp.SendRequest{Template: login, Mobile: mobile, ClientIP: "192.0.2.1"})
			checkSendOutcome(t, res, err, tt.errCode, tt.causeCode, sender.attempts())

			if got := sender.attempts(); got != tt.attempts {
				t.Errorf("expected %d attempts, got %d", tt.attempts, got)
			}
			if got := spy.allows.Load(); got != tt.allows {
				t.Errorf("expected the limits taken %d times, got %d", tt.allows, got)
			}
			if got := spy.reserves.Load(); got != tt.reserves {
				t.Errorf("expected %d budget reservations, got %d", tt.reserves, got)
			}
			if got := spy.releases.Load(); got != tt.releases {
				t.Errorf("expected %d budget releases, got %d", tt.releases, got)
			}
			checkLedger(t, app, tt.ledger)

			// A successful send leaves a live code and holds the resend interval; a failed one
			// leaves neither, so the user may ask again at once.
			key := caddyotp.CodeKey{Template: "login", Mobile: mobile}
			d, err := app.StoreForTest().ClaimSend(ctx, key, login.LockGroupForTest(), "probe", time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if wantHeld, held := tt.errCode == "", !d.Allowed; held != wantHeld {
				t.Errorf("expected the resend interval held: %v, got held: %v", wantHeld, held)
			}
			_, err = app.Verify(ctx, caddyotp.VerifyRequest{Template: login, Mobile: mobile, Code: sender.code()})
			if tt.errCode == "" {
				if err != nil {
					t.Errorf("expected the code sent to verify, got %v", err)
				}
			} else if e, ok := err.(*caddyotp.Error); !ok || e.Code != caddyotp.CodeOTPExpired {
				t.Errorf("expected no live code (otp_expired), got %v", err)
			}
		})
	}
}

// checkSendOutcome checks Send's result: a message id from the last attempt, or the error
// code wanted carrying the SendError code of the last attempt made.
func checkSendOutcome(t *testing.T, res caddyotp.SendResult, err error, errCode, causeCode string, attempts int) {
	t.Helper()
	if errCode == "" {
		if want := fmt.Sprintf("fake-%d", attempts); err != nil || res.MessageID != want {
			t.Fatalf("expected message id %s, got %q, %v", want, res.MessageID, err)
		}
		return
	}
	var e *caddyotp.Error
	if !errors.As(err, &e) || e.Code != errCode {
		t.Fatalf("expected %s, got %v", errCode, err)
	}
	var se *caddyotp.SendError
	switch {
	case causeCode != "" && (!errors.As(err, &se) || se.Code != causeCode):
		t.Errorf("expected the cause %s, got %v", causeCode, err)
	case causeCode == "" && errors.As(err, &se):
		t.Errorf("expected a cause that is no *SendError, got %v", se)
	}
}

// checkLedger checks the login template's ledger, oldest entry first, each entry written
// "status price_usd error".
func checkLedger(t *testing.T, app *caddyotp.App, want []string) {
	t.Helper()
	entries, err := app.StoreForTest().RecentLedger(context.Background(), "login", 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		got = append(got, strings.TrimSpace(fmt.Sprintf("%s %.2f %s", e.Status, e.PriceUSD, e.Error)))
	}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("expected ledger [%s], got [%s]", strings.Join(want, ", "), strings.Join(got, ", "))
	}
}
