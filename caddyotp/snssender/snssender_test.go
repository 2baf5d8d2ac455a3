package snssender

import (
	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/sendertest"

	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddyotp/caddyotp/internal/snsdouble"
	"github.com/caddyotp/caddyotp/internal/testcaddy"
)

// snsSenderFor is a provisioned sender publishing to the double d.
func snsSenderFor(t *testing.T, d *snsdouble.Double) *SNSSender {
	t.Helper()
	snsdouble.OfflineAWS(t)
	s := &SNSSender{Region: "eu-west-2", Endpoint: d.URL()}
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

func TestSNSSenderErrors(t *testing.T) {
	tests := []struct {
		fault     snsdouble.Fault
		code      string
		retryable bool
	}{
		{snsdouble.Throttled, "Throttled", true},
		{snsdouble.ThrottlingException, "ThrottlingException", true},
		{snsdouble.ErrorFault("Throttling", 400, "Rate exceeded"), "Throttling", true},
		{snsdouble.ErrorFault("TooManyRequestsException", 429, "slow down"), "TooManyRequestsException", true},
		{snsdouble.ErrorFault("RequestLimitExceeded", 400, "slow down"), "RequestLimitExceeded", true},
		{snsdouble.InternalError, "InternalError", true},
		{snsdouble.ErrorFault("ServiceUnavailable", 503, "busy"), "ServiceUnavailable", true},
		{snsdouble.InvalidParameter, "InvalidParameter", false},
		{snsdouble.ErrorFault("AuthorizationError", 403, "not allowed"), "AuthorizationError", false},
		{snsdouble.ErrorFault("OptedOut", 400, "opted out"), "OptedOut", false},
		{snsdouble.ErrorFault("KMSThrottling", 400, "kms"), "KMSThrottling", false},
	}
	d := snsdouble.New(t)
	s := snsSenderFor(t, d)
	for _, tt := range tests {
		t.Run(tt.fault.Code, func(t *testing.T) {
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
			// SNS answered: nothing was billed
			if se.MaybeDelivered {
				t.Errorf("expected an error answer not maybe delivered, got maybe delivered (%v)", err)
			}
			// one attempt per call: the SDK's own retries are off
			if d.Attempts() != 1 {
				t.Errorf("expected 1 attempt, got %d", d.Attempts())
			}
		})
	}
}

func TestSNSSenderHang(t *testing.T) {
	t.Run("caller deadline", func(t *testing.T) {
		d := snsdouble.New(t)
		s := snsSenderFor(t, d)
		d.SetFault(snsdouble.Hang)
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
		if d.Count() != 0 {
			t.Errorf("expected no publish recorded, got %d", d.Count())
		}
	})
	t.Run("attempt timeout", func(t *testing.T) {
		d := snsdouble.New(t)
		snsdouble.OfflineAWS(t)
		s := &SNSSender{Region: "eu-west-2", Endpoint: d.URL(), Timeout: caddy.Duration(200 * time.Millisecond)}
		testcaddy.Provision(t, s)
		d.SetFault(snsdouble.Hang)
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
	})
	t.Run("caller canceled before", func(t *testing.T) {
		d := snsdouble.New(t)
		s := snsSenderFor(t, d)
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

func TestSNSSenderLoseReply(t *testing.T) {
	d := snsdouble.New(t)
	s := snsSenderFor(t, d)
	d.FailNext(1, snsdouble.LoseReply)
	_, err := s.Send(context.Background(), caddyotp.SMS{To: "+447400123456", Text: "123456"})
	se := sendertest.AsSendError(t, err)
	if se.Code != "ConnectionError" || !se.Retryable || !se.MaybeDelivered {
		t.Errorf("expected ConnectionError, retryable, maybe delivered, got %s, %v, %v (%v)", se.Code, se.Retryable, se.MaybeDelivered, err)
	}
	if d.Count() != 1 || d.Attempts() != 1 {
		t.Errorf("expected 1 publish recorded in 1 attempt, got %d in %d", d.Count(), d.Attempts())
	}
}

func TestSNSSenderConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	snsdouble.OfflineAWS(t)
	s := &SNSSender{Region: "eu-west-2", Endpoint: "http://" + addr}
	testcaddy.Provision(t, s)
	_, err = s.Send(context.Background(), caddyotp.SMS{To: "+447400123456", Text: "123456"})
	se := sendertest.AsSendError(t, err)
	// refused: the request never left, so nothing was billed
	if se.Code != "ConnectionError" || !se.Retryable || se.MaybeDelivered {
		t.Errorf("expected ConnectionError, retryable, not maybe delivered, got %s, %v, %v (%v)", se.Code, se.Retryable, se.MaybeDelivered, err)
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

func TestSNSSenderProvisionMakesNoAWSCall(t *testing.T) {
	d := snsdouble.New(t)
	snsdouble.OfflineAWS(t)
	// no credentials anywhere, instance metadata reachable, and the defaults mode that
	// would ask it: provision must still touch nothing
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_DEFAULTS_MODE", "auto")
	imds := imdsCounter(t)

	s := &SNSSender{Region: "eu-west-2", Endpoint: d.URL()}
	testcaddy.Provision(t, s)
	if n := imds.Load(); n != 0 {
		t.Errorf("expected no instance metadata request at provision, got %d", n)
	}
	if n := d.Attempts(); n != 0 {
		t.Errorf("expected no SNS request at provision, got %d", n)
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
		t.Errorf("expected no unsigned SNS request, got %d", n)
	}
}

func TestSNSSenderProvision(t *testing.T) {
	t.Run("placeholders and defaults", func(t *testing.T) {
		snsdouble.OfflineAWS(t)
		t.Setenv("OTP_TEST_SNS_REGION", "eu-west-1")
		t.Setenv("OTP_TEST_SNS_ENDPOINT", "http://127.0.0.1:4566")
		s := &SNSSender{Region: "{env.OTP_TEST_SNS_REGION}", Endpoint: "{env.OTP_TEST_SNS_ENDPOINT}"}
		testcaddy.Provision(t, s)
		if s.Region != "eu-west-1" || s.Endpoint != "http://127.0.0.1:4566" {
			t.Errorf("expected eu-west-1 and http://127.0.0.1:4566, got %s and %s", s.Region, s.Endpoint)
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
		snsdouble.OfflineAWS(t)
		t.Setenv("AWS_REGION", "us-east-1")
		s := &SNSSender{}
		testcaddy.Provision(t, s)
		if r := s.client.Options().Region; r != "us-east-1" {
			t.Errorf("expected region us-east-1, got %s", r)
		}
	})
	t.Run("profile from the shared config", func(t *testing.T) {
		snsdouble.OfflineAWS(t)
		cfg := filepath.Join(t.TempDir(), "config")
		if err := os.WriteFile(cfg, []byte("[profile otp]\nregion = ap-southeast-2\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("AWS_CONFIG_FILE", cfg)
		s := &SNSSender{Profile: "otp"}
		testcaddy.Provision(t, s)
		if r := s.client.Options().Region; r != "ap-southeast-2" {
			t.Errorf("expected region ap-southeast-2, got %s", r)
		}
	})

	bad := []struct {
		name string
		s    SNSSender
		want string
	}{
		{"no region", SNSSender{}, "region"},
		{"unknown profile", SNSSender{Region: "eu-west-2", Profile: "nope"}, "nope"},
		{"endpoint without scheme", SNSSender{Region: "eu-west-2", Endpoint: "127.0.0.1:4566"}, "endpoint"},
		{"negative timeout", SNSSender{Region: "eu-west-2", Timeout: -1}, "timeout"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			snsdouble.OfflineAWS(t)
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

func TestSNSSenderClientPool(t *testing.T) {
	snsdouble.OfflineAWS(t)
	a := &SNSSender{Region: "eu-west-2", Endpoint: "http://127.0.0.1:1", Timeout: caddy.Duration(time.Second)}
	b := &SNSSender{Region: "eu-west-2", Endpoint: "http://127.0.0.1:1"}
	c := &SNSSender{Region: "eu-west-1", Endpoint: "http://127.0.0.1:1"}
	for _, s := range []*SNSSender{a, b, c} {
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
	if refs, ok := snsClients.References(key); !ok || refs != 2 {
		t.Errorf("expected 2 references, got %d (%v)", refs, ok)
	}
	for _, s := range []*SNSSender{a, b, c} {
		if err := s.Cleanup(); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := snsClients.References(key); ok {
		t.Error("expected the client released after the last cleanup, got it still pooled")
	}
	if err := a.Cleanup(); err != nil {
		t.Errorf("expected a second cleanup to do nothing, got %v", err)
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
			SNSSender{Region: "eu-west-2", Endpoint: "http://127.0.0.1:4566", Profile: "otp", Timeout: caddy.Duration(3 * time.Second)},
		},
		{"placeholder", "sns {\n\tregion {env.AWS_REGION}\n}", SNSSender{Region: "{env.AWS_REGION}"}},
	}
	for _, tt := range good {
		t.Run(tt.name, func(t *testing.T) {
			var s SNSSender
			if err := s.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input)); err != nil {
				t.Fatalf("expected no error, got %v", err)
			}
			if s.Region != tt.want.Region || s.Endpoint != tt.want.Endpoint || s.Profile != tt.want.Profile || s.Timeout != tt.want.Timeout {
				t.Errorf("expected %+v, got %+v", tt.want, s)
			}
		})
	}

	bad := []struct {
		name  string
		input string
		want  string
	}{
		{"argument after sns", "sns eu-west-2", "wrong argument count"},
		{"unknown subdirective", "sns {\n\tbucket x\n}", "unrecognized subdirective 'bucket'"},
		{"region without value", "sns {\n\tregion\n}", "wrong argument count"},
		{"region with two values", "sns {\n\tregion eu-west-2 eu-west-1\n}", "wrong argument count"},
		{"repeated region", "sns {\n\tregion eu-west-2\n\tregion eu-west-1\n}", "region specified more than once"},
		{"repeated endpoint", "sns {\n\tendpoint http://a\n\tendpoint http://b\n}", "endpoint specified more than once"},
		{"bad timeout", "sns {\n\ttimeout soon\n}", "timeout"},
		{"zero timeout", "sns {\n\ttimeout 0s\n}", "timeout must be positive"},
		{"timeout without value", "sns {\n\ttimeout\n}", "wrong argument count"},
		{"nested block", "sns {\n\tregion {\n\t}\n}", ""},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			var s SNSSender
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
