package failoversender_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddyotp/caddyotp/caddyotp"
)

// fakeSender is the test module otp.senders.failovertest_fake: it answers as the script of
// its name says (see fake), then succeeds with the message id "<name>-<call>".
type fakeSender struct {
	Name string `json:"name,omitempty"`

	state *fakeState
}

// fakeState is what the sender of one name does and did; tests share it with the module.
type fakeState struct {
	mu       sync.Mutex
	script   []error // the next answers; nil sends
	sent     []caddyotp.SMS
	calls    int
	cleanups int
}

var (
	fakesMu sync.Mutex
	fakes   = map[string]*fakeState{}
)

func init() {
	caddy.RegisterModule(new(fakeSender))
	caddy.RegisterModule(routerSender{})
}

// fake makes the state of the fake sender called name, answering with script first; it is
// dropped when the test ends.
func fake(t testing.TB, name string, script ...error) *fakeState {
	t.Helper()
	st := &fakeState{script: script}
	fakesMu.Lock()
	defer fakesMu.Unlock()
	fakes[name] = st
	t.Cleanup(func() {
		fakesMu.Lock()
		defer fakesMu.Unlock()
		delete(fakes, name)
	})
	return st
}

func (*fakeSender) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "otp.senders.failovertest_fake", New: func() caddy.Module { return new(fakeSender) }}
}

func (s *fakeSender) Provision(caddy.Context) error {
	fakesMu.Lock()
	defer fakesMu.Unlock()
	s.state = fakes[s.Name]
	if s.state == nil {
		return errors.New("failovertest_fake: no fake named " + s.Name)
	}
	return nil
}

func (s *fakeSender) Cleanup() error {
	if s.state != nil {
		s.state.mu.Lock()
		s.state.cleanups++
		s.state.mu.Unlock()
	}
	return nil
}

func (s *fakeSender) Send(_ context.Context, msg caddyotp.SMS) (string, error) {
	st := s.state
	st.mu.Lock()
	defer st.mu.Unlock()
	st.calls++
	if len(st.script) > 0 {
		err := st.script[0]
		st.script = st.script[1:]
		if err != nil {
			return "", err
		}
	}
	st.sent = append(st.sent, msg)
	return s.Name + "-" + strconv.Itoa(st.calls), nil
}

// UnmarshalCaddyfile reads
//
//	failovertest_fake {
//		name <name>
//	}
func (s *fakeSender) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next()
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		if d.Val() != "name" || !d.NextArg() {
			return d.Errf("unexpected '%s'", d.Val())
		}
		s.Name = d.Val()
		if d.NextArg() {
			return d.ArgErr()
		}
	}
	return nil
}

// routerSender is the test module otp.senders.failovertest_router: a Router by another
// name, which a failover refuses as it refuses a failover.
type routerSender struct{}

func (routerSender) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "otp.senders.failovertest_router", New: func() caddy.Module { return new(routerSender) }}
}
func (routerSender) Send(context.Context, caddyotp.SMS) (string, error) { return "router-1", nil }
func (routerSender) Routes(time.Time) []caddyotp.Route                  { return nil }
func (routerSender) Record(string, error, time.Time)                    {}

func (st *fakeState) count() (calls, cleanups int) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.calls, st.cleanups
}

var (
	_ caddyotp.Sender       = (*fakeSender)(nil)
	_ caddyotp.Router       = routerSender{}
	_ caddy.CleanerUpper    = (*fakeSender)(nil)
	_ caddyfile.Unmarshaler = (*fakeSender)(nil)
)
