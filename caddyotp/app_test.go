package caddyotp

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

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
			app := &App{StoreRaw: json.RawMessage(tc.store), SenderRaw: json.RawMessage(`{"sender":"log"}`)}
			err := app.Provision(ctx)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("expected provision to work, got %v", err)
				}
				if len(app.secret) != 32 {
					t.Fatalf("expected a random 32-byte secret, got %d bytes", len(app.secret))
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("expected an error with %q, got %v", tc.wantErr, err)
			}
		})
	}
}
