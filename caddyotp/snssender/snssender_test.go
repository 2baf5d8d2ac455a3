package snssender

import (
	"context"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/internal/awsx"
	"github.com/caddyotp/caddyotp/caddyotp/internal/awsx/awsxtest"
	"github.com/caddyotp/caddyotp/internal/awsdouble"
	"github.com/caddyotp/caddyotp/internal/snsdouble"
	"github.com/caddyotp/caddyotp/internal/testcaddy"
)

// at is the connection to the double at url, in eu-west-2.
func at(url string) awsx.Connection {
	return awsx.Connection{Region: "eu-west-2", Endpoint: url}
}

// snsSenderFor is a provisioned sender publishing to the double d.
func snsSenderFor(t *testing.T, d *snsdouble.Double) *SNSSender {
	t.Helper()
	awsdouble.OfflineAWS(t)
	s := &SNSSender{Connection: at(d.URL())}
	testcaddy.Provision(t, s)
	return s
}

func TestSNSSenderPublishes(t *testing.T) {
	tests := []struct {
		name string
		msg  caddyotp.SMS
		want map[string]string
	}{
		{
			name: "every attribute",
			msg: caddyotp.SMS{To: "+447400123456", Text: "123456 is your Acme code. It expires in 5 minutes.",
				SenderID: "ACME", OriginationNumber: "+447400100200", MaxPriceUSD: 0.1},
			want: map[string]string{
				"AWS.SNS.SMS.SMSType":          "Transactional",
				"AWS.SNS.SMS.SenderID":         "ACME",
				"AWS.MM.SMS.OriginationNumber": "+447400100200",
				"AWS.SNS.SMS.MaxPrice":         "0.10",
			},
		},
		{
			name: "no max price",
			msg:  caddyotp.SMS{To: "+14155550100", Text: "code 000123", SenderID: "ACME"},
			want: map[string]string{"AWS.SNS.SMS.SMSType": "Transactional", "AWS.SNS.SMS.SenderID": "ACME"},
		},
		{
			name: "no sender id",
			msg:  caddyotp.SMS{To: "+353851234567", Text: "code 999999", MaxPriceUSD: 0.0463},
			want: map[string]string{"AWS.SNS.SMS.SMSType": "Transactional", "AWS.SNS.SMS.MaxPrice": "0.0463"},
		},
		{
			name: "nothing optional",
			msg:  caddyotp.SMS{To: "+447400123456", Text: "Ünïcode 😀 012345"},
			want: map[string]string{"AWS.SNS.SMS.SMSType": "Transactional"},
		},
	}
	d := snsdouble.New(t)
	s := snsSenderFor(t, d)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d.Reset()
			id, err := s.Send(context.Background(), tt.msg)
			if err != nil {
				t.Fatalf("expected a send, got %v", err)
			}
			got := d.Published()
			if len(got) != 1 {
				t.Fatalf("expected 1 publish, got %d", len(got))
			}
			p := got[0]
			if id == "" || id != p.MessageID {
				t.Errorf("expected message id %q, got %q", p.MessageID, id)
			}
			if p.PhoneNumber != tt.msg.To {
				t.Errorf("expected phone %s, got %s", tt.msg.To, p.PhoneNumber)
			}
			if p.Message != tt.msg.Text {
				t.Errorf("expected text %q, got %q", tt.msg.Text, p.Message)
			}
			if len(p.Attributes) != len(tt.want) {
				t.Errorf("expected attributes %v, got %v", tt.want, p.Attributes)
			}
			for k, v := range tt.want {
				if got, ok := p.Attributes[k]; !ok || got != v {
					t.Errorf("expected %s=%q, got %q (present: %v)", k, v, got, ok)
				}
			}
		})
	}
}

// TestSNSSenderAttempts: each send is one awsx.Attempt (whose tests hold every failure),
// bounded by the sender's timeout, and the SDK makes no retry of its own.
func TestSNSSenderAttempts(t *testing.T) {
	d := snsdouble.New(t)
	awsdouble.OfflineAWS(t)
	s := &SNSSender{Connection: at(d.URL()), Timeout: caddy.Duration(200 * time.Millisecond)}
	testcaddy.Provision(t, s)
	send := func(s *SNSSender) error {
		_, err := s.Send(context.Background(), caddyotp.SMS{To: "+447400123456", Text: "123456"})
		return err
	}

	d.FailNext(1, snsdouble.Throttled)
	awsxtest.CheckSendError(t, send(s), "Throttled", true, false)
	d.FailNext(1, snsdouble.Hang)
	start := time.Now()
	awsxtest.CheckSendError(t, send(s), "Timeout", true, true)
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("expected the timeout to cut the attempt off in about 200ms, got %v", elapsed)
	}
	if d.Attempts() != 2 {
		t.Errorf("expected 1 attempt per send, got %d for 2", d.Attempts())
	}
	awsxtest.CheckSendError(t, send(&SNSSender{}), "NotProvisioned", false, false)
}

func TestSNSSenderProvisionMakesNoAWSCall(t *testing.T) {
	d := snsdouble.New(t)
	s := &SNSSender{Connection: at(d.URL())}
	awsxtest.NoAWSCallAtProvision(t, s, d.Attempts, func() error {
		_, err := s.Send(context.Background(), caddyotp.SMS{To: "+447400123456", Text: "123456"})
		return err
	})
}

func TestSNSSenderProvision(t *testing.T) {
	t.Run("placeholders and defaults", func(t *testing.T) {
		awsdouble.OfflineAWS(t)
		t.Setenv("OTP_TEST_SNS_REGION", "eu-west-1")
		t.Setenv("OTP_TEST_SNS_ENDPOINT", "http://127.0.0.1:4566")
		s := &SNSSender{Connection: awsx.Connection{Region: "{env.OTP_TEST_SNS_REGION}", Endpoint: "{env.OTP_TEST_SNS_ENDPOINT}"}}
		testcaddy.Provision(t, s)
		if s.Region != "eu-west-1" || s.Endpoint != "http://127.0.0.1:4566" {
			t.Errorf("expected eu-west-1 and http://127.0.0.1:4566, got %s and %s", s.Region, s.Endpoint)
		}
		if time.Duration(s.Timeout) != 5*time.Second {
			t.Errorf("expected timeout 5s, got %v", time.Duration(s.Timeout))
		}
		o := s.lease.Client.Options()
		awsxtest.CheckClient(t, o.Region, o.BaseEndpoint, o.Retryer, "eu-west-1", "http://127.0.0.1:4566")
	})
	t.Run("one client per connection, let go at cleanup", func(t *testing.T) {
		awsdouble.OfflineAWS(t)
		a := &SNSSender{Connection: at("http://127.0.0.1:1"), Timeout: caddy.Duration(time.Second)}
		b := &SNSSender{Connection: at("http://127.0.0.1:1")}
		testcaddy.Provision(t, a) // and a second Cleanup when the test ends
		testcaddy.Provision(t, b)
		refs, _ := snsClients.References(a.Connection)
		if a.lease.Client != b.lease.Client || refs != 2 {
			t.Errorf("expected one connection to share a client, got two (%d references)", refs)
		}
		if err := a.Cleanup(); err != nil || a.lease != nil {
			t.Errorf("expected cleanup to let the client go, got %v", err)
		}
	})

	bad := []struct {
		name string
		s    SNSSender
		want string
	}{
		{"no region", SNSSender{}, "region"},
		{"unknown profile", SNSSender{Connection: awsx.Connection{Region: "eu-west-2", Profile: "nope"}}, "nope"},
		{"endpoint without scheme", SNSSender{Connection: at("127.0.0.1:4566")}, "sns sender: endpoint"},
		{"negative timeout", SNSSender{Connection: at(""), Timeout: -1}, "sns sender: timeout"},
	}
	awsdouble.OfflineAWS(t)
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) { awsxtest.CheckProvisionFails(t, &tt.s, tt.want) })
	}
}

func TestSNSSenderFormatMaxPrice(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{0.1, "0.10"},
		{0.10, "0.10"},
		{0.05, "0.05"},
		{0.0463, "0.0463"},
		{1, "1.00"},
		{2.5, "2.50"},
		{0.001, "0.001"},
	}
	for _, tt := range tests {
		if got := formatMaxPrice(tt.in); got != tt.want {
			t.Errorf("formatMaxPrice(%v): expected %s, got %s", tt.in, tt.want, got)
		}
	}
}

func TestSNSSenderUnmarshalCaddyfile(t *testing.T) {
	good := []struct {
		name  string
		input string
		want  SNSSender
	}{
		{"bare", `sns`, SNSSender{}},
		{"empty block", "sns {\n}", SNSSender{}},
		{
			"everything",
			"sns {\n\tregion eu-west-2\n\tendpoint http://127.0.0.1:4566\n\tprofile otp\n\ttimeout 3s\n}",
			SNSSender{Connection: awsx.Connection{Region: "eu-west-2", Endpoint: "http://127.0.0.1:4566", Profile: "otp"}, Timeout: caddy.Duration(3 * time.Second)},
		},
		{"placeholder", "sns {\n\tregion {env.AWS_REGION}\n}", SNSSender{Connection: awsx.Connection{Region: "{env.AWS_REGION}"}}},
	}
	for _, tt := range good {
		s, err := awsxtest.Unmarshal[SNSSender](tt.input)
		if err != nil || s.Connection != tt.want.Connection || s.Timeout != tt.want.Timeout {
			t.Errorf("%s: expected %+v, got %+v (%v)", tt.name, tt.want, s, err)
		}
	}

	bad := []struct {
		name  string
		input string
		want  string
	}{
		{"argument after sns", "sns eu-west-2", "wrong argument count"},
		{"unknown subdirective", "sns {\n\tbucket x\n}", "unrecognized subdirective 'bucket'"},
		{"region without value", "sns {\n\tregion\n}", "'region' needs a value"},
		{"repeated region", "sns {\n\tregion eu-west-2\n\tregion eu-west-1\n}", "'region' is given more than once"},
		{"bad timeout", "sns {\n\ttimeout soon\n}", "'timeout': 'soon' is not a duration"},
		{"zero timeout", "sns {\n\ttimeout 0s\n}", "'timeout' must be positive"},
		{"timeout without value", "sns {\n\ttimeout\n}", "'timeout' needs a value"},
		{"repeated timeout", "sns {\n\ttimeout 1s\n\ttimeout 2s\n}", "'timeout' is given more than once"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := awsxtest.Unmarshal[SNSSender](tt.input)
			testcaddy.CheckErr(t, err, tt.want)
		})
	}
}
