package failoversender_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddyotp/caddyotp/caddyotp/failoversender"
	"github.com/caddyotp/caddyotp/internal/testcaddy"
)

func TestUnmarshalCaddyfile(t *testing.T) {
	good := []struct {
		name    string
		input   string
		senders string // the senders' JSON
		after   int
		openFor time.Duration
	}{
		{"two senders", "failover {\n\tsender log\n\tsender failovertest_fake {\n\t\tname b\n\t}\n}",
			`[{"sender":"log"},{"name":"b","sender":"failovertest_fake"}]`, 0, 0},
		{"nested blocks and settings in any order",
			"failover {\n\topen_for 30s\n\tsender failovertest_fake {\n\t\tname a\n\t}\n\topen_after 2\n\tsender failovertest_fake {\n\t\tname b\n\t}\n\tsender log\n}",
			`[{"name":"a","sender":"failovertest_fake"},{"name":"b","sender":"failovertest_fake"},{"sender":"log"}]`, 2, 30 * time.Second},
		{"empty block", "failover {\n}", `null`, 0, 0},
	}
	for _, tt := range good {
		t.Run(tt.name, func(t *testing.T) {
			var f failoversender.Failover
			if err := f.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input)); err != nil {
				t.Fatalf("expected no error, got %v", err)
			}
			senders, err := json.Marshal(f.SendersRaw)
			if err != nil {
				t.Fatal(err)
			}
			if string(senders) != tt.senders || f.OpenAfter != tt.after || time.Duration(f.OpenFor) != tt.openFor {
				t.Errorf("expected senders %s, open_after %d, open_for %v, got %s, %d, %v",
					tt.senders, tt.after, tt.openFor, senders, f.OpenAfter, time.Duration(f.OpenFor))
			}
		})
	}

	bad := []struct {
		name  string
		input string
		want  string
	}{
		{"argument after failover", "failover sns", "wrong argument count"},
		{"unknown subdirective", "failover {\n\tretries 2\n}", "unrecognized subdirective 'retries'"},
		{"sender without a module", "failover {\n\tsender\n}", "'sender' needs a module name"},
		{"unknown sender module", "failover {\n\tsender carrier_pigeon\n}", "otp.senders.carrier_pigeon"},
		{"nested failover", "failover {\n\tsender log\n\tsender failover {\n\t\tsender log\n\t}\n}", "failover cannot contain a failover"},
		{"bad inner block", "failover {\n\tsender log {\n\t\tregion x\n\t}\n}", "unrecognized subdirective 'region'"},
		{"open_after not a number", "failover {\n\topen_after three\n}", "'open_after': 'three' is not a whole number"},
		{"open_after zero", "failover {\n\topen_after 0\n}", "'open_after' must be 1 to 100, got 0"},
		{"open_after without value", "failover {\n\topen_after\n}", "'open_after' needs a value"},
		{"open_after repeated", "failover {\n\topen_after 2\n\topen_after 3\n}", "'open_after' is given more than once"},
		{"open_for not a duration", "failover {\n\topen_for soon\n}", "'open_for': 'soon' is not a duration"},
		{"open_for zero", "failover {\n\topen_for 0s\n}", "'open_for' must be positive"},
		{"open_for two values", "failover {\n\topen_for 1m 2m\n}", "'open_for' takes one value"},
		{"open_for repeated", "failover {\n\topen_for 1m\n\topen_for 2m\n}", "'open_for' is given more than once"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			var f failoversender.Failover
			testcaddy.CheckErr(t, f.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input)), tt.want)
		})
	}
}

// TestGlobalOption adapts the SPEC's shape of Caddyfile with Caddy's own adapter, checks the
// otp app's sender JSON, and loads that JSON back as a working failover.
func TestGlobalOption(t *testing.T) {
	out := testcaddy.Adapt(t, `{
	otp {
		sender failover {
			sender failovertest_fake {
				name a
			}
			sender log
			sender failovertest_fake {
				name b
			}
			open_after 4
			open_for 2m
		}
	}
}
`)
	var cfg struct {
		Apps struct {
			OTP struct {
				Sender json.RawMessage `json:"sender"`
			} `json:"otp"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatalf("reading the adapted config: %v\n%s", err, out)
	}
	want := `{"open_after":4,"open_for":120000000000,"sender":"failover","senders":[` +
		`{"name":"a","sender":"failovertest_fake"},{"sender":"log"},{"name":"b","sender":"failovertest_fake"}]}`
	if string(cfg.Apps.OTP.Sender) != want {
		t.Fatalf("expected sender %s, got %s", want, cfg.Apps.OTP.Sender)
	}

	fake(t, "a")
	fake(t, "b")
	mod, err := testcaddy.Context(t).LoadModule(&struct {
		SenderRaw json.RawMessage `caddy:"namespace=otp.senders inline_key=sender"`
	}{SenderRaw: cfg.Apps.OTP.Sender}, "SenderRaw")
	if err != nil {
		t.Fatal(err)
	}
	f := mod.(*failoversender.Failover)
	if got := routeNames(f.Routes(time.Now())); got != "failovertest_fake log failovertest_fake#2" || f.OpenAfter != 4 || time.Duration(f.OpenFor) != 2*time.Minute {
		t.Errorf("expected routes failovertest_fake log failovertest_fake#2, open_after 4, open_for 2m, got %q, %d, %v",
			got, f.OpenAfter, time.Duration(f.OpenFor))
	}
}
