package caddyotp_test

import (
	"context"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/internal/apptest"
)

func healthyApp(t *testing.T) *caddyotp.App {
	t.Helper()
	app := apptest.Start(t, &caddyotp.App{})
	for deadline := time.Now().Add(2 * time.Second); !app.SessionsHealthy(context.Background()); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("expected the revocation feed to turn healthy within 2s")
		}
	}
	return app
}

// TestAppRememberDevice: a remembered device opens for its realm only, until it expires,
// is on record until forgotten, and renews a session that no step-up accepts.
func TestAppRememberDevice(t *testing.T) {
	app := healthyApp(t)
	ctx := context.Background()
	now := time.Now()
	tok, d, err := app.RememberDevice(ctx, "default", "", "+447400123456", now, 24*time.Hour)
	if err != nil {
		t.Fatalf("RememberDevice: expected no error, got %v", err)
	}
	got, err := app.OpenDevice(tok, "default", now)
	if err != nil || got != d {
		t.Fatalf("expected the device back, got %+v (%v)", got, err)
	}
	if _, err := app.OpenDevice(tok, "other", now); err == nil {
		t.Error("expected the device to be no good for another realm")
	}
	if _, err := app.OpenDevice(tok, "default", now.Add(24*time.Hour)); err == nil {
		t.Error("expected the device to be no good once expired")
	}
	if on, err := app.DeviceOnRecord(ctx, d, now); err != nil || !on {
		t.Fatalf("expected the device on record, got %v (%v)", on, err)
	}
	_, s, err := app.RenewSession(d, now, time.Hour)
	if err != nil || s.Verified != 0 || s.Mobile != d.Mobile || s.Realm != "default" {
		t.Fatalf("expected a renewed session with no verification time, got %+v (%v)", s, err)
	}
	if err := app.ForgetDevice(ctx, d); err != nil {
		t.Fatal(err)
	}
	if on, _ := app.DeviceOnRecord(ctx, d, now); on {
		t.Error("expected a forgotten device to be off record")
	}
	if _, _, err := app.RememberDevice(ctx, "default", "", "+447400123456", now, caddyotp.MaxRemember+time.Hour); err == nil {
		t.Error("expected a device for longer than MaxRemember to be refused")
	}
}

// TestAppSignOutEverywhere: every session of the realm and mobile issued up to then fails,
// on this instance at once; other mobiles and realms, and later sessions, are untouched;
// every device of the mobile is forgotten.
func TestAppSignOutEverywhere(t *testing.T) {
	app := healthyApp(t)
	ctx := context.Background()
	now := time.Now()
	const mobile, other = "+447400123456", "+12025550123"
	a, _, _ := app.MintSession("default", "", mobile, now.Add(-time.Hour), 8*time.Hour)
	b, _, _ := app.MintSession("default", "", mobile, now, 8*time.Hour)
	o, _, _ := app.MintSession("default", "", other, now, 8*time.Hour)
	r, _, _ := app.MintSession("admin", "", mobile, now, 8*time.Hour)
	_, d1, _ := app.RememberDevice(ctx, "default", "", mobile, now, time.Hour)
	_, d2, _ := app.RememberDevice(ctx, "default", "", mobile, now, time.Hour)
	_, d3, _ := app.RememberDevice(ctx, "default", "", other, now, time.Hour)

	n, err := app.SignOutEverywhere(ctx, "default", mobile, now)
	if err != nil || n != 2 {
		t.Fatalf("expected 2 devices forgotten, got %d (%v)", n, err)
	}
	check := func(tok, realm string, at time.Time) error {
		_, err := app.CheckSession(tok, realm, at, time.Hour, 24*time.Hour)
		return err
	}
	if check(a, "default", now) == nil || check(b, "default", now) == nil {
		t.Error("expected both sessions of the mobile to fail")
	}
	if err := check(o, "default", now); err != nil {
		t.Errorf("expected another mobile's session to stand, got %v", err)
	}
	if err := check(r, "admin", now); err != nil {
		t.Errorf("expected the mobile's session of another realm to stand, got %v", err)
	}
	later, _, _ := app.MintSession("default", "", mobile, now.Add(2*time.Second), 8*time.Hour)
	if err := check(later, "default", now.Add(2*time.Second)); err != nil {
		t.Errorf("expected a session signed in after to stand, got %v", err)
	}
	if on, _ := app.DeviceOnRecord(ctx, d1, now); on {
		t.Error("expected the first device forgotten")
	}
	if on, _ := app.DeviceOnRecord(ctx, d2, now); on {
		t.Error("expected the second device forgotten")
	}
	if on, _ := app.DeviceOnRecord(ctx, d3, now); !on {
		t.Error("expected another mobile's device to stand")
	}
}
