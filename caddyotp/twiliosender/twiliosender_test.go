package twiliosender

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/internal/awsx/awsxtest"
	"github.com/caddyotp/caddyotp/internal/awsdouble"
	"github.com/caddyotp/caddyotp/internal/testcaddy"
	"github.com/caddyotp/caddyotp/internal/twiliodouble"
)

const service = "MG0123456789abcdef0123456789abcdef"

// withToken and withKey are the double's account, authenticated each way, sending from
// the number given.
func withToken(from string) TwilioSender {
	return TwilioSender{AccountSID: twiliodouble.AccountSID, AuthToken: twiliodouble.AuthToken, From: from}
}

func withKey(from string) TwilioSender {
	return TwilioSender{AccountSID: twiliodouble.AccountSID, APIKey: twiliodouble.APIKey, APISecret: twiliodouble.APISecret, From: from}
}

// senderAt is cfg provisioned to send to endpoint.
func senderAt(t *testing.T, endpoint string, cfg TwilioSender) *TwilioSender {
	t.Helper()
	s := &cfg
	s.Endpoint = endpoint
	testcaddy.Provision(t, s)
	return s
}

func TestTwilioSenderSends(t *testing.T) {
	viaService := withToken("")
	viaService.MessagingServiceSID = service
	tests := []struct {
		name string
		cfg  TwilioSender
		msg  caddyotp.SMS
		want twiliodouble.Message // SID and Time are not compared
	}{
		{
			name: "auth token, from and ttl",
			cfg:  withToken("+15005550006"),
			msg:  caddyotp.SMS{To: "+447400123456", Text: "123456 is your code", TTL: 5 * time.Minute, MaxPriceUSD: 0.1, Template: "login"},
			want: twiliodouble.Message{AccountSID: twiliodouble.AccountSID, AuthUser: twiliodouble.AccountSID, To: "+447400123456",
				From: "+15005550006", Body: "123456 is your code", ValidityPeriod: 300, Params: []string{"Body", "From", "To", "ValidityPeriod"}},
		},
		{
			name: "api key and an alphanumeric from",
			cfg:  withKey("Acme"),
			msg:  caddyotp.SMS{To: "+12025550123", Text: "Ünïcode 😀 012345"},
			want: twiliodouble.Message{AccountSID: twiliodouble.AccountSID, AuthUser: twiliodouble.APIKey, To: "+12025550123",
				From: "Acme", Body: "Ünïcode 😀 012345", Params: []string{"Body", "From", "To"}},
		},
		{
			name: "messaging service",
			cfg:  viaService,
			msg:  caddyotp.SMS{To: "+447400123456", Text: "code 000123", TTL: 20 * time.Hour},
			want: twiliodouble.Message{AccountSID: twiliodouble.AccountSID, AuthUser: twiliodouble.AccountSID, To: "+447400123456",
				MessagingServiceSID: service, Body: "code 000123", ValidityPeriod: 36000, Params: []string{"Body", "MessagingServiceSid", "To", "ValidityPeriod"}},
		},
		{
			name: "the template's sender id overrides from",
			cfg:  withToken("+15005550006"),
			msg:  caddyotp.SMS{To: "+447400123456", Text: "code 1", SenderID: "ACME", TTL: 300 * time.Millisecond},
			want: twiliodouble.Message{AccountSID: twiliodouble.AccountSID, AuthUser: twiliodouble.AccountSID, To: "+447400123456",
				From: "ACME", Body: "code 1", ValidityPeriod: 1, Params: []string{"Body", "From", "To", "ValidityPeriod"}},
		},
		{
			name: "the template's origination number overrides its sender id",
			cfg:  withKey("+15005550006"),
			msg:  caddyotp.SMS{To: "+447400123456", Text: "code 2", SenderID: "ACME", OriginationNumber: "+447400100200"},
			want: twiliodouble.Message{AccountSID: twiliodouble.AccountSID, AuthUser: twiliodouble.APIKey, To: "+447400123456",
				From: "+447400100200", Body: "code 2", Params: []string{"Body", "From", "To"}},
		},
		{
			name: "a template's sender goes with the messaging service",
			cfg:  viaService,
			msg:  caddyotp.SMS{To: "+447400123456", Text: "code 3", SenderID: "ACME"},
			want: twiliodouble.Message{AccountSID: twiliodouble.AccountSID, AuthUser: twiliodouble.AccountSID, To: "+447400123456",
				From: "ACME", MessagingServiceSID: service, Body: "code 3", Params: []string{"Body", "From", "MessagingServiceSid", "To"}},
		},
	}
	d := twiliodouble.New(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d.Reset()
			s := senderAt(t, d.URL(), tt.cfg)
			id, err := s.Send(context.Background(), tt.msg)
			if err != nil {
				t.Fatalf("expected a send, got %v", err)
			}
			got := d.Messages()
			if len(got) != 1 {
				t.Fatalf("expected 1 message, got %d", len(got))
			}
			m := got[0]
			if id == "" || id != m.SID {
				t.Errorf("expected message id %q, got %q", m.SID, id)
			}
			tt.want.SID, tt.want.Time = m.SID, m.Time
			if !reflect.DeepEqual(m, tt.want) {
				t.Errorf("expected %+v, got %+v", tt.want, m)
			}
		})
	}
}

func TestTwilioSenderPrice(t *testing.T) {
	d := twiliodouble.New(t)
	s := senderAt(t, d.URL(), withToken("+15005550006"))
	tests := []struct {
		name, price, unit string
		billed            float64
		hasPrice          bool
	}{
		{"null", "", "USD", 0, false},
		{"a charge in USD", "-0.0075", "USD", 0.0075, true},
		{"trailing zero, lower case unit", "-0.00750", "usd", 0.0075, true},
		{"a charge in EUR", "-0.0075", "EUR", 0, false},
		{"not a number", "-0.0075x", "USD", 0, false},
	}
	for _, tt := range tests {
		d.SetPrice(tt.price, tt.unit)
		r, err := s.SendPriced(context.Background(), caddyotp.SMS{To: "+447400123456", Text: "code 123456"})
		if err != nil {
			t.Fatalf("%s: expected a send, got %v", tt.name, err)
		}
		if r.MessageID == "" || r.HasPrice != tt.hasPrice || r.BilledUSD != tt.billed {
			t.Errorf("%s: expected a message id and price %v (%v), got %+v", tt.name, tt.billed, tt.hasPrice, r)
		}
	}
}

// TestTwilioSenderErrors: each error class, through the library, as the service needs it
// told: definite (nothing billed, another provider may be tried) or maybe sent.
func TestTwilioSenderErrors(t *testing.T) {
	d := twiliodouble.New(t)
	refused := awsdouble.RefusedURL(t)
	tests := []struct {
		name      string
		endpoint  string // default: the double
		cfg       TwilioSender
		fault     twiliodouble.Fault
		to        string
		code      string
		retryable bool
		maybe     bool
		recorded  int // messages the double accepted
	}{
		{name: "invalid To", to: "447400123456", code: "21211"},
		{name: "invalid To, as a fault", fault: twiliodouble.InvalidTo, code: "21211"},
		{name: "wrong auth token", cfg: TwilioSender{AccountSID: twiliodouble.AccountSID, AuthToken: "wrong0token", From: "+15005550006"}, code: "20003"},
		{name: "wrong api secret", cfg: TwilioSender{AccountSID: twiliodouble.AccountSID, APIKey: twiliodouble.APIKey, APISecret: "wrong", From: "+15005550006"}, code: "20003"},
		{name: "429", fault: twiliodouble.TooManyRequests, code: "20429", retryable: true},
		{name: "500", fault: twiliodouble.InternalError, code: "20500", retryable: true},
		{name: "503", fault: twiliodouble.Unavailable, code: "20503", retryable: true},
		{name: "a proxy's 502 page", fault: twiliodouble.BadGateway, code: "HTTP502", retryable: true},
		{name: "a 400 without Twilio's code", fault: twiliodouble.Fault{Kind: twiliodouble.KindStatus, Status: 400}, code: "HTTP400"},
		{name: "hang", fault: twiliodouble.Hang, code: "Timeout", retryable: true, maybe: true},
		{name: "drop", fault: twiliodouble.Drop, code: "ConnectionError", retryable: true, maybe: true, recorded: 1},
		{name: "refused", endpoint: refused, code: "ConnectionError", retryable: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d.Reset()
			if tt.fault.Kind != "" {
				d.FailNext(1, tt.fault)
			}
			cfg, endpoint, to := tt.cfg, tt.endpoint, tt.to
			if cfg.AccountSID == "" {
				cfg = withToken("+15005550006")
			}
			if endpoint == "" {
				endpoint = d.URL()
			}
			if to == "" {
				to = "+447400123456"
			}
			cfg.Timeout = caddy.Duration(time.Second)
			s := senderAt(t, endpoint, cfg)
			start := time.Now()
			id, err := s.Send(context.Background(), caddyotp.SMS{To: to, Text: "code 123456"})
			awsxtest.CheckSendError(t, err, tt.code, tt.retryable, tt.maybe)
			if id != "" {
				t.Errorf("expected no message id, got %s", id)
			}
			if fails := caddyotp.FailsOver(err); fails == tt.maybe {
				t.Errorf("expected FailsOver %v, got %v", !tt.maybe, fails)
			}
			if elapsed := time.Since(start); elapsed > 3*time.Second {
				t.Errorf("expected the attempt cut off within its 1s timeout, took %v", elapsed)
			}
			if d.Count() != tt.recorded {
				t.Errorf("expected %d messages accepted, got %d", tt.recorded, d.Count())
			}
			// the double counts the requests that passed its authentication
			if authenticated := tt.code != "20003"; tt.endpoint == "" && authenticated && d.Attempts() != 1 {
				t.Errorf("expected exactly 1 attempt, got %d", d.Attempts())
			}
		})
	}
}

// TestTwilioSenderCallerContext: the caller's context bounds the attempt too, though the
// library makes its requests without one; a caller gone before the attempt sends nothing.
func TestTwilioSenderCallerContext(t *testing.T) {
	d := twiliodouble.New(t)
	s := senderAt(t, d.URL(), withToken("+15005550006"))
	msg := caddyotp.SMS{To: "+447400123456", Text: "code 123456"}

	d.FailNext(1, twiliodouble.Hang)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := s.Send(ctx, msg)
	awsxtest.CheckSendError(t, err, "DeadlineExceeded", false, true)
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("expected the caller's 100ms deadline to end the attempt, took %v", elapsed)
	}

	gone, cancelNow := context.WithCancel(context.Background())
	cancelNow()
	_, err = s.Send(gone, msg)
	awsxtest.CheckSendError(t, err, "Canceled", false, false)
	if d.Attempts() != 1 {
		t.Errorf("expected no request from a caller gone, got %d attempts", d.Attempts())
	}
}

func TestTwilioSenderNotProvisioned(t *testing.T) {
	s := withToken("+15005550006")
	_, err := s.Send(context.Background(), caddyotp.SMS{To: "+447400123456", Text: "x"})
	awsxtest.CheckSendError(t, err, "NotProvisioned", false, false)
	if err := s.Cleanup(); err != nil {
		t.Errorf("expected cleanup of an unprovisioned sender to work, got %v", err)
	}
}

// TestTwilioSenderProvisionErrors: every bad setting fails Provision with an error naming
// it, and leaves Cleanup working. No secret is ever in the error.
func TestTwilioSenderProvisionErrors(t *testing.T) {
	t.Setenv("OTP_TEST_UNSET", "")
	ok := withToken("+15005550006")
	with := func(edit func(*TwilioSender)) TwilioSender {
		s := ok
		edit(&s)
		return s
	}
	secret := "Secret0123456789abcdefGHIJKLMNO!"
	tests := []struct {
		name string
		cfg  TwilioSender
		want string
	}{
		{"no account", with(func(s *TwilioSender) { s.AccountSID = "" }), "account_sid is required"},
		{"account from an unset variable", with(func(s *TwilioSender) { s.AccountSID = "{env.OTP_TEST_UNSET}" }), "account_sid is required"},
		{"account of another kind", with(func(s *TwilioSender) { s.AccountSID = twiliodouble.APIKey }), "account_sid \"SK"},
		{"account too short", with(func(s *TwilioSender) { s.AccountSID = "AC0123" }), "account_sid \"AC0123\" must be AC and 32 hex digits"},
		{"no credentials", with(func(s *TwilioSender) { s.AuthToken = "" }), "set auth_token, or api_key and api_secret"},
		{"token and key", with(func(s *TwilioSender) { s.APIKey, s.APISecret = twiliodouble.APIKey, twiliodouble.APISecret }), "not both"},
		{"token and secret", with(func(s *TwilioSender) { s.APISecret = twiliodouble.APISecret }), "set auth_token, or api_key and api_secret, not both"},
		{"token with a symbol", with(func(s *TwilioSender) { s.AuthToken = secret }), "auth_token must be letters and digits only"},
		{"key without secret", with(func(s *TwilioSender) { s.AuthToken, s.APIKey = "", twiliodouble.APIKey }), "api_key needs api_secret"},
		{"secret without key", with(func(s *TwilioSender) { s.AuthToken, s.APISecret = "", twiliodouble.APISecret }), "api_secret needs api_key"},
		{"key of another kind", with(func(s *TwilioSender) { s.AuthToken, s.APIKey, s.APISecret = "", twiliodouble.AccountSID, "s3cret" }), "api_key \"AC"},
		{"secret with a symbol", with(func(s *TwilioSender) { s.AuthToken, s.APIKey, s.APISecret = "", twiliodouble.APIKey, secret }), "api_secret must be letters and digits only"},
		{"no sender", with(func(s *TwilioSender) { s.From = "" }), "set from or messaging_service_sid"},
		{"from and service", with(func(s *TwilioSender) { s.MessagingServiceSID = service }), "set from or messaging_service_sid, not both"},
		{"from not E.164", with(func(s *TwilioSender) { s.From = "07400123456" }), "from \"07400123456\" must be"},
		{"from id too long", with(func(s *TwilioSender) { s.From = "AcmeCompanyLtd" }), "from \"AcmeCompanyLtd\" must be"},
		{"from id with a symbol", with(func(s *TwilioSender) { s.From = "Acme!" }), "from \"Acme!\" must be"},
		{"service of another kind", with(func(s *TwilioSender) { s.From, s.MessagingServiceSID = "", twiliodouble.AccountSID }), "messaging_service_sid \"AC"},
		{"endpoint not a URL", with(func(s *TwilioSender) { s.Endpoint = "127.0.0.1:4567" }), "endpoint \"127.0.0.1:4567\" must be an http or https URL"},
		{"endpoint of ftp", with(func(s *TwilioSender) { s.Endpoint = "ftp://127.0.0.1" }), "endpoint \"ftp://127.0.0.1\" must be an http or https URL"},
		{"endpoint with a path", with(func(s *TwilioSender) { s.Endpoint = "http://127.0.0.1:4567/twilio" }), "endpoint \"http://127.0.0.1:4567/twilio\" must be a scheme and host only"},
		{"endpoint with a query", with(func(s *TwilioSender) { s.Endpoint = "http://127.0.0.1:4567?x=1" }), "must be a scheme and host only"},
		{"endpoint with credentials", with(func(s *TwilioSender) { s.Endpoint = "http://u:p@127.0.0.1:4567" }), "must be a scheme and host only"},
		{"timeout too short", with(func(s *TwilioSender) { s.Timeout = caddy.Duration(500 * time.Millisecond) }), "timeout must be from 1s to 30s, got 500ms"},
		{"timeout too long", with(func(s *TwilioSender) { s.Timeout = caddy.Duration(time.Minute) }), "timeout must be from 1s to 30s, got 1m0s"},
		{"negative timeout", with(func(s *TwilioSender) { s.Timeout = caddy.Duration(-time.Second) }), "timeout must be from 1s to 30s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.cfg
			awsxtest.CheckProvisionFails(t, &s, tt.want)
			if err := s.Validate(); err != nil && strings.Contains(err.Error(), secret) {
				t.Errorf("expected no secret in the error, got %v", err)
			}
		})
	}
}

// TestTwilioSenderPlaceholders: every setting takes {env.*} placeholders, resolved at
// provision; the defaults are set there too.
func TestTwilioSenderPlaceholders(t *testing.T) {
	env := map[string]string{
		"OTP_TWILIO_SID": twiliodouble.AccountSID, "OTP_TWILIO_KEY": twiliodouble.APIKey, "OTP_TWILIO_SECRET": twiliodouble.APISecret,
		"OTP_TWILIO_SERVICE": service, "OTP_TWILIO_ENDPOINT": "http://127.0.0.1:4567",
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	s := &TwilioSender{AccountSID: "{env.OTP_TWILIO_SID}", APIKey: "{env.OTP_TWILIO_KEY}", APISecret: "{env.OTP_TWILIO_SECRET}",
		MessagingServiceSID: "{env.OTP_TWILIO_SERVICE}", Endpoint: "{env.OTP_TWILIO_ENDPOINT}"}
	testcaddy.Provision(t, s)
	if s.AccountSID != twiliodouble.AccountSID || s.APIKey != twiliodouble.APIKey || s.APISecret != twiliodouble.APISecret ||
		s.MessagingServiceSID != service || s.Endpoint != "http://127.0.0.1:4567" || s.endpoint.Host != "127.0.0.1:4567" ||
		time.Duration(s.Timeout) != 5*time.Second {
		t.Errorf("expected the placeholders resolved and a 5s timeout, got %+v", s)
	}

	t.Setenv("OTP_TWILIO_TOKEN", twiliodouble.AuthToken)
	t.Setenv("OTP_TWILIO_FROM", "+15005550006")
	s = &TwilioSender{AccountSID: "{env.OTP_TWILIO_SID}", AuthToken: "{env.OTP_TWILIO_TOKEN}", From: "{env.OTP_TWILIO_FROM}"}
	testcaddy.Provision(t, s)
	if s.AuthToken != twiliodouble.AuthToken || s.From != "+15005550006" || s.endpoint != nil {
		t.Errorf("expected the token and from resolved and Twilio's own endpoint, got %+v", s)
	}
}

func TestTwilioSenderModule(t *testing.T) {
	m, err := caddy.GetModule("otp.senders.twilio")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.New().(caddyotp.PricedSender); !ok {
		t.Errorf("expected a PricedSender, got %T", m.New())
	}
}
