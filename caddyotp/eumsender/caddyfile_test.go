package eumsender

import (
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddyotp/caddyotp/caddyotp/internal/awsx"
	"github.com/caddyotp/caddyotp/caddyotp/internal/awsx/awsxtest"
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
			EUMSender{Connection: awsx.Connection{Region: "eu-west-2", Endpoint: "http://127.0.0.1:4566", Profile: "otp"},
				Timeout: caddy.Duration(3 * time.Second), ConfigurationSet: "otp", ProtectConfiguration: "pc-0123abcd", FeedbackEnabled: true},
		},
		{"placeholder", "eum {\n\tconfiguration_set {env.OTP_SET}\n}", EUMSender{ConfigurationSet: "{env.OTP_SET}"}},
	}
	for _, tt := range good {
		if s, err := awsxtest.Unmarshal[EUMSender](tt.input); err != nil || s != tt.want {
			t.Errorf("%s: expected %+v, got %+v (%v)", tt.name, tt.want, s, err)
		}
	}

	bad := []struct {
		name  string
		input string
		want  string
	}{
		{"argument after eum", "eum eu-west-2", "wrong argument count"},
		{"unknown subdirective", "eum {\n\ttopic x\n}", "unrecognized subdirective 'topic'"},
		{"region without value", "eum {\n\tregion\n}", "'region' needs a value"},
		{"configuration set without value", "eum {\n\tconfiguration_set\n}", "'configuration_set' needs a value"},
		{"configuration set with two values", "eum {\n\tconfiguration_set a b\n}", "'configuration_set' takes one value"},
		{"protect configuration without value", "eum {\n\tprotect_configuration\n}", "'protect_configuration' needs a value"},
		{"feedback with a value", "eum {\n\tfeedback on\n}", "'feedback' takes no value, got 'on'"},
		{"repeated feedback", "eum {\n\tfeedback\n\tfeedback\n}", "'feedback' is given more than once"},
		{"repeated configuration set", "eum {\n\tconfiguration_set a\n\tconfiguration_set b\n}", "'configuration_set' is given more than once"},
		{"bad timeout", "eum {\n\ttimeout soon\n}", "'timeout': 'soon' is not a duration"},
		{"zero timeout", "eum {\n\ttimeout 0s\n}", "'timeout' must be positive"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := awsxtest.Unmarshal[EUMSender](tt.input)
			testcaddy.CheckErr(t, err, tt.want)
		})
	}
}

// TestEUMSenderGlobalOption adapts the SPEC's Caddyfile with Caddy's own adapter: the otp
// global option finds the module by name and the JSON carries every setting.
func TestEUMSenderGlobalOption(t *testing.T) {
	awsxtest.CheckAdapted(t, `{
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
`, "sender", map[string]any{"sender": "eum", "region": "eu-west-2", "endpoint": "http://127.0.0.1:4566",
		"configuration_set": "otp", "protect_configuration": "pc-0123abcd", "feedback": true})
}
