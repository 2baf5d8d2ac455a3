package caddyotp

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

// Helpers the package's tests share: a Caddy context, provisioning a store or a sender, and
// an app outside a running Caddy.

// caddyContext is a bare Caddy context that ends with the test.
func caddyContext(tb testing.TB) caddy.Context {
	tb.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	tb.Cleanup(cancel)
	return ctx
}

// provisioner is a module that provisions and cleans up: a store or a sender.
type provisioner interface {
	Provision(caddy.Context) error
	Cleanup() error
}

// provision provisions m in a context of its own and cleans it up when the test ends.
func provision(tb testing.TB, m provisioner) {
	tb.Helper()
	if err := m.Provision(caddyContext(tb)); err != nil {
		tb.Fatalf("Provision: expected no error, got %v", err)
	}
	tb.Cleanup(func() {
		if err := m.Cleanup(); err != nil {
			tb.Errorf("Cleanup: expected no error, got %v", err)
		}
	})
}

// logApp is an unprovisioned app with a secret, the log sender and templates.
func logApp(templates map[string]*Template) *App {
	return &App{Secret: strings.Repeat("s", 32), SenderRaw: json.RawMessage(`{"sender":"log"}`), Templates: templates}
}

// provisionApp provisions and validates app in a context that ends with the test.
func provisionApp(tb testing.TB, app *App) *App {
	tb.Helper()
	if err := app.Provision(caddyContext(tb)); err != nil {
		tb.Fatal(err)
	}
	if err := app.Validate(); err != nil {
		tb.Fatal(err)
	}
	return app
}

// startApp provisions, validates and starts app (the log sender and a fixed secret unless
// set) and stops it when the test ends.
func startApp(t *testing.T, app *App) *App {
	t.Helper()
	if app.Secret == "" {
		app.Secret = strings.Repeat("s", 32)
	}
	if app.SenderRaw == nil {
		app.SenderRaw = json.RawMessage(`{"sender":"log"}`)
	}
	provisionApp(t, app)
	if err := app.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Stop() })
	return app
}
