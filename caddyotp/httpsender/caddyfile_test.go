package httpsender_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddyotp/caddyotp/caddyotp/httpsender"
	"github.com/caddyotp/caddyotp/internal/testcaddy"
)

// unmarshal is a sender set up from the Caddyfile input ("http {…}").
func unmarshal(input string) (httpsender.HTTPSender, error) {
	var s httpsender.HTTPSender
	err := s.UnmarshalCaddyfile(caddyfile.NewTestDispenser(input))
	return s, err
}

// everything is the SPEC's block, every word used.
const everything = `http {
	url https://sms.example.com/send
	header Authorization "Bearer {env.SMS_TOKEN}"
	header x-tenant acme
	header X-Tenant eu
	format form
	sign {env.SMS_SIGNING_SECRET}
	message_id_field /id
	price_field /price
	timeout 3s
}`

var everythingParsed = httpsender.HTTPSender{
	URL:            "https://sms.example.com/send",
	Headers:        http.Header{"Authorization": {"Bearer {env.SMS_TOKEN}"}, "X-Tenant": {"acme", "eu"}},
	Format:         "form",
	Sign:           "{env.SMS_SIGNING_SECRET}",
	MessageIDField: "/id",
	PriceField:     "/price",
	Timeout:        caddy.Duration(3 * time.Second),
}

func TestHTTPSenderUnmarshalCaddyfile(t *testing.T) {
	good := []struct {
		name  string
		input string
		want  httpsender.HTTPSender
	}{
		{"bare", `http`, httpsender.HTTPSender{}},
		{"url only", "http {\n\turl http://127.0.0.1:9000/sms\n}", httpsender.HTTPSender{URL: "http://127.0.0.1:9000/sms"}},
		{"everything", everything, everythingParsed},
		{"escaped pointers", "http {\n\tmessage_id_field /a~1b/0\n\tprice_field /m~0n\n}",
			httpsender.HTTPSender{MessageIDField: "/a~1b/0", PriceField: "/m~0n"}},
	}
	for _, tt := range good {
		s, err := unmarshal(tt.input)
		if err != nil || !reflect.DeepEqual(s, tt.want) {
			t.Errorf("%s: expected %+v, got %+v (%v)", tt.name, tt.want, s, err)
		}
	}

	bad := []struct {
		name  string
		input string
		want  string
	}{
		{"argument after http", "http https://sms.example.com", "wrong argument count"},
		{"unknown subdirective", "http {\n\tmethod PUT\n}", "unrecognized subdirective 'method'"},
		{"url without value", "http {\n\turl\n}", "'url' needs a value"},
		{"url with two values", "http {\n\turl a b\n}", "'url' takes one value, got another: 'b'"},
		{"repeated url", "http {\n\turl http://a\n\turl http://b\n}", "'url' is given more than once"},
		{"header without value", "http {\n\theader Authorization\n}", "'header' needs a name and a value, got 1 arguments"},
		{"header with three values", "http {\n\theader X-A b c\n}", "'header' needs a name and a value, got 3 arguments"},
		{"format without value", "http {\n\tformat\n}", "'format' needs a value"},
		{"repeated format", "http {\n\tformat json\n\tformat form\n}", "'format' is given more than once"},
		{"sign without value", "http {\n\tsign\n}", "'sign' needs a value"},
		{"repeated sign", "http {\n\tsign aaaaaaaaaaaaaaaa\n\tsign bbbbbbbbbbbbbbbb\n}", "'sign' is given more than once"},
		{"message id field without value", "http {\n\tmessage_id_field\n}", "'message_id_field' needs a value"},
		{"repeated message id field", "http {\n\tmessage_id_field /a\n\tmessage_id_field /b\n}", "'message_id_field' is given more than once"},
		{"price field with two values", "http {\n\tprice_field /a /b\n}", "'price_field' takes one value"},
		{"repeated price field", "http {\n\tprice_field /a\n\tprice_field /b\n}", "'price_field' is given more than once"},
		{"bad timeout", "http {\n\ttimeout soon\n}", "'timeout': 'soon' is not a duration"},
		{"zero timeout", "http {\n\ttimeout 0s\n}", "'timeout' must be positive, got 0s"},
		{"repeated timeout", "http {\n\ttimeout 1s\n\ttimeout 2s\n}", "'timeout' is given more than once"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := unmarshal(tt.input)
			testcaddy.CheckErr(t, err, tt.want)
		})
	}
}

// TestHTTPSenderGlobalOption adapts the SPEC's Caddyfile with Caddy's own adapter: the otp
// global option finds the module by name, and its JSON loads back into the same sender.
func TestHTTPSenderGlobalOption(t *testing.T) {
	block := strings.ReplaceAll(everything, "\n", "\n\t\t") // inside otp, inside the global options
	out := testcaddy.Adapt(t, "{\n\totp {\n\t\tsender "+block+"\n\t}\n}\n")
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
	raw := cfg.Apps.OTP.Sender
	var members map[string]any
	if err := json.Unmarshal(raw, &members); err != nil || members["sender"] != "http" || len(members) != 8 {
		t.Errorf("expected the sender http with its 7 settings, got %s (%v)", raw, err)
	}
	var back httpsender.HTTPSender
	if err := json.Unmarshal(raw, &back); err != nil || !reflect.DeepEqual(back, everythingParsed) {
		t.Errorf("expected %+v from the adapted JSON, got %+v (%v)", everythingParsed, back, err)
	}
}
