package twiliosender

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddyotp/caddyotp/caddyotp/internal/awsx/awsxtest"
	"github.com/caddyotp/caddyotp/internal/testcaddy"
	"github.com/caddyotp/caddyotp/internal/twiliodouble"
)

func TestTwilioSenderUnmarshalCaddyfile(t *testing.T) {
	good := []struct {
		name  string
		input string
		want  TwilioSender
	}{
		{"bare", `twilio`, TwilioSender{}},
		{"empty block", "twilio {\n}", TwilioSender{}},
		{
			"auth token and from",
			"twilio {\n\taccount_sid {env.TWILIO_ACCOUNT_SID}\n\tauth_token {env.TWILIO_AUTH_TOKEN}\n\tfrom +15005550006\n}",
			TwilioSender{AccountSID: "{env.TWILIO_ACCOUNT_SID}", AuthToken: "{env.TWILIO_AUTH_TOKEN}", From: "+15005550006"},
		},
		{
			"everything else",
			"twilio {\n\taccount_sid AC1\n\tapi_key SK1\n\tapi_secret s\n\tmessaging_service_sid MG1\n" +
				"\tendpoint http://127.0.0.1:4567\n\ttimeout 3s\n}",
			TwilioSender{AccountSID: "AC1", APIKey: "SK1", APISecret: "s", MessagingServiceSID: "MG1",
				Endpoint: "http://127.0.0.1:4567", Timeout: caddy.Duration(3 * time.Second)},
		},
		{"a sender id with a space", "twilio {\n\tfrom \"Acme Co\"\n}", TwilioSender{From: "Acme Co"}},
	}
	for _, tt := range good {
		if s, err := awsxtest.Unmarshal[TwilioSender](tt.input); err != nil || s != tt.want {
			t.Errorf("%s: expected %+v, got %+v (%v)", tt.name, tt.want, s, err)
		}
	}

	bad := []struct {
		name  string
		input string
		want  string
	}{
		{"argument after twilio", "twilio AC1", "wrong argument count"},
		{"unknown subdirective", "twilio {\n\tregion eu-west-2\n}", "unrecognized subdirective 'region'"},
		{"account without value", "twilio {\n\taccount_sid\n}", "'account_sid' needs a value"},
		{"token with two values", "twilio {\n\tauth_token a b\n}", "'auth_token' takes one value"},
		{"from without value", "twilio {\n\tfrom\n}", "'from' needs a value"},
		{"repeated from", "twilio {\n\tfrom +15005550006\n\tfrom +15005550007\n}", "'from' is given more than once"},
		{"repeated api key", "twilio {\n\tapi_key SK1\n\tapi_key SK2\n}", "'api_key' is given more than once"},
		{"bad timeout", "twilio {\n\ttimeout soon\n}", "'timeout': 'soon' is not a duration"},
		{"endpoint with two values", "twilio {\n\tendpoint http://a http://b\n}", "'endpoint' takes one value"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := awsxtest.Unmarshal[TwilioSender](tt.input)
			testcaddy.CheckErr(t, err, tt.want)
		})
	}
}

// TestTwilioSenderGlobalOption adapts the README's Caddyfile with Caddy's own adapter: the
// otp global option finds the module by name, the JSON carries every setting, and it loads
// back into a sender that provisions.
func TestTwilioSenderGlobalOption(t *testing.T) {
	t.Setenv("TWILIO_ACCOUNT_SID", twiliodouble.AccountSID)
	t.Setenv("TWILIO_AUTH_TOKEN", twiliodouble.AuthToken)
	raw := awsxtest.CheckAdapted(t, `{
	otp {
		sender twilio {
			account_sid {env.TWILIO_ACCOUNT_SID}
			auth_token {env.TWILIO_AUTH_TOKEN}
			messaging_service_sid MG0123456789abcdef0123456789abcdef
			endpoint http://127.0.0.1:4567
			timeout 10s
		}
	}
}
`, "sender", map[string]any{"sender": "twilio", "account_sid": "{env.TWILIO_ACCOUNT_SID}", "auth_token": "{env.TWILIO_AUTH_TOKEN}",
		"messaging_service_sid": "MG0123456789abcdef0123456789abcdef", "endpoint": "http://127.0.0.1:4567", "timeout": float64(10 * time.Second)})
	var s TwilioSender
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	testcaddy.Provision(t, &s)
	if s.AccountSID != twiliodouble.AccountSID || s.AuthToken != twiliodouble.AuthToken {
		t.Errorf("expected the environment's credentials at provision, got %+v", s)
	}
}
