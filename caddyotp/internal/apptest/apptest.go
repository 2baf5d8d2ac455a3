// Package apptest runs the otp app outside a running Caddy, for the tests of the host and
// of the handlers: with the memory store and the log sender, which it registers.
package apptest

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyotp/caddyotp/caddyotp"
	_ "github.com/caddyotp/caddyotp/caddyotp/logsender"
	_ "github.com/caddyotp/caddyotp/caddyotp/memorystore"
	"github.com/caddyotp/caddyotp/internal/testcaddy"
)

// Secret is the secret LogApp and Start give an app that has none.
var Secret = strings.Repeat("s", 32)

// LogApp is an unprovisioned app with a secret, the log sender and templates.
func LogApp(templates map[string]*caddyotp.Template) *caddyotp.App {
	return &caddyotp.App{Secret: Secret, SenderRaw: json.RawMessage(`{"sender":"log"}`), Templates: templates}
}

// Provision provisions and validates app in a context that ends with the test.
func Provision(tb testing.TB, app *caddyotp.App) *caddyotp.App {
	tb.Helper()
	if err := app.Provision(testcaddy.Context(tb)); err != nil {
		tb.Fatal(err)
	}
	if err := app.Validate(); err != nil {
		tb.Fatal(err)
	}
	return app
}

// Start provisions, validates and starts app (the log sender and Secret unless set) and
// stops it when the test ends.
func Start(tb testing.TB, app *caddyotp.App) *caddyotp.App {
	tb.Helper()
	if app.Secret == "" {
		app.Secret = Secret
	}
	if app.SenderRaw == nil {
		app.SenderRaw = json.RawMessage(`{"sender":"log"}`)
	}
	Provision(tb, app)
	if err := app.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { app.Stop() })
	return app
}
