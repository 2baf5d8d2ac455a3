// Package awsxtest holds the checks that the tests of the AWS guests (the sns and eum
// senders, the sqs and cloudwatch_logs report readers) and of awsx share: what a failed
// send must be told as, that provisioning makes no AWS call, that a bad setting fails
// Provision and leaves Cleanup working, and reading a module's Caddyfile, alone or in the
// otp global option.
package awsxtest

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/internal/awsdouble"
	"github.com/caddyotp/caddyotp/internal/testcaddy"
)

// CheckSendError fails t unless err is a *caddyotp.SendError of the code given, retryable
// and maybe delivered as given.
func CheckSendError(t testing.TB, err error, code string, retryable, maybeDelivered bool) {
	t.Helper()
	var se *caddyotp.SendError
	if !errors.As(err, &se) {
		t.Fatalf("expected a *SendError, got %T: %v", err, err)
	}
	if se.Code != code || se.Retryable != retryable || se.MaybeDelivered != maybeDelivered {
		t.Errorf("expected %s, retryable %v, maybe delivered %v, got %s, %v, %v (%v)",
			code, retryable, maybeDelivered, se.Code, se.Retryable, se.MaybeDelivered, err)
	}
}

// NoAWSCallAtProvision provisions m (pointed at a double, whose count of requests is
// requests) with no credentials anywhere and an instance metadata service that the SDK's
// default mode would ask (awsdouble.OnlyInstanceMetadata), and fails t if that made any
// request. firstCall, when not nil, is the module's first AWS call: it must look for
// credentials then, fail definitely (not retryable, not maybe billed) and send nothing.
func NoAWSCallAtProvision(t testing.TB, m interface{ Provision(caddy.Context) error }, requests func() int, firstCall func() error) {
	t.Helper()
	imds := awsdouble.OnlyInstanceMetadata(t)
	if err := m.Provision(testcaddy.Context(t)); err != nil {
		t.Fatalf("Provision: expected no error, got %v", err)
	}
	if c, ok := m.(caddy.CleanerUpper); ok {
		t.Cleanup(func() { c.Cleanup() }) //nolint:errcheck // the module's own tests check Cleanup
	}
	if n := imds.Load(); n != 0 {
		t.Errorf("expected no instance metadata request at provision, got %d", n)
	}
	if n := requests(); n != 0 {
		t.Errorf("expected no AWS request at provision, got %d", n)
	}
	if firstCall == nil {
		return
	}
	err := firstCall()
	var se *caddyotp.SendError
	if !errors.As(err, &se) || se.Retryable || se.MaybeDelivered {
		t.Errorf("expected missing credentials a definite *SendError, got %v", err)
	}
	if imds.Load() == 0 {
		t.Error("expected the credential chain to ask instance metadata at the first call, got no request")
	}
	if n := requests(); n != 0 {
		t.Errorf("expected no unsigned request, got %d", n)
	}
}

// CheckClient fails t unless a service client's options (its Region, BaseEndpoint and
// Retryer, as the client's Options() has them) are those of a guest connected to region
// and endpoint: one attempt per call.
func CheckClient(t testing.TB, region string, baseEndpoint *string, retryer aws.Retryer, wantRegion, wantEndpoint string) {
	t.Helper()
	if region != wantRegion {
		t.Errorf("expected client region %s, got %s", wantRegion, region)
	}
	if baseEndpoint == nil || *baseEndpoint != wantEndpoint {
		t.Errorf("expected base endpoint %s, got %v", wantEndpoint, baseEndpoint)
	}
	if retryer == nil || retryer.MaxAttempts() != 1 {
		t.Errorf("expected a retryer of 1 attempt, got %v", retryer)
	}
}

// CheckProvisionFails fails t unless provisioning m fails with an error containing want,
// and Cleanup after that works.
func CheckProvisionFails(t testing.TB, m testcaddy.Provisioner, want string) {
	t.Helper()
	err := m.Provision(testcaddy.Context(t))
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("expected an error naming %q, got %v", want, err)
	}
	if err := m.Cleanup(); err != nil {
		t.Errorf("expected cleanup after a failed provision to work, got %v", err)
	}
}

// Unmarshal is a new M set up from the Caddyfile input (its directive's module name
// first, such as "sns {…}") by M's UnmarshalCaddyfile.
func Unmarshal[M any, P interface {
	*M
	caddyfile.Unmarshaler
}](input string) (M, error) {
	var m M
	err := P(&m).UnmarshalCaddyfile(caddyfile.NewTestDispenser(input))
	return m, err
}

// CheckAdapted adapts caddyfile (global options with an otp block) with Caddy's own
// adapter, and fails t unless the otp app's module at key ("sender", or "reports" for its
// one reporter) has exactly the members of want (numbers as float64, as JSON decodes
// them). It returns the module's JSON, for a test to load back.
func CheckAdapted(t testing.TB, caddyfile, key string, want map[string]any) []byte {
	t.Helper()
	out := testcaddy.Adapt(t, caddyfile)
	var cfg struct {
		Apps struct {
			OTP map[string]json.RawMessage `json:"otp"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatalf("reading the adapted config: %v\n%s", err, out)
	}
	raw := cfg.Apps.OTP[key]
	if key == "reports" {
		var reports []json.RawMessage
		if err := json.Unmarshal(raw, &reports); err != nil || len(reports) != 1 {
			t.Fatalf("expected one reporter, got %v: %s", err, out)
		}
		raw = reports[0]
	}
	var got map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("expected the otp app's %s as an object, got %v: %s", key, err, out)
	}
	if len(got) != len(want) {
		t.Errorf("expected %v, got %v", want, got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("expected %s = %v, got %v", k, v, got[k])
		}
	}
	return raw
}
