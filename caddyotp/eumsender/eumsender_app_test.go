package eumsender

import (
	"context"
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/internal/apptest"
	"github.com/caddyotp/caddyotp/internal/awsdouble"
	"github.com/caddyotp/caddyotp/internal/eumdouble"
)

// TestEUMSenderInTheApp runs the sender in the otp app: the template's settings reach
// SendTextMessage, and a verified code is told to AWS with PutMessageFeedback.
func TestEUMSenderInTheApp(t *testing.T) {
	d := eumdouble.New(t)
	awsdouble.OfflineAWS(t)
	sender, err := json.Marshal(map[string]any{
		"sender": "eum", "region": "eu-west-2", "endpoint": d.URL(),
		"configuration_set": "otp", "feedback": true,
	})
	if err != nil {
		t.Fatal(err)
	}
	app := apptest.Start(t, &caddyotp.App{
		SenderRaw: sender,
		Templates: map[string]*caddyotp.Template{"login": {
			Message: "{code} is your Acme code", SenderID: "ACME", MaxPrice: 0.05, TTL: caddy.Duration(2 * time.Minute),
		}},
	})
	tmpl := app.Template("login")
	res, err := app.Send(context.Background(), caddyotp.SendRequest{Template: tmpl, Mobile: "+447400123456", ClientIP: "192.0.2.1"})
	if err != nil {
		t.Fatalf("expected a send, got %v", err)
	}
	msgs := d.Messages()
	if len(msgs) != 1 {
		t.Fatalf("expected 1 message, got %d", len(msgs))
	}
	m := msgs[0]
	if m.MessageID != res.MessageID || m.OriginationIdentity != "ACME" || m.MaxPrice != "0.05" || m.TimeToLive != 120 ||
		m.Context["template"] != "login" || m.ConfigurationSetName != "otp" || !m.MessageFeedbackEnabled || m.MessageType != "TRANSACTIONAL" {
		t.Errorf("expected the template's settings in the request, got %+v (message id %s)", m, res.MessageID)
	}
	code := regexp.MustCompile(`^[0-9]{6}`).FindString(m.MessageBody)
	if code == "" {
		t.Fatalf("expected the code at the start of %q", m.MessageBody)
	}
	if _, err := app.Verify(context.Background(), caddyotp.VerifyRequest{Template: tmpl, Mobile: "+447400123456", Code: code}); err != nil {
		t.Fatalf("expected the code verified, got %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(d.Feedback()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	fb := d.Feedback()
	if len(fb) != 1 || fb[0].MessageID != res.MessageID || fb[0].Status != "RECEIVED" {
		t.Errorf("expected one RECEIVED feedback for %s, got %+v", res.MessageID, fb)
	}
}
