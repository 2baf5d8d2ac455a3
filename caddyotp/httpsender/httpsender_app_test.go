package httpsender_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/internal/apptest"
)

// TestHTTPSenderInTheApp runs the sender in the otp app, loaded by name from JSON: the
// template's sender id reaches the receiver, and the ledger has the provider's message id
// and its price as billed at once; a 400 is a send_failed with nothing billed.
func TestHTTPSenderInTheApp(t *testing.T) {
	var r *receiver
	r = newReceiver(t, func(w http.ResponseWriter, req *http.Request) {
		got := r.received()
		if req.Header.Get("Authorization") != "Bearer tok-app" || bytes.Contains(got[len(got)-1].Body, []byte(refused)) {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		answering(http.StatusAccepted, `{"result":{"id":"prov-77","cost":"0.0123"}}`)(w, req)
	})
	t.Setenv("OTP_TEST_APP_TOKEN", "tok-app")
	sender, err := json.Marshal(map[string]any{
		"sender": "http", "url": r.URL, "headers": map[string][]string{"Authorization": {"Bearer {env.OTP_TEST_APP_TOKEN}"}},
		"message_id_field": "/result/id", "price_field": "/result/cost",
	})
	if err != nil {
		t.Fatal(err)
	}
	app := apptest.Start(t, &caddyotp.App{
		SenderRaw: sender,
		Templates: map[string]*caddyotp.Template{"login": {Message: "{code} is your Acme code", SenderID: "ACME"}},
	})
	tmpl := app.Template("login")
	res, err := app.Send(context.Background(), caddyotp.SendRequest{Template: tmpl, Mobile: "+447400123456", ClientIP: "192.0.2.1"})
	if err != nil || res.MessageID != "prov-77" {
		t.Fatalf("expected the provider's message id, got %+v (%v)", res, err)
	}
	got := r.received()
	if len(got) != 1 || decodeBody(t, "json", got[0].Body)["sender_id"] != "ACME" {
		t.Fatalf("expected one request with the template's sender id, got %+v", got)
	}
	entries, err := app.RecentSMS(context.Background(), tmpl, 1)
	if err != nil || len(entries) != 1 {
		t.Fatalf("expected one ledger entry, got %+v (%v)", entries, err)
	}
	e := entries[0]
	if e.Provider != "http" || e.MessageID != "prov-77" || e.Status != "sent" || e.BilledUSD == nil || *e.BilledUSD != 0.0123 {
		t.Errorf("expected http, prov-77, sent, billed 0.0123, got %+v (billed %v)", e, e.BilledUSD)
	}

	_, err = app.Send(context.Background(), caddyotp.SendRequest{Template: tmpl, Mobile: refused, ClientIP: "192.0.2.1"})
	var ce *caddyotp.Error
	if !errors.As(err, &ce) || ce.Code != caddyotp.CodeSendFailed {
		t.Fatalf("expected send_failed, got %v", err)
	}
	entries, err = app.RecentSMS(context.Background(), tmpl, 1)
	if err != nil || len(entries) != 1 {
		t.Fatalf("expected a ledger entry, got %+v (%v)", entries, err)
	}
	if e := entries[0]; e.Status != "failed" || e.Error != "HTTP400" || e.PriceUSD != 0 || e.BilledUSD != nil {
		t.Errorf("expected a failed HTTP400 entry with nothing billed, got %+v", e)
	}
	if n := len(r.received()); n != 2 {
		t.Errorf("expected one attempt at the refused mobile (a 400 is definite), got %d requests in all", n)
	}
}

// refused is the mobile the receiver answers 400 for.
const refused = "+12025550123"
