package sendertest_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/internal/apptest"
)

// A sender written outside this module looks like this one: a Caddy module in the
// otp.senders namespace that implements caddyotp.Sender, using nothing but the host's
// exported API. It registers itself in its own init, as every guest does; the app finds it
// by name (`sender example` in the Caddyfile, {"sender":"example"} in JSON).
func init() {
	caddy.RegisterModule(new(exampleSender))
}

// exampleSender keeps what it is asked to send, and fails an SMS to one number the way a
// provider answers an error: definitely, so nothing was billed.
type exampleSender struct {
	mu   sync.Mutex
	sent []caddyotp.SMS
}

func (*exampleSender) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "otp.senders.example", New: func() caddy.Module { return sharedExample }}
}

// sharedExample is the instance every load of the module gets, so that the test sees what
// the app's sender was asked.
var sharedExample = new(exampleSender)

const refusedMobile = "+12025550123"

func (s *exampleSender) Send(ctx context.Context, msg caddyotp.SMS) (string, error) {
	if msg.To == refusedMobile {
		return "", &caddyotp.SendError{Code: "Refused", Retryable: false, MaybeDelivered: false}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, msg)
	return "example-1", nil
}

var _ caddyotp.Sender = (*exampleSender)(nil)

// TestExampleSender runs the app with the outside sender: a send reaches it with the
// template's text, its message id comes back, and its definite failure is the API's
// send_failed.
func TestExampleSender(t *testing.T) {
	app := apptest.Start(t, &caddyotp.App{
		SenderRaw: json.RawMessage(`{"sender":"example"}`),
		Templates: map[string]*caddyotp.Template{"login": {Message: "Your code is {code}"}},
	})
	res, err := app.Send(context.Background(), caddyotp.SendRequest{Template: app.Template("login"), Mobile: "+447400123456", ClientIP: "192.0.2.1"})
	if err != nil || res.MessageID != "example-1" {
		t.Fatalf("expected the example sender's message id, got %+v, %v", res, err)
	}
	sharedExample.mu.Lock()
	sent := append([]caddyotp.SMS(nil), sharedExample.sent...)
	sharedExample.mu.Unlock()
	if len(sent) != 1 || sent[0].To != "+447400123456" || !strings.HasPrefix(sent[0].Text, "Your code is ") {
		t.Fatalf("expected one SMS to +447400123456 with the template's text, got %+v", sent)
	}

	_, err = app.Send(context.Background(), caddyotp.SendRequest{Template: app.Template("login"), Mobile: refusedMobile, ClientIP: "192.0.2.1"})
	var e *caddyotp.Error
	if !errors.As(err, &e) || e.Code != caddyotp.CodeSendFailed {
		t.Fatalf("expected send_failed for the refused mobile, got %v", err)
	}
}
