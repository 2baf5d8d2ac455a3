package failoversender_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/failoversender"
	_ "github.com/caddyotp/caddyotp/caddyotp/logsender"
	"github.com/caddyotp/caddyotp/internal/testcaddy"
)

// load loads the failover module of the JSON raw in ctx, as the app loads its sender.
func load(ctx caddy.Context, raw string) (*failoversender.Failover, error) {
	mod, err := ctx.LoadModuleByID("otp.senders.failover", json.RawMessage(raw))
	if err != nil {
		return nil, err
	}
	return mod.(*failoversender.Failover), nil
}

func routeNames(routes []caddyotp.Route) string {
	var names []string
	for _, r := range routes {
		names = append(names, r.Provider)
	}
	return strings.Join(names, " ")
}

// TestProvision loads a failover of three senders, two of one module: their routes are
// named by module, the second of a name with "#2", and the defaults are set.
func TestProvision(t *testing.T) {
	fake(t, "one")
	fake(t, "two")
	f, err := load(testcaddy.Context(t), `{"senders":[
		{"sender":"failovertest_fake","name":"one"},
		{"sender":"log"},
		{"sender":"failovertest_fake","name":"two"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	if got := routeNames(f.Routes(time.Now())); got != "failovertest_fake log failovertest_fake#2" {
		t.Errorf("expected routes failovertest_fake log failovertest_fake#2, got %q", got)
	}
	if f.OpenAfter != 3 || time.Duration(f.OpenFor) != time.Minute {
		t.Errorf("expected open_after 3 and open_for 1m by default, got %d and %v", f.OpenAfter, time.Duration(f.OpenFor))
	}
	if f.CaddyModule().ID != "otp.senders.failover" {
		t.Errorf("expected module id otp.senders.failover, got %s", f.CaddyModule().ID)
	}
}

func TestProvisionErrors(t *testing.T) {
	two := `{"sender":"failovertest_fake","name":"a"},{"sender":"failovertest_fake","name":"b"}`
	tests := []struct {
		name string
		raw  string
		want string
	}{
		{"no senders", `{}`, "failover sender: senders: failover needs at least two senders, got 0"},
		{"empty senders", `{"senders":[]}`, "failover needs at least two senders, got 0"},
		{"one sender", `{"senders":[{"sender":"failovertest_fake","name":"a"}]}`, "failover needs at least two senders, got 1"},
		{"nested failover", `{"senders":[` + two + `,{"sender":"failover","senders":[` + two + `]}]}`,
			"failover sender: senders[2]: failover cannot contain a failover"},
		{"nested router", `{"senders":[{"sender":"failovertest_router"},` + two + `]}`,
			"failover sender: senders[0]: failover cannot contain a failover (failovertest_router routes senders)"},
		{"unknown sender", `{"senders":[` + two + `,{"sender":"carrier_pigeon"}]}`, "failover sender: loading senders"},
		{"open_after below 1", `{"senders":[` + two + `],"open_after":-1}`, "failover sender: open_after must be 1 to 100, got -1"},
		{"open_after above 100", `{"senders":[` + two + `],"open_after":101}`, "open_after must be 1 to 100, got 101"},
		{"open_for below 1s", `{"senders":[` + two + `],"open_for":"500ms"}`, "failover sender: open_for must be 1s to 1h0m0s, got 500ms"},
		{"open_for above 1h", `{"senders":[` + two + `],"open_for":"61m"}`, "open_for must be 1s to 1h0m0s, got 1h1m0s"},
		{"open_for negative", `{"senders":[` + two + `],"open_for":"-1s"}`, "open_for must be 1s to 1h0m0s, got -1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake(t, "a")
			fake(t, "b")
			_, err := load(testcaddy.Context(t), tt.raw)
			testcaddy.CheckErr(t, err, tt.want)
		})
	}
}

// TestBounds: open_after 1 and 100, open_for 1s and 1h are allowed.
func TestBounds(t *testing.T) {
	for _, raw := range []string{`"open_after":1,"open_for":"1s"`, `"open_after":100,"open_for":"1h"`} {
		fake(t, "a")
		fake(t, "b")
		f, err := load(testcaddy.Context(t), `{"senders":[{"sender":"failovertest_fake","name":"a"},{"sender":"failovertest_fake","name":"b"}],`+raw+`}`)
		if err != nil {
			t.Errorf("%s: expected no error, got %v", raw, err)
			continue
		}
		if err := f.Validate(); err != nil {
			t.Errorf("%s: expected Validate to pass after Provision, got %v", raw, err)
		}
	}
}

// TestInnerSendersCleanedOnce: the senders are loaded in the config's context, so Caddy
// cleans each up once when it ends, also after a failover that failed to provision.
func TestInnerSendersCleanedOnce(t *testing.T) {
	for _, tt := range []struct{ name, extra string }{
		{"provisioned", ``},
		{"failed provision", `,{"sender":"failovertest_router"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, b := fake(t, "a"), fake(t, "b")
			ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
			_, err := load(ctx, `{"senders":[{"sender":"failovertest_fake","name":"a"},{"sender":"failovertest_fake","name":"b"}`+tt.extra+`]}`)
			if (err != nil) != (tt.extra != "") {
				t.Fatalf("expected an error only with %q, got %v", tt.extra, err)
			}
			if _, n := a.count(); n != 0 {
				t.Fatalf("expected no cleanup before the context ends, got %d", n)
			}
			cancel()
			for name, st := range map[string]*fakeState{"a": a, "b": b} {
				if _, n := st.count(); n != 1 {
					t.Errorf("expected sender %s cleaned up once, got %d", name, n)
				}
			}
		})
	}
}

// TestJSON: the config's JSON keys, and a failover marshalled and loaded back routes the
// same senders with the same settings.
func TestJSON(t *testing.T) {
	fake(t, "a")
	fake(t, "b")
	in := failoversender.Failover{
		SendersRaw: []json.RawMessage{
			json.RawMessage(`{"sender":"failovertest_fake","name":"a"}`),
			json.RawMessage(`{"sender":"failovertest_fake","name":"b"}`),
		},
		OpenAfter: 5,
		OpenFor:   caddy.Duration(30 * time.Second),
	}
	raw, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"senders":[{"sender":"failovertest_fake","name":"a"},{"sender":"failovertest_fake","name":"b"}],"open_after":5,"open_for":30000000000}`
	if string(raw) != want {
		t.Fatalf("expected %s, got %s", want, raw)
	}
	if empty, _ := json.Marshal(failoversender.Failover{}); string(empty) != `{}` {
		t.Errorf("expected an empty failover to marshal as {}, got %s", empty)
	}
	f, err := load(testcaddy.Context(t), string(raw))
	if err != nil {
		t.Fatal(err)
	}
	if got := routeNames(f.Routes(time.Now())); got != "failovertest_fake failovertest_fake#2" || f.OpenAfter != 5 || f.OpenFor != in.OpenFor {
		t.Errorf("expected the settings back, got routes %q, open_after %d, open_for %v", got, f.OpenAfter, time.Duration(f.OpenFor))
	}
}

// TestProvisionedSend: a provisioned failover's own Send reaches the second module after
// a definite failure of the first.
func TestProvisionedSend(t *testing.T) {
	a := fake(t, "a", &caddyotp.SendError{Code: "HTTP503", Retryable: true})
	b := fake(t, "b")
	f, err := load(testcaddy.Context(t), `{"senders":[{"sender":"failovertest_fake","name":"a"},{"sender":"failovertest_fake","name":"b"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	id, err := f.Send(context.Background(), caddyotp.SMS{To: "+447400123456", Text: "123456 is your code"})
	if err != nil || id != "b-1" {
		t.Fatalf("expected b-1, got %q, %v", id, err)
	}
	ac, _ := a.count()
	b.mu.Lock()
	defer b.mu.Unlock()
	if ac != 1 || len(b.sent) != 1 || b.sent[0].To != "+447400123456" {
		t.Errorf("expected one attempt at a and the SMS sent by b, got %d and %+v", ac, b.sent)
	}
}
