package caddyotp_test

import (
	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/internal/apptest"

	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

// TestTemplateLookups: Template by name ("" is the default), TemplateForKey by API key.
func TestTemplateLookups(t *testing.T) {
	key := strings.Repeat("k", 20)
	app := apptest.Start(t, &caddyotp.App{Templates: map[string]*caddyotp.Template{"login": {Key: key}, "gate": {}}})
	for _, tc := range []struct{ name, want string }{{"", caddyotp.DefaultTemplate}, {"login", "login"}, {"gate", "gate"}} {
		if got := app.Template(tc.name); got == nil || got.Name() != tc.want {
			t.Errorf("expected Template(%q) to be %s, got %v", tc.name, tc.want, got)
		}
	}
	if got := app.Template("nope"); got != nil {
		t.Errorf("expected no template nope, got %s", got.Name())
	}
	for _, tc := range []struct{ key, want string }{{key, "login"}, {"", ""}, {key + "x", ""}, {key[:19], ""}} {
		got := app.TemplateForKey(tc.key)
		if name := ""; got != nil {
			name = got.Name()
			if name != tc.want {
				t.Errorf("expected TemplateForKey(%q) to be %q, got %q", tc.key, tc.want, name)
			}
		} else if tc.want != "" {
			t.Errorf("expected TemplateForKey(%q) to be %q, got none", tc.key, tc.want)
		}
	}
}

// TestDecoyMobileIsStable: the same user gets the same made-up number, another user another.
func TestDecoyMobileIsStable(t *testing.T) {
	app := apptest.Start(t, &caddyotp.App{})
	a, b := app.DecoyMobile("alice"), app.DecoyMobile("bob")
	if a != app.DecoyMobile("alice") || a == b || !strings.HasPrefix(a, "+4474") || len(a) != 13 {
		t.Errorf("expected stable, distinct +4474… numbers, got %s and %s", a, b)
	}
}

// TestRecentSMSAfterSend: a send shows in RecentSMS of its template only.
func TestRecentSMSAfterSend(t *testing.T) {
	app := apptest.Start(t, &caddyotp.App{Templates: map[string]*caddyotp.Template{"login": {}}})
	login := app.Template("login")
	if _, err := app.Send(context.Background(), caddyotp.SendRequest{Template: login, Mobile: "+447400123456"}); err != nil {
		t.Fatalf("expected the send to work, got %v", err)
	}
	entries, err := app.RecentSMS(context.Background(), login, 10)
	if err != nil || len(entries) != 1 {
		t.Fatalf("expected 1 entry, got %d (%v)", len(entries), err)
	}
	if entries, _ := app.RecentSMS(context.Background(), app.Template(""), 10); len(entries) != 0 {
		t.Errorf("expected no entry for the default template, got %d", len(entries))
	}
}

// TestSecretOnlyOptionalWithProcessLocalStore: without a secret the app makes one up for
// a store that says it is process-local (the memory store), and refuses every other store.
func TestSecretOnlyOptionalWithProcessLocalStore(t *testing.T) {
	for _, tc := range []struct {
		name, store, wantErr string
	}{
		{"memory", `{"store":"memory"}`, ""},
		{"redis", `{"store":"redis","addresses":["127.0.0.1:1"]}`, "secret is required with a shared store"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
			t.Cleanup(cancel)
			app := &caddyotp.App{StoreRaw: json.RawMessage(tc.store), SenderRaw: json.RawMessage(`{"sender":"log"}`)}
			err := app.Provision(ctx)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("expected provision to work, got %v", err)
				}
				if len(app.SecretForTest()) != 32 {
					t.Fatalf("expected a random 32-byte secret, got %d bytes", len(app.SecretForTest()))
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("expected an error with %q, got %v", tc.wantErr, err)
			}
		})
	}
}
