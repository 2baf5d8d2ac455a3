package eumsender

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/internal/awsx"
	"github.com/caddyotp/caddyotp/caddyotp/internal/awsx/awsxtest"
	"github.com/caddyotp/caddyotp/internal/awsdouble"
	"github.com/caddyotp/caddyotp/internal/eumdouble"
	"github.com/caddyotp/caddyotp/internal/testcaddy"
)

// at is the connection to the double at url, in eu-west-2.
func at(url string) awsx.Connection {
	return awsx.Connection{Region: "eu-west-2", Endpoint: url}
}

// eumSenderFor is a provisioned sender sending to the double d, with cfg's settings.
func eumSenderFor(t *testing.T, d *eumdouble.Double, cfg EUMSender) *EUMSender {
	t.Helper()
	awsdouble.OfflineAWS(t)
	s := &cfg
	s.Connection = at(d.URL())
	testcaddy.Provision(t, s)
	return s
}

func TestEUMSenderSends(t *testing.T) {
	full := caddyotp.SMS{To: "+447400123456", Text: "123456 is your Acme code. It expires in 5 minutes.",
		SenderID: "ACME", OriginationNumber: "+447400100200", MaxPriceUSD: 0.1, Template: "login", TTL: 5 * time.Minute}
	tests := []struct {
		name string
		cfg  EUMSender
		msg  caddyotp.SMS
		want eumdouble.Message // MessageID, Members and Time are not compared
		// the JSON members the request carries, beside DestinationPhoneNumber, MessageBody
		// and MessageType
		members []string
	}{
		{
			name: "every member",
			cfg:  EUMSender{ConfigurationSet: "otp", ProtectConfiguration: "pc-0123abcd", FeedbackEnabled: true},
			msg:  full,
			want: eumdouble.Message{DestinationPhoneNumber: full.To, MessageBody: full.Text, MessageType: "TRANSACTIONAL",
				OriginationIdentity: "+447400100200", MaxPrice: "0.10", TimeToLive: 300, ConfigurationSetName: "otp",
				ProtectConfigurationID: "pc-0123abcd", MessageFeedbackEnabled: true, Context: map[string]string{"template": "login"}},
			members: []string{"ConfigurationSetName", "Context", "MaxPrice", "MessageFeedbackEnabled", "OriginationIdentity",
				"ProtectConfigurationId", "TimeToLive"},
		},
		{
			name: "sender id without an origination number",
			msg:  caddyotp.SMS{To: "+12025550123", Text: "code 000123", SenderID: "ACME", MaxPriceUSD: 0.0463},
			want: eumdouble.Message{DestinationPhoneNumber: "+12025550123", MessageBody: "code 000123", MessageType: "TRANSACTIONAL",
				OriginationIdentity: "ACME", MaxPrice: "0.0463"},
			members: []string{"MaxPrice", "OriginationIdentity"},
		},
		{
			name: "ARNs and a short ttl",
			cfg: EUMSender{ConfigurationSet: "arn:aws:sms-voice:eu-west-2:123456789012:configuration-set/otp",
				ProtectConfiguration: "arn:aws:sms-voice:eu-west-2:123456789012:protect-configuration/protect-0123abcd"},
			msg: caddyotp.SMS{To: "+447400123456", Text: "code 999999", TTL: 1500 * time.Millisecond},
			want: eumdouble.Message{DestinationPhoneNumber: "+447400123456", MessageBody: "code 999999", MessageType: "TRANSACTIONAL",
				TimeToLive: 5, ConfigurationSetName: "arn:aws:sms-voice:eu-west-2:123456789012:configuration-set/otp",
				ProtectConfigurationID: "arn:aws:sms-voice:eu-west-2:123456789012:protect-configuration/protect-0123abcd"},
			members: []string{"ConfigurationSetName", "ProtectConfigurationId", "TimeToLive"},
		},
		{
			name:    "nothing optional",
			msg:     caddyotp.SMS{To: "+447400123456", Text: "Ünïcode 😀 012345"},
			want:    eumdouble.Message{DestinationPhoneNumber: "+447400123456", MessageBody: "Ünïcode 😀 012345", MessageType: "TRANSACTIONAL"},
			members: nil,
		},
	}
	d := eumdouble.New(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d.Reset()
			s := eumSenderFor(t, d, tt.cfg)
			id, err := s.Send(context.Background(), tt.msg)
			if err != nil {
				t.Fatalf("expected a send, got %v", err)
			}
			got := d.Messages()
			if len(got) != 1 {
				t.Fatalf("expected 1 message, got %d", len(got))
			}
			m := got[0]
			if id == "" || id != m.MessageID {
				t.Errorf("expected message id %q, got %q", m.MessageID, id)
			}
			members := append([]string{"DestinationPhoneNumber", "MessageBody", "MessageType"}, tt.members...)
			if !sameSet(m.Members, members) {
				t.Errorf("expected members %v, got %v", members, m.Members)
			}
			tt.want.MessageID, tt.want.Members, tt.want.Time = m.MessageID, m.Members, m.Time
			if !reflect.DeepEqual(m, tt.want) {
				t.Errorf("expected %+v, got %+v", tt.want, m)
			}
		})
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, s := range a {
		seen[s]++
	}
	for _, s := range b {
		seen[s]--
	}
	for _, n := range seen {
		if n != 0 {
			return false
		}
	}
	return true
}

// TestEUMSenderAttempts: each send is one awsx.Attempt (whose tests hold every failure),
// bounded by the sender's timeout, and the SDK makes no retry of its own.
func TestEUMSenderAttempts(t *testing.T) {
	d := eumdouble.New(t)
	s := eumSenderFor(t, d, EUMSender{Timeout: caddy.Duration(200 * time.Millisecond)})
	send := func(s *EUMSender) error {
		_, err := s.Send(context.Background(), caddyotp.SMS{To: "+447400123456", Text: "123456"})
		return err
	}

	d.FailNext(1, eumdouble.ServiceQuotaExceeded)
	awsxtest.CheckSendError(t, send(s), "ServiceQuotaExceededException", false, false)
	d.FailNext(1, eumdouble.Hang)
	start := time.Now()
	awsxtest.CheckSendError(t, send(s), "Timeout", true, true)
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("expected the timeout to cut the attempt off in about 200ms, got %v", elapsed)
	}
	if d.Count() != 0 || d.Attempts() != 2 {
		t.Errorf("expected no message recorded in 1 attempt per send, got %d in %d", d.Count(), d.Attempts())
	}

	var unprovisioned EUMSender
	awsxtest.CheckSendError(t, send(&unprovisioned), "NotProvisioned", false, false)
	if err := unprovisioned.Feedback(context.Background(), "x"); err == nil {
		t.Error("expected feedback on an unprovisioned sender to fail, got nil")
	}
}

func TestEUMSenderFeedback(t *testing.T) {
	d := eumdouble.New(t)
	s := eumSenderFor(t, d, EUMSender{FeedbackEnabled: true, Timeout: caddy.Duration(300 * time.Millisecond)})
	if !s.WantsFeedback() {
		t.Fatal("expected WantsFeedback true with feedback on, got false")
	}
	if off := (&EUMSender{}); off.WantsFeedback() {
		t.Error("expected WantsFeedback false by default, got true")
	}
	id, err := s.Send(context.Background(), caddyotp.SMS{To: "+447400123456", Text: "123456"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Feedback(context.Background(), id); err != nil {
		t.Fatalf("expected feedback accepted, got %v", err)
	}
	fb := d.Feedback()
	if len(fb) != 1 || fb[0].MessageID != id || fb[0].Status != "RECEIVED" {
		t.Errorf("expected one RECEIVED feedback for %s, got %+v", id, fb)
	}

	attempts := d.Attempts()
	tests := []struct {
		name  string
		id    string
		fault eumdouble.Fault
		want  string
	}{
		{"throttled", id, eumdouble.Throttling, "ThrottlingException"},
		{"unknown message", "0f3b8d52-8a1c-4f7e-9d2b-6c5a4e3f2a10", eumdouble.Fault{}, "ResourceNotFoundException"},
		{"hang", id, eumdouble.Hang, "deadline"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d.FailNext(1, tt.fault)
			err := s.Feedback(context.Background(), tt.id)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("expected an error containing %q, got %v", tt.want, err)
			}
		})
	}
	// one attempt each: no retries of feedback either
	if n := d.Attempts() - attempts; n != len(tests) {
		t.Errorf("expected %d attempts, got %d", len(tests), n)
	}
	if err := s.Feedback(context.Background(), ""); err == nil {
		t.Error("expected feedback without a message id to fail, got nil")
	}
	if n := d.Attempts() - attempts; n != len(tests) {
		t.Errorf("expected no request for an empty message id, got %d", n-len(tests))
	}
}

func TestEUMSenderProvisionMakesNoAWSCall(t *testing.T) {
	d := eumdouble.New(t)
	s := &EUMSender{Connection: at(d.URL()), FeedbackEnabled: true}
	awsxtest.NoAWSCallAtProvision(t, s, d.Attempts, func() error {
		_, err := s.Send(context.Background(), caddyotp.SMS{To: "+447400123456", Text: "123456"})
		return err
	})
}

func TestEUMSenderProvision(t *testing.T) {
	t.Run("placeholders and defaults", func(t *testing.T) {
		awsdouble.OfflineAWS(t)
		t.Setenv("OTP_TEST_EUM_REGION", "eu-west-1")
		t.Setenv("OTP_TEST_EUM_ENDPOINT", "http://127.0.0.1:4566")
		t.Setenv("OTP_TEST_EUM_SET", "otp-events")
		t.Setenv("OTP_TEST_EUM_PROTECT", "pc-0123abcd")
		s := &EUMSender{Connection: awsx.Connection{Region: "{env.OTP_TEST_EUM_REGION}", Endpoint: "{env.OTP_TEST_EUM_ENDPOINT}"},
			ConfigurationSet: "{env.OTP_TEST_EUM_SET}", ProtectConfiguration: "{env.OTP_TEST_EUM_PROTECT}"}
		testcaddy.Provision(t, s)
		if s.Region != "eu-west-1" || s.Endpoint != "http://127.0.0.1:4566" || s.ConfigurationSet != "otp-events" || s.ProtectConfiguration != "pc-0123abcd" {
			t.Errorf("expected the placeholders resolved, got %+v", s)
		}
		if time.Duration(s.Timeout) != 5*time.Second {
			t.Errorf("expected timeout 5s, got %v", time.Duration(s.Timeout))
		}
		o := s.lease.Client.Options()
		awsxtest.CheckClient(t, o.Region, o.BaseEndpoint, o.Retryer, "eu-west-1", "http://127.0.0.1:4566")
	})
	t.Run("a client shared by another configuration set", func(t *testing.T) {
		awsdouble.OfflineAWS(t)
		a := &EUMSender{Connection: at("http://127.0.0.1:1")}
		b := &EUMSender{Connection: at("http://127.0.0.1:1"), ConfigurationSet: "otp", FeedbackEnabled: true}
		testcaddy.Provision(t, a)
		testcaddy.Provision(t, b)
		if a.lease.Client != b.lease.Client {
			t.Error("expected the settings of the connection alone to choose the client, got two clients")
		}
	})

	bad := []struct {
		name string
		s    EUMSender
		want string
	}{
		{"no region", EUMSender{}, "region"},
		{"unknown profile", EUMSender{Connection: awsx.Connection{Region: "eu-west-2", Profile: "nope"}}, "nope"},
		{"endpoint without scheme", EUMSender{Connection: at("127.0.0.1:4566")}, "eum sender: endpoint"},
		{"negative timeout", EUMSender{Connection: at(""), Timeout: -1}, "eum sender: timeout"},
		{"configuration set with a space", EUMSender{Connection: at(""), ConfigurationSet: "my set"}, "configuration_set"},
		{"configuration set too long", EUMSender{Connection: at(""), ConfigurationSet: strings.Repeat("a", 65)}, "configuration_set"},
		{"configuration set ARN of another kind", EUMSender{Connection: at(""),
			ConfigurationSet: "arn:aws:sms-voice:eu-west-2:123456789012:pool/otp"}, "configuration_set"},
		{"protect configuration with a dot", EUMSender{Connection: at(""), ProtectConfiguration: "pc.0123"}, "protect_configuration"},
		{"protect configuration ARN of a configuration set", EUMSender{Connection: at(""),
			ProtectConfiguration: "arn:aws:sms-voice:eu-west-2:123456789012:configuration-set/otp"}, "protect_configuration"},
	}
	awsdouble.OfflineAWS(t)
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) { awsxtest.CheckProvisionFails(t, &tt.s, tt.want) })
	}
}
