package caddyotp_test

import (
	"context"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/internal/apptest"
)

// TestAppRevokeSession: the memory store's feed turns healthy, and a revoked session fails
// CheckSession at once on this instance.
func TestAppRevokeSession(t *testing.T) {
	app := apptest.Start(t, &caddyotp.App{})
	for deadline := time.Now().Add(2 * time.Second); !app.SessionsHealthy(context.Background()); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("expected the revocation feed to turn healthy within 2s")
		}
	}
	now := time.Now()
	tok, s, err := app.MintSession("default", "", "+447400123456", now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.CheckSession(tok, "default", now, 30*time.Minute, 8*time.Hour); err != nil {
		t.Fatalf("expected a valid session, got %v", err)
	}
	if _, err := app.CheckSession(tok, "other", now, 30*time.Minute, 8*time.Hour); err == nil {
		t.Error("expected the session to be no good for another realm")
	}
	if err := app.RevokeSession(context.Background(), s); err != nil {
		t.Fatalf("expected the revocation to work, got %v", err)
	}
	if _, err := app.CheckSession(tok, "default", now, 30*time.Minute, 8*time.Hour); err == nil {
		t.Error("expected the revoked session to fail")
	}
}

// TestAppChallenge: a sealed challenge opens for its realm only.
func TestAppChallenge(t *testing.T) {
	app := apptest.Start(t, &caddyotp.App{})
	now := time.Now()
	c := app.NewChallenge("default", now)
	c.Mobile = "+447400123456"
	tok, err := app.SealChallenge(c)
	if err != nil {
		t.Fatal(err)
	}
	got, err := app.OpenChallenge(tok, "default", now)
	if err != nil || got.Mobile != c.Mobile || got.ID != c.ID {
		t.Errorf("expected the challenge back, got %+v (%v)", got, err)
	}
	if _, err := app.OpenChallenge(tok, "other", now); err == nil {
		t.Error("expected the challenge to be no good for another realm")
	}
}
