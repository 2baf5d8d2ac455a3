package awsxtest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddyotp/caddyotp/caddyotp"
)

// recorder is a testing.TB that notes the failures of a check instead of failing the test;
// the rest (Setenv, Cleanup, TempDir) is the real test's.
type recorder struct {
	testing.TB
	mu       sync.Mutex
	failures []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

func (r *recorder) Error(args ...any) { r.Errorf("%s", fmt.Sprint(args...)) }

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

// run runs check with a recorder in a goroutine of its own (a Fatalf ends it there) and
// returns the failures noted.
func run(t *testing.T, check func(tb testing.TB)) []string {
	t.Helper()
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		check(r)
	}()
	<-done
	return r.failures
}

// expectFailures fails t unless check fails (want true) or passes (want false), naming what.
func expectFailures(t *testing.T, what string, want bool, check func(tb testing.TB)) {
	t.Helper()
	failures := run(t, check)
	if want && len(failures) == 0 {
		t.Errorf("%s: expected the check to fail, it passed", what)
	}
	if !want && len(failures) != 0 {
		t.Errorf("%s: expected the check to pass, got %v", what, failures)
	}
}

func TestCheckSendError(t *testing.T) {
	throttled := &caddyotp.SendError{Code: "Throttled", Retryable: true}
	wrapped := fmt.Errorf("sending: %w", throttled)
	tests := []struct {
		name                      string
		err                       error
		code                      string
		retryable, maybeDelivered bool
		fails                     bool
	}{
		{"the same", throttled, "Throttled", true, false, false},
		{"wrapped", wrapped, "Throttled", true, false, false},
		{"another code", throttled, "Timeout", true, false, true},
		{"not retryable", throttled, "Throttled", false, false, true},
		{"maybe delivered", throttled, "Throttled", true, true, true},
		{"no SendError", errors.New("plain"), "Throttled", true, false, true},
		{"no error", nil, "Throttled", true, false, true},
	}
	for _, tt := range tests {
		expectFailures(t, tt.name, tt.fails, func(tb testing.TB) {
			CheckSendError(tb, tt.err, tt.code, tt.retryable, tt.maybeDelivered)
		})
	}
}

// fakeModule is a guest whose Provision and first call do what the test says.
type fakeModule struct {
	provision func() error
	cleanups  int
}

func (m *fakeModule) Provision(caddy.Context) error { return m.provision() }
func (m *fakeModule) Cleanup() error                { m.cleanups++; return nil }

func TestNoAWSCallAtProvision(t *testing.T) {
	requests := 0
	count := func() int { return requests }
	definite := func() error {
		// the SDK's credential chain, as a first call runs it
		cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion("eu-west-2"),
			config.WithRetryer(func() aws.Retryer { return aws.NopRetryer{} }))
		if err == nil {
			_, err = cfg.Credentials.Retrieve(context.Background())
		}
		return &caddyotp.SendError{Code: "ClientError", Err: err}
	}
	tests := []struct {
		name      string
		provision func() error
		firstCall func() error
		fails     bool
	}{
		{"quiet provision, no first call", func() error { return nil }, nil, false},
		{"quiet provision, definite first call", func() error { return nil }, definite, false},
		{"provision fails", func() error { return errors.New("bad setting") }, nil, true},
		{"provision sends a request", func() error { requests++; return nil }, nil, true},
		{"first call retryable", func() error { return nil }, func() error {
			definite() //nolint:errcheck // for its instance metadata request
			return &caddyotp.SendError{Code: "Timeout", Retryable: true}
		}, true},
		{"first call asks no credentials", func() error { return nil }, func() error {
			return &caddyotp.SendError{Code: "ClientError"}
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			requests = 0
			m := &fakeModule{provision: tt.provision}
			expectFailures(t, tt.name, tt.fails, func(tb testing.TB) {
				NoAWSCallAtProvision(tb, m, count, tt.firstCall)
			})
		})
	}
}

func TestCheckProvisionFails(t *testing.T) {
	tests := []struct {
		name  string
		err   error
		fails bool
	}{
		{"fails naming the setting", errors.New("sns sender: endpoint must start with http://"), false},
		{"fails naming another", errors.New("sns sender: timeout must not be negative"), true},
		{"provisions", nil, true},
	}
	for _, tt := range tests {
		m := &fakeModule{provision: func() error { return tt.err }}
		expectFailures(t, tt.name, tt.fails, func(tb testing.TB) { CheckProvisionFails(tb, m, "endpoint") })
		if m.cleanups != 1 {
			t.Errorf("%s: expected one cleanup, got %d", tt.name, m.cleanups)
		}
	}
}

// word is a module whose Caddyfile is `word <value>`.
type word struct{ Value string }

func (w *word) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next()
	if !d.NextArg() {
		return d.ArgErr()
	}
	w.Value = d.Val()
	return nil
}

func TestUnmarshal(t *testing.T) {
	w, err := Unmarshal[word]("word hello")
	if err != nil || w.Value != "hello" {
		t.Errorf("expected hello, got %q (%v)", w.Value, err)
	}
	if _, err := Unmarshal[word]("word"); err == nil || !strings.Contains(err.Error(), "wrong argument count") {
		t.Errorf("expected the module's error, got %v", err)
	}
}

func init() {
	caddy.RegisterModule(new(fakeSender))
}

// fakeSender is a sender module whose Caddyfile is `sender awsxtest_fake { region <r> }`.
type fakeSender struct {
	Region string `json:"region,omitempty"`
}

func (*fakeSender) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "otp.senders.awsxtest_fake", New: func() caddy.Module { return new(fakeSender) }}
}

func (s *fakeSender) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next()
	for d.NextBlock(0) {
		if d.Val() != "region" || !d.NextArg() {
			return d.ArgErr()
		}
		s.Region = d.Val()
	}
	return nil
}

func TestCheckAdapted(t *testing.T) {
	input := "{\n\totp {\n\t\tsender awsxtest_fake {\n\t\t\tregion eu-west-2\n\t\t}\n\t}\n}\n"
	tests := []struct {
		name  string
		want  map[string]any
		fails bool
	}{
		{"every member", map[string]any{"sender": "awsxtest_fake", "region": "eu-west-2"}, false},
		{"a member missing", map[string]any{"sender": "awsxtest_fake"}, true},
		{"another value", map[string]any{"sender": "awsxtest_fake", "region": "eu-west-1"}, true},
		{"a member too many", map[string]any{"sender": "awsxtest_fake", "region": "eu-west-2", "profile": "otp"}, true},
	}
	for _, tt := range tests {
		expectFailures(t, tt.name, tt.fails, func(tb testing.TB) { CheckAdapted(tb, input, "sender", tt.want) })
	}
	raw := CheckAdapted(t, input, "sender", map[string]any{"sender": "awsxtest_fake", "region": "eu-west-2"})
	if !strings.Contains(string(raw), `"region":"eu-west-2"`) {
		t.Errorf("expected the sender's JSON back, got %s", raw)
	}
	expectFailures(t, "no reporter", true, func(tb testing.TB) { CheckAdapted(tb, input, "reports", nil) })
}

func TestCheckClient(t *testing.T) {
	endpoint := "http://127.0.0.1:4566"
	one := aws.NopRetryer{}
	three := retry.AddWithMaxAttempts(retry.NewStandard(), 3)
	tests := []struct {
		name     string
		region   string
		endpoint *string
		retryer  aws.Retryer
		fails    bool
	}{
		{"as connected", "eu-west-2", &endpoint, one, false},
		{"another region", "eu-west-1", &endpoint, one, true},
		{"no endpoint", "eu-west-2", nil, one, true},
		{"retries", "eu-west-2", &endpoint, three, true},
		{"no retryer", "eu-west-2", &endpoint, nil, true},
	}
	for _, tt := range tests {
		expectFailures(t, tt.name, tt.fails, func(tb testing.TB) {
			CheckClient(tb, tt.region, tt.endpoint, tt.retryer, "eu-west-2", endpoint)
		})
	}
}
