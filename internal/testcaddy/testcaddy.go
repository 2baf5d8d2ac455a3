// Package testcaddy runs a real Caddy, with this repo's plugin, inside a test process:
// the Caddyfile is adapted by Caddy's own adapter and loaded with caddy.Load, with the admin
// endpoint off and nothing persisted. Caddy is a process-wide singleton, so one Instance
// runs at a time; tests that need several instances use the built binary (integration/).
package testcaddy

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"

	_ "github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

var running sync.Mutex

// Adapt turns a Caddyfile into Caddy's JSON config, failing the test on any error or warning.
func Adapt(t testing.TB, caddyfile string) []byte {
	t.Helper()
	out, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), map[string]any{"filename": "Caddyfile"})
	if err != nil {
		t.Fatalf("adapting the Caddyfile: %v", err)
	}
	for _, w := range warnings {
		t.Logf("adapter warning: %s", w.String())
	}
	return out
}

// Start adapts and loads caddyfile and stops Caddy when the test ends. The Caddyfile's
// sites should be http://127.0.0.1:<FreePort>.
func Start(t testing.TB, caddyfile string) {
	t.Helper()
	StartJSON(t, Adapt(t, caddyfile))
}

// StartJSON loads a JSON config.
func StartJSON(t testing.TB, cfgJSON []byte) {
	t.Helper()
	var cfg map[string]any
	if err := json.Unmarshal(cfgJSON, &cfg); err != nil {
		t.Fatalf("reading the config: %v", err)
	}
	cfg["admin"] = map[string]any{"disabled": true, "config": map[string]any{"persist": false}}
	cfgJSON, _ = json.Marshal(cfg)
	running.Lock()
	if err := caddy.Load(cfgJSON, true); err != nil {
		running.Unlock()
		t.Fatalf("loading the config: %v", err)
	}
	t.Cleanup(func() {
		if err := caddy.Stop(); err != nil {
			t.Logf("stopping caddy: %v", err)
		}
		running.Unlock()
	})
}

// WaitHTTP waits until url answers at all.
func WaitHTTP(t testing.TB, url string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s did not answer within 5s", url)
}
