package caddyotp_test

import (
	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/internal/apptest"

	"testing"
)

// TestSendInBackground: a background send reports its outcome; once the app has stopped,
// none starts.
func TestSendInBackground(t *testing.T) {
	app := apptest.Start(t, &caddyotp.App{})
	done := make(chan error, 1)
	req := caddyotp.SendRequest{Template: app.Template(""), Mobile: "+447400123456"}
	if !app.SendInBackground(req, func(res caddyotp.SendResult, err error) {
		if err == nil && res.MessageID == "" {
			t.Error("expected a message id")
		}
		done <- err
	}) {
		t.Fatal("expected the send to start")
	}
	if err := <-done; err != nil {
		t.Fatalf("expected the send to work, got %v", err)
	}
	app.Stop()
	if app.SendInBackground(req, func(caddyotp.SendResult, error) { t.Error("expected no send after Stop") }) {
		t.Error("expected SendInBackground to refuse after Stop")
	}
}
