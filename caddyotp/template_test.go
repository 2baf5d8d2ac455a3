package caddyotp_test

import (
	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/internal/apptest"
	"github.com/caddyotp/caddyotp/internal/testcaddy"

	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// TestBounds: the security bounds (SECURITY.md, "Defaults") fail at provision, and the
// defaults are what SECURITY.md says.
func TestBounds(t *testing.T) {
	def := new(caddyotp.Template)
	def.ProvisionForTest("login")
	if def.Length != 6 || time.Duration(def.TTL) != 5*time.Minute || def.Attempts != 5 || time.Duration(*def.Resend) != time.Minute {
		t.Errorf("expected defaults length 6, ttl 5m, attempts 5, resend 60s, got %d, %s, %d, %s",
			def.Length, time.Duration(def.TTL), def.Attempts, time.Duration(*def.Resend))
	}
	if err := def.ValidateForTest(); err != nil {
		t.Fatalf("expected the defaults to validate, got %v", err)
	}
	for _, tt := range []struct {
		name string
		set  func(*caddyotp.Template)
		want string
	}{
		{"length 5", func(t *caddyotp.Template) { t.Length = 5 }, "length 5 is outside 6..10"},
		{"length 11", func(t *caddyotp.Template) { t.Length = 11 }, "length 11 is outside 6..10"},
		{"ttl 10m1s", func(t *caddyotp.Template) { t.TTL = caddy.Duration(10*time.Minute + time.Second) }, "ttl 10m1s is outside"},
		{"attempts 11", func(t *caddyotp.Template) { t.Attempts = 11 }, "attempts 11 is outside"},
		{"resend 500ms", func(t *caddyotp.Template) { d := caddy.Duration(500 * time.Millisecond); t.Resend = &d }, "resend 500ms is below 1s"},
		{"resend 1ns", func(t *caddyotp.Template) { d := caddy.Duration(1); t.Resend = &d }, "resend 1ns is below 1s"},
		{"resend -1s", func(t *caddyotp.Template) { d := caddy.Duration(-time.Second); t.Resend = &d }, "resend -1s is outside"},
		{"lock_group with a space", func(t *caddyotp.Template) { t.LockGroup = "a b" }, `lock_group "a b": letters, digits`},
		{"lock_group of 65", func(t *caddyotp.Template) { t.LockGroup = strings.Repeat("g", 65) }, "lock_group"},
	} {
		tmpl := new(caddyotp.Template)
		tt.set(tmpl)
		tmpl.ProvisionForTest("login")
		if err := tmpl.ValidateForTest(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: expected an error containing %q, got %v", tt.name, tt.want, err)
		}
	}

	app := apptest.Start(t, apptest.LogApp(nil))
	if app.Lockout.Ceiling != 100 || app.PolicyForTest().Ceiling != 100 {
		t.Errorf("expected the lockout ceiling 100 by default, got %d (policy %d)", app.Lockout.Ceiling, app.PolicyForTest().Ceiling)
	}
	if g := app.Template(caddyotp.DefaultTemplate).LockGroupForTest(); g != caddyotp.DefaultTemplate {
		t.Errorf("expected a template's lock group to be its name by default, got %q", g)
	}
	for _, ceiling := range []int{-1, 101} {
		lo := *app.Lockout
		lo.Ceiling = ceiling
		saved := app.Lockout
		app.Lockout = &lo
		if err := app.Validate(); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("lockout ceiling %d is outside 1..100", ceiling)) {
			t.Errorf("ceiling %d: expected an error naming the lockout ceiling, got %v", ceiling, err)
		}
		app.Lockout = saved
	}
	lo := *app.Lockout
	if lo.After != 20 || time.Duration(lo.Base) != 15*time.Minute || time.Duration(lo.Max) != 24*time.Hour {
		t.Errorf("expected a lock every 20 failures, 15m doubling to 24h, got %+v", lo)
	}
}

// TestResendBelowOneSecondFailsAtProvision: a store never starts an interval shorter than
// 1s, so a shorter `resend` is refused when the app is provisioned instead of being raised
// to 1s without a word. 0s (off) and 1s are taken.
func TestResendBelowOneSecondFailsAtProvision(t *testing.T) {
	for _, tt := range []struct {
		resend time.Duration
		want   string // "" for no error
	}{
		{500 * time.Millisecond, "template login: resend 500ms is below 1s"},
		{999 * time.Millisecond, "template login: resend 999ms is below 1s"},
		{0, ""},
		{time.Second, ""},
	} {
		r := caddy.Duration(tt.resend)
		app := apptest.LogApp(map[string]*caddyotp.Template{"login": {Resend: &r}})
		err := app.Provision(testcaddy.Context(t))
		if err == nil {
			err = app.Validate()
		}
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("resend %s: expected the app to provision, got %v", tt.resend, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("resend %s: expected an error containing %q, got %v", tt.resend, tt.want, err)
		}
	}
}

// TestGuardValidate: a guard's settings out of range fail at provision, naming the setting;
// an empty guard takes the defaults.
func TestGuardValidate(t *testing.T) {
	tests := []struct {
		guard caddyotp.Guard
		want  string
	}{
		{caddyotp.Guard{Window: caddy.Duration(time.Minute)}, "guard window 1m0s is outside 1h..720h"},
		{caddyotp.Guard{Window: caddy.Duration(31 * 24 * time.Hour)}, "guard window 744h0m0s is outside 1h..720h"},
		{caddyotp.Guard{MinSends: 4}, "guard min_sends 4 is outside 5..1000000"},
		{caddyotp.Guard{MinConversion: 1.5}, "guard min_conversion 1.5 is outside 0.01..1"},
		{caddyotp.Guard{MinConversion: -0.1}, "guard min_conversion -0.1 is outside 0.01..1"},
		{caddyotp.Guard{Block: caddy.Duration(time.Second)}, "guard block 1s is outside 1m..168h"},
		{caddyotp.Guard{Block: caddy.Duration(8 * 24 * time.Hour)}, "guard block 192h0m0s is outside 1m..168h"},
	}
	for _, tt := range tests {
		g := tt.guard
		tmpl := &caddyotp.Template{Guard: &g}
		tmpl.ProvisionForTest("login")
		if err := tmpl.ValidateForTest(); err == nil || err.Error() != tt.want {
			t.Errorf("expected %q for %+v, got %v", tt.want, tt.guard, err)
		}
	}
	tmpl := &caddyotp.Template{Guard: &caddyotp.Guard{}}
	tmpl.ProvisionForTest("login")
	if err := tmpl.ValidateForTest(); err != nil {
		t.Fatal(err)
	}
	if g := tmpl.Guard; time.Duration(g.Window) != 24*time.Hour || g.MinSends != 20 || g.MinConversion != 0.2 || time.Duration(g.Block) != 6*time.Hour {
		t.Errorf("expected the defaults 24h, 20, 0.2, 6h, got %+v", *g)
	}
}
