package twiliosender

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/internal/apptest"
	"github.com/caddyotp/caddyotp/internal/twiliodouble"
)

// TestTwilioSenderInTheApp runs the sender in the otp app: the template's sender id and
// ttl reach Twilio, Twilio's price is the ledger's billed price at once, and a refusal is
// a failed entry with Twilio's code.
func TestTwilioSenderInTheApp(t *testing.T) {
	d := twiliodouble.New(t)
	d.SetPrice("-0.00750", "USD")
	sender, err := json.Marshal(map[string]any{
		"sender": "twilio", "account_sid": twiliodouble.AccountSID, "api_key": twiliodouble.APIKey,
		"api_secret": twiliodouble.APISecret, "from": "+15005550006", "endpoint": d.URL(),
	})
	if err != nil {
		t.Fatal(err)
	}
	app := apptest.Start(t, &caddyotp.App{
		SenderRaw: sender,
		Templates: map[string]*caddyotp.Template{"login": {
			Message: "{code} is your Acme code", SenderID: "ACME", TTL: caddy.Duration(2 * time.Minute),
		}},
	})
	tmpl := app.Template("login")
	ctx := context.Background()
	res, err := app.Send(ctx, caddyotp.SendRequest{Template: tmpl, Mobile: "+447400123456", ClientIP: "192.0.2.1"})
	if err != nil {
		t.Fatalf("expected a send, got %v", err)
	}
	msgs := d.Messages()
	if len(msgs) != 1 || msgs[0].SID != res.MessageID || msgs[0].From != "ACME" || msgs[0].ValidityPeriod != 120 ||
		msgs[0].AuthUser != twiliodouble.APIKey {
		t.Fatalf("expected one message from ACME valid 120s, sid %s, got %+v", res.MessageID, msgs)
	}
	entries, err := app.RecentSMS(ctx, tmpl, 1)
	if err != nil || len(entries) != 1 {
		t.Fatalf("expected a ledger entry, got %+v (%v)", entries, err)
	}
	if e := entries[0]; e.MessageID != res.MessageID || e.Provider != "twilio" || e.Status != "sent" ||
		e.BilledUSD == nil || *e.BilledUSD != 0.0075 {
		t.Errorf("expected the sent entry billed 0.0075 USD by twilio, got %+v", e)
	}

	d.SetFault(twiliodouble.InvalidTo)
	_, err = app.Send(ctx, caddyotp.SendRequest{Template: tmpl, Mobile: "+12025550123", ClientIP: "192.0.2.2"})
	if err == nil {
		t.Fatal("expected the send refused")
	}
	entries, err = app.RecentSMS(ctx, tmpl, 1)
	if err != nil || len(entries) != 1 || entries[0].Status != "failed" || entries[0].Error != "21211" {
		t.Errorf("expected a failed entry with error 21211, got %+v (%v)", entries, err)
	}
	if d.Attempts() != 2 {
		t.Errorf("expected a definite failure tried once, got %d attempts in all", d.Attempts())
	}
}
