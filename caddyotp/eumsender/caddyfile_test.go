package eumsender

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddyotp/caddyotp/internal/testcaddy"
)

func TestEUMSenderUnmarshalCaddyfile(t *testing.T) {
	good := []struct {
		name  string
		input string
		want  EUMSender
	}{
		{"bare", `eum`, EUMSender{}},
		{"empty block", "eum {\n}", EUMSender{}},
		{
			"everything",
			"eum {\n\tregion eu-west-2\n\tendpoint http://127.0.0.1:4566\n\tprofile otp\n\ttimeout 3s\n" +
				"\tconfiguration_set otp\n\tprotect_configuration pc-0123abcd\n\tfeedback\n}",
			EUMSender{Region: "eu-west-2", Endpoint: "http://127.0.0.1:4566", Profile: "otp", Timeout: caddy.Duration(3 * time.Second),
				ConfigurationSet: "otp", ProtectConfiguration: "pc-0123abcd", FeedbackEnabled: true},
		},
		{"placeholder", "eum {\n\tconfiguration_set {env.OTP_SET}\n}", EUMSender{ConfigurationSet: "{env.OTP_SET}"}},
	}
	for _, tt := range good {
		t.Run(tt.name, func(t *testing.T) {
			var s EUMSender
			if err := s.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input)); err != nil {
				t.Fatalf("expected no error, got %v", err)
			}
			if s != tt.want {
				t.Errorf("expected %+v, got %+v", tt.want, s)
			}
		})
	}

	bad := []struct {
		name  string
		input string
		want  string
	}{
		{"argument after eum", "eum eu-west-2", "wrong argument count"},
		{"unknown subdirective", "eum {\n\ttopic x\n}", "unrecognized subdirective 'topic'"},
		{"region without value", "eum {\n\tregion\n}", "wrong argument count"},
		{"configuration set without value", "eum {\n\tconfiguration_set\n}", "wrong argument count"},
		{"configuration set with two values", "eum {\n\tconfiguration_set a b\n}", "wrong argument count"},
		{"protect configuration without value", "eum {\n\tprotect_configuration\n}", "wrong argument count"},
		{"feedback with a value", "eum {\n\tfeedback on\n}", "wrong argument count"},
		{"repeated feedback", "eum {\n\tfeedback\n\tfeedback\n}", "feedback specified more than once"},
		{"repeated configuration set", "eum {\n\tconfiguration_set a\n\tconfiguration_set b\n}", "configuration_set specified more than once"},
		{"repeated region", "eum {\n\tregion eu-west-2\n\tregion eu-west-1\n}", "region specified more than once"},
		{"bad timeout", "eum {\n\ttimeout soon\n}", "timeout"},
		{"zero timeout", "eum {\n\ttimeout 0s\n}", "timeout must be positive"},
		{"nested block", "eum {\n\tregion {\n\t}\n}", ""},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			var s EUMSender
			err := s.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input))
			if err == nil {
				t.Fatalf("expected an error containing %q, got none (%+v)", tt.want, s)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("expected an error containing %q, got %v", tt.want, err)
			}
		})
	}
}

// TestEUMSenderGlobalOption adapts the SPEC's Caddyfile with Caddy's own adapter: the otp
// global option finds the module by name and the JSON carries every setting.
func TestEUMSenderGlobalOption(t *testing.T) {
	out := testcaddy.Adapt(t, `{
	otp {
		sender eum {
			region eu-west-2
			endpoint http://127.0.0.1:4566
			configuration_set otp
			protect_configuration pc-0123abcd
			feedback
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
	var got, want map[string]any
	if err := json.Unmarshal(cfg.Apps.OTP.Sender, &got); err != nil {
		t.Fatalf("expected a sender object, got %v: %s", err, out)
	}
	json.Unmarshal([]byte(`{"sender":"eum","region":"eu-west-2","endpoint":"http://127.0.0.1:4566",
		"configuration_set":"otp","protect_configuration":"pc-0123abcd","feedback":true}`), &want) //nolint:errcheck
	if len(got) != len(want) {
		t.Errorf("expected %v, got %v", want, got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("expected %s = %v, got %v", k, v, got[k])
		}
	}
}
