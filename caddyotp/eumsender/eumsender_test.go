package eumsender

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/sendertest"
	"github.com/caddyotp/caddyotp/internal/eumdouble"
	"github.com/caddyotp/caddyotp/internal/testcaddy"
)

// eumSenderFor is a provisioned sender sending to the double d, with cfg's settings.
func eumSenderFor(t *testing.T, d *eumdouble.Double, cfg EUMSender) *EUMSender {
	t.Helper()
	eumdouble.OfflineAWS(t)
	s := &cfg
	s.Region, s.Endpoint = "eu-west-2", d.URL()
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

func TestEUMSenderErrors(t *testing.T) {
	tests := []struct {
		name      string
		fault     eumdouble.Fault
		code      string
		retryable bool
	}{
		{"validation", eumdouble.Validation, "ValidationException", false},
		{"access denied", eumdouble.AccessDenied, "AccessDeniedException", false},
		{"quota", eumdouble.ServiceQuotaExceeded, "ServiceQuotaExceededException", false},
		{"not found", eumdouble.ErrorFault("ResourceNotFoundException", 400, "Configuration set otp not found"), "ResourceNotFoundException", false},
		{"conflict", eumdouble.ErrorFault("ConflictException", 400, "conflict"), "ConflictException", false},
		{"unmodelled 4xx", eumdouble.ErrorFault("SomeNewException", 409, "new"), "SomeNewException", false},
		{"throttling", eumdouble.Throttling, "ThrottlingException", true},
		{"internal", eumdouble.InternalServer, "InternalServerException", true},
		{"unavailable", eumdouble.ErrorFault("ServiceUnavailableException", 503, "busy"), "ServiceUnavailableException", true},
		{"bare 502", eumdouble.BadGateway, "HTTP502", true},
		{"bare 403", eumdouble.Fault{Kind: eumdouble.KindStatus, Status: 403}, "HTTP403", false},
	}
	d := eumdouble.New(t)
	s := eumSenderFor(t, d, EUMSender{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d.Reset()
			d.SetFault(tt.fault)
			_, err := s.Send(context.Background(), caddyotp.SMS{To: "+447400123456", Text: "123456"})
			se := sendertest.AsSendError(t, err)
			if se.Code != tt.code {
				t.Errorf("expected code %s, got %s (%v)", tt.code, se.Code, err)
			}
			if se.Retryable != tt.retryable {
				t.Errorf("expected retryable %v, got %v (%v)", tt.retryable, se.Retryable, err)
			}
			// AWS answered: nothing was billed
			if se.MaybeDelivered {
				t.Errorf("expected an error answer not maybe delivered, got maybe delivered (%v)", err)
			}
			// one attempt per call: the SDK's own retries are off
			if d.Attempts() != 1 {
				t.Errorf("expected 1 attempt, got %d", d.Attempts())
			}
		})
	}

	t.Run("refused by the double's own rules", func(t *testing.T) {
		d.Reset()
		_, err := s.Send(context.Background(), caddyotp.SMS{To: "447400123456x", Text: "123456"})
		se := sendertest.AsSendError(t, err)
		if se.Code != "ValidationException" || se.Retryable || se.MaybeDelivered {
			t.Errorf("expected ValidationException, definite, got %s, %v, %v (%v)", se.Code, se.Retryable, se.MaybeDelivered, err)
		}
	})
}

func TestEUMSenderHang(t *testing.T) {
	t.Run("attempt timeout", func(t *testing.T) {
		d := eumdouble.New(t)
		s := eumSenderFor(t, d, EUMSender{Timeout: caddy.Duration(200 * time.Millisecond)})
		d.SetFault(eumdouble.Hang)
		start := time.Now()
		_, err := s.Send(context.Background(), caddyotp.SMS{To: "+447400123456", Text: "123456"})
		elapsed := time.Since(start)
		se := sendertest.AsSendError(t, err)
		if se.Code != "Timeout" || !se.Retryable || !se.MaybeDelivered {
			t.Errorf("expected Timeout, retryable, maybe delivered, got %s, %v, %v (%v)", se.Code, se.Retryable, se.MaybeDelivered, err)
		}
		if elapsed > 3*time.Second {
			t.Errorf("expected the timeout to cut the attempt off in about 200ms, got %v", elapsed)
		}
		if d.Count() != 0 || d.Attempts() != 1 {
			t.Errorf("expected no message recorded in 1 attempt, got %d in %d", d.Count(), d.Attempts())
		}
	})
	t.Run("caller deadline", func(t *testing.T) {
		d := eumdouble.New(t)
		s := eumSenderFor(t, d, EUMSender{})
		d.SetFault(eumdouble.Hang)
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := s.Send(ctx, caddyotp.SMS{To: "+447400123456", Text: "123456"})
		elapsed := time.Since(start)
		se := sendertest.AsSendError(t, err)
		if se.Code != "DeadlineExceeded" || se.Retryable || !se.MaybeDelivered {
			t.Errorf("expected DeadlineExceeded, not retryable, maybe delivered, got %s, %v, %v (%v)", se.Code, se.Retryable, se.MaybeDelivered, err)
		}
		if elapsed > 3*time.Second {
			t.Errorf("expected the deadline to cut the attempt off in about 300ms, got %v", elapsed)
		}
	})
	t.Run("caller canceled before", func(t *testing.T) {
		d := eumdouble.New(t)
		s := eumSenderFor(t, d, EUMSender{})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := s.Send(ctx, caddyotp.SMS{To: "+447400123456", Text: "123456"})
		se := sendertest.AsSendError(t, err)
		if se.Code != "Canceled" || se.Retryable {
			t.Errorf("expected Canceled, not retryable, got %s, %v (%v)", se.Code, se.Retryable, err)
		}
		if d.Attempts() != 0 {
			t.Errorf("expected no request, got %d", d.Attempts())
		}
	})
}

func TestEUMSenderLoseReply(t *testing.T) {
	d := eumdouble.New(t)
	s := eumSenderFor(t, d, EUMSender{})
	d.FailNext(1, eumdouble.LoseReply)
	_, err := s.Send(context.Background(), caddyotp.SMS{To: "+447400123456", Text: "123456"})
	se := sendertest.AsSendError(t, err)
	if se.Code != "ConnectionError" || !se.Retryable || !se.MaybeDelivered {
		t.Errorf("expected ConnectionError, retryable, maybe delivered, got %s, %v, %v (%v)", se.Code, se.Retryable, se.MaybeDelivered, err)
	}
	if d.Count() != 1 || d.Attempts() != 1 {
		t.Errorf("expected 1 message recorded in 1 attempt, got %d in %d", d.Count(), d.Attempts())
	}
}

func TestEUMSenderConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	eumdouble.OfflineAWS(t)
	s := &EUMSender{Region: "eu-west-2", Endpoint: "http://" + addr}
	testcaddy.Provision(t, s)
	_, err = s.Send(context.Background(), caddyotp.SMS{To: "+447400123456", Text: "123456"})
	se := sendertest.AsSendError(t, err)
	// refused: the request never left, so nothing was billed
	if se.Code != "ConnectionError" || !se.Retryable || se.MaybeDelivered {
		t.Errorf("expected ConnectionError, retryable, not maybe delivered, got %s, %v, %v (%v)", se.Code, se.Retryable, se.MaybeDelivered, err)
	}
}

func TestEUMSenderNotProvisioned(t *testing.T) {
	var s EUMSender
	_, err := s.Send(context.Background(), caddyotp.SMS{To: "+447400123456", Text: "123456"})
	se := sendertest.AsSendError(t, err)
	if se.Code != "NotProvisioned" || se.Retryable || se.MaybeDelivered {
		t.Errorf("expected NotProvisioned, definite, got %s, %v, %v", se.Code, se.Retryable, se.MaybeDelivered)
	}
	if err := s.Feedback(context.Background(), "x"); err == nil {
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

// imdsCounter is a stand-in instance metadata service that counts its requests and knows
// nothing.
func imdsCounter(t *testing.T) *atomic.Int64 {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "false")
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", srv.URL)
	return &hits
}

func TestEUMSenderProvisionMakesNoAWSCall(t *testing.T) {
	d := eumdouble.New(t)
	eumdouble.OfflineAWS(t)
	// no credentials anywhere, instance metadata reachable, and the defaults mode that
	// would ask it: provision must still touch nothing
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_DEFAULTS_MODE", "auto")
	imds := imdsCounter(t)

	s := &EUMSender{Region: "eu-west-2", Endpoint: d.URL(), FeedbackEnabled: true}
	testcaddy.Provision(t, s)
	if n := imds.Load(); n != 0 {
		t.Errorf("expected no instance metadata request at provision, got %d", n)
	}
	if n := d.Attempts(); n != 0 {
		t.Errorf("expected no End User Messaging request at provision, got %d", n)
	}

	// credentials are looked for at the first send, and their absence is no retry case
	_, err := s.Send(context.Background(), caddyotp.SMS{To: "+447400123456", Text: "123456"})
	se := sendertest.AsSendError(t, err)
	if se.Retryable || se.MaybeDelivered {
		t.Errorf("expected missing credentials not retryable and not maybe delivered, got %s, %v, %v (%v)", se.Code, se.Retryable, se.MaybeDelivered, err)
	}
	if imds.Load() == 0 {
		t.Error("expected the credential chain to ask instance metadata at send, got no request")
	}
	if n := d.Attempts(); n != 0 {
		t.Errorf("expected no unsigned request, got %d", n)
	}
}

func TestEUMSenderProvision(t *testing.T) {
	t.Run("placeholders and defaults", func(t *testing.T) {
		eumdouble.OfflineAWS(t)
		t.Setenv("OTP_TEST_EUM_REGION", "eu-west-1")
		t.Setenv("OTP_TEST_EUM_ENDPOINT", "http://127.0.0.1:4566")
		t.Setenv("OTP_TEST_EUM_SET", "otp-events")
		t.Setenv("OTP_TEST_EUM_PROTECT", "pc-0123abcd")
		s := &EUMSender{Region: "{env.OTP_TEST_EUM_REGION}", Endpoint: "{env.OTP_TEST_EUM_ENDPOINT}",
			ConfigurationSet: "{env.OTP_TEST_EUM_SET}", ProtectConfiguration: "{env.OTP_TEST_EUM_PROTECT}"}
		testcaddy.Provision(t, s)
		if s.Region != "eu-west-1" || s.Endpoint != "http://127.0.0.1:4566" || s.ConfigurationSet != "otp-events" || s.ProtectConfiguration != "pc-0123abcd" {
			t.Errorf("expected the placeholders resolved, got %+v", s)
		}
		if time.Duration(s.Timeout) != 5*time.Second {
			t.Errorf("expected timeout 5s, got %v", time.Duration(s.Timeout))
		}
		o := s.client.Options()
		if o.Region != "eu-west-1" {
			t.Errorf("expected client region eu-west-1, got %s", o.Region)
		}
		if o.BaseEndpoint == nil || *o.BaseEndpoint != "http://127.0.0.1:4566" {
			t.Errorf("expected base endpoint http://127.0.0.1:4566, got %v", o.BaseEndpoint)
		}
		if o.Retryer == nil || o.Retryer.MaxAttempts() != 1 {
			t.Errorf("expected a retryer of 1 attempt, got %v", o.Retryer)
		}
	})
	t.Run("region from the environment", func(t *testing.T) {
		eumdouble.OfflineAWS(t)
		t.Setenv("AWS_REGION", "us-east-1")
		s := &EUMSender{}
		testcaddy.Provision(t, s)
		if r := s.client.Options().Region; r != "us-east-1" {
			t.Errorf("expected region us-east-1, got %s", r)
		}
	})
	t.Run("profile from the shared config", func(t *testing.T) {
		eumdouble.OfflineAWS(t)
		cfg := filepath.Join(t.TempDir(), "config")
		if err := os.WriteFile(cfg, []byte("[profile otp]\nregion = ap-southeast-2\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("AWS_CONFIG_FILE", cfg)
		s := &EUMSender{Profile: "otp"}
		testcaddy.Provision(t, s)
		if r := s.client.Options().Region; r != "ap-southeast-2" {
			t.Errorf("expected region ap-southeast-2, got %s", r)
		}
	})

	bad := []struct {
		name string
		s    EUMSender
		want string
	}{
		{"no region", EUMSender{}, "region"},
		{"unknown profile", EUMSender{Region: "eu-west-2", Profile: "nope"}, "nope"},
		{"endpoint without scheme", EUMSender{Region: "eu-west-2", Endpoint: "127.0.0.1:4566"}, "endpoint"},
		{"negative timeout", EUMSender{Region: "eu-west-2", Timeout: -1}, "timeout"},
		{"configuration set with a space", EUMSender{Region: "eu-west-2", ConfigurationSet: "my set"}, "configuration_set"},
		{"configuration set too long", EUMSender{Region: "eu-west-2", ConfigurationSet: strings.Repeat("a", 65)}, "configuration_set"},
		{"configuration set ARN of another kind", EUMSender{Region: "eu-west-2",
			ConfigurationSet: "arn:aws:sms-voice:eu-west-2:123456789012:pool/otp"}, "configuration_set"},
		{"protect configuration with a dot", EUMSender{Region: "eu-west-2", ProtectConfiguration: "pc.0123"}, "protect_configuration"},
		{"protect configuration ARN of a configuration set", EUMSender{Region: "eu-west-2",
			ProtectConfiguration: "arn:aws:sms-voice:eu-west-2:123456789012:configuration-set/otp"}, "protect_configuration"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			eumdouble.OfflineAWS(t)
			s := tt.s
			err := s.Provision(testcaddy.Context(t))
			if err == nil {
				s.Cleanup()
				t.Fatalf("expected an error naming %q, got none", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("expected an error naming %q, got %v", tt.want, err)
			}
			if err := s.Cleanup(); err != nil {
				t.Errorf("expected cleanup after a failed provision to work, got %v", err)
			}
		})
	}
}

func TestEUMSenderClientPool(t *testing.T) {
	eumdouble.OfflineAWS(t)
	a := &EUMSender{Region: "eu-west-2", Endpoint: "http://127.0.0.1:1", Timeout: caddy.Duration(time.Second)}
	b := &EUMSender{Region: "eu-west-2", Endpoint: "http://127.0.0.1:1", ConfigurationSet: "otp", FeedbackEnabled: true}
	c := &EUMSender{Region: "eu-west-1", Endpoint: "http://127.0.0.1:1"}
	for _, s := range []*EUMSender{a, b, c} {
		if err := s.Provision(testcaddy.Context(t)); err != nil {
			t.Fatal(err)
		}
	}
	if a.client != b.client {
		t.Error("expected the same region, endpoint and profile to share a client, got two")
	}
	if a.client == c.client {
		t.Error("expected another region to get its own client, got the same")
	}
	key := a.poolKey
	if refs, ok := eumClients.References(key); !ok || refs != 2 {
		t.Errorf("expected 2 references, got %d (%v)", refs, ok)
	}
	for _, s := range []*EUMSender{a, b, c} {
		if err := s.Cleanup(); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := eumClients.References(key); ok {
		t.Error("expected the client released after the last cleanup, got it still pooled")
	}
	if err := a.Cleanup(); err != nil {
		t.Errorf("expected a second cleanup to do nothing, got %v", err)
	}
}
