package failoversender

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddyotp/caddyotp/caddyotp"
)

var (
	refused = &caddyotp.SendError{Code: "HTTP400"}                                        // definite
	lost    = &caddyotp.SendError{Code: "Timeout", Retryable: true, MaybeDelivered: true} // maybe sent
)

// scripted is a Sender that answers from its script, then succeeds; it counts its calls.
type scripted struct {
	id     string
	script []error
	calls  int
}

func (s *scripted) Send(context.Context, caddyotp.SMS) (string, error) {
	s.calls++
	if len(s.script) > 0 {
		err := s.script[0]
		s.script = s.script[1:]
		if err != nil {
			return "", err
		}
	}
	return s.id, nil
}

// newFailover is a provisioned-looking failover over senders named a, b, c … with
// open_after 2 and open_for 1m, logging to the observer returned.
func newFailover(senders ...caddyotp.Sender) (*Failover, *observer.ObservedLogs) {
	core, logs := observer.New(zap.InfoLevel)
	f := &Failover{OpenAfter: 2, OpenFor: caddy.Duration(time.Minute), index: map[string]int{}, logger: zap.New(core)}
	for i, s := range senders {
		name := string(rune('a' + i))
		f.index[name] = i
		f.routes = append(f.routes, caddyotp.Route{Provider: name, Sender: s})
	}
	f.circuit = newCircuit(len(senders), f.OpenAfter, time.Duration(f.OpenFor))
	return f, logs
}

func providers(routes []caddyotp.Route) string {
	var names []string
	for _, r := range routes {
		names = append(names, r.Provider)
	}
	return strings.Join(names, " ")
}

func TestRouteName(t *testing.T) {
	taken := map[string]int{}
	var got []string
	for _, name := range []string{"http", "http", "sns", "http", "twilio", "sns"} {
		p := routeName(name, taken)
		taken[p] = len(got)
		got = append(got, p)
	}
	if want := "http http#2 sns http#3 twilio sns#2"; strings.Join(got, " ") != want {
		t.Errorf("expected %q, got %q", want, strings.Join(got, " "))
	}
}

// TestRoutesAndRecord drives the failover's Router methods with a fake clock: what the
// service tells Record opens and closes a route's circuit, with a log line each.
func TestRoutesAndRecord(t *testing.T) {
	f, logs := newFailover(&scripted{}, &scripted{}, &scripted{})
	if got := providers(f.Routes(t0)); got != "a b c" {
		t.Fatalf("expected routes a b c, got %q", got)
	}
	f.Record("b", refused, t0)
	f.Record("b", lost, t0) // maybe sent: does not count
	f.Record("nobody", refused, t0)
	if got := providers(f.Routes(t0)); got != "a b c" {
		t.Fatalf("expected routes a b c after one definite failure of b, got %q", got)
	}
	f.Record("b", refused, t0.Add(time.Second))
	if got := providers(f.Routes(t0.Add(time.Second))); got != "a c" {
		t.Fatalf("expected routes a c with b open, got %q", got)
	}
	opened := logs.FilterMessage("sender circuit opened: skipping the sender").All()
	if len(opened) != 1 || opened[0].Level != zap.WarnLevel || opened[0].ContextMap()["provider"] != "b" {
		t.Fatalf("expected one warning that b opened, got %+v", logs.All())
	}
	at := t0.Add(time.Minute + time.Second)
	if got := providers(f.Routes(at)); got != "a b c" {
		t.Fatalf("expected b tried again after open_for, got %q", got)
	}
	f.Record("b", nil, at)
	closed := logs.FilterMessage("sender circuit closed: the sender works again").All()
	if len(closed) != 1 || closed[0].Level != zap.InfoLevel || closed[0].ContextMap()["provider"] != "b" {
		t.Fatalf("expected one info that b closed, got %+v", logs.All())
	}
	f.Record("b", refused, at)
	if got := providers(f.Routes(at)); got != "a b c" {
		t.Errorf("expected a closed b to need open_after failures again, got %q", got)
	}
}

// TestRoutesAllOpen: with every route open, Routes gives them all, in order, and warns.
func TestRoutesAllOpen(t *testing.T) {
	f, logs := newFailover(&scripted{}, &scripted{})
	for _, p := range []string{"a", "a", "b", "b"} {
		f.Record(p, refused, t0)
	}
	if got := providers(f.Routes(t0)); got != "a b" {
		t.Fatalf("expected every route when all are open, got %q", got)
	}
	if n := logs.FilterMessage("every sender's circuit is open: trying them all").FilterField(zap.Int("senders", 2)).Len(); n != 1 {
		t.Errorf("expected one warning that every circuit is open, got %+v", logs.All())
	}
}

// TestSend: the plain Send fails over on a definite failure, stops on a maybe-sent one,
// returns the last error when all fail, and feeds the circuit.
func TestSend(t *testing.T) {
	tests := []struct {
		name      string
		a, b      []error
		wantID    string
		wantErr   string // in the error returned; "" for none
		wantCalls [2]int
	}{
		{"first sends", nil, nil, "a-1", "", [2]int{1, 0}},
		{"definite failure moves on", []error{refused}, nil, "b-1", "", [2]int{1, 1}},
		{"maybe sent stops", []error{lost}, nil, "", "Timeout", [2]int{1, 0}},
		{"not a SendError stops", []error{errors.New("boom")}, nil, "", "boom", [2]int{1, 0}},
		{"all fail: the last error", []error{refused}, []error{&caddyotp.SendError{Code: "Throttled", Retryable: true}}, "", "Throttled", [2]int{1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := &scripted{id: "a-1", script: tt.a}, &scripted{id: "b-1", script: tt.b}
			f, _ := newFailover(a, b)
			id, err := f.Send(context.Background(), caddyotp.SMS{To: "+447400123456", Text: "123456"})
			if id != tt.wantID {
				t.Errorf("expected message id %q, got %q", tt.wantID, id)
			}
			if (tt.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("expected error %q, got %v", tt.wantErr, err)
			}
			if got := [2]int{a.calls, b.calls}; got != tt.wantCalls {
				t.Errorf("expected calls %v, got %v", tt.wantCalls, got)
			}
		})
	}
}

// TestSendSkipsOpen: two definite failures of a open its circuit, so the next Send goes
// straight to b.
func TestSendSkipsOpen(t *testing.T) {
	a, b := &scripted{id: "a-1", script: []error{refused, refused}}, &scripted{id: "b-1"}
	f, _ := newFailover(a, b)
	for i := 0; i < 3; i++ {
		if id, err := f.Send(context.Background(), caddyotp.SMS{To: "+447400123456"}); err != nil || id != "b-1" {
			t.Fatalf("send %d: expected b-1, got %q, %v", i, id, err)
		}
	}
	if a.calls != 2 || b.calls != 3 {
		t.Errorf("expected a called 2 times and b 3, got %d and %d", a.calls, b.calls)
	}
}

// TestSendStopsWhenCanceled: a definite failure after the caller gave up tries no other.
func TestSendStopsWhenCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	a, b := &scripted{script: []error{refused}}, &scripted{id: "b-1"}
	f, _ := newFailover(a, b)
	if _, err := f.Send(ctx, caddyotp.SMS{}); err != refused || b.calls != 0 {
		t.Errorf("expected a's error and no call to b, got %v and %d calls", err, b.calls)
	}
}

// TestSendNotProvisioned: an unprovisioned failover fails definitely.
func TestSendNotProvisioned(t *testing.T) {
	_, err := new(Failover).Send(context.Background(), caddyotp.SMS{})
	var se *caddyotp.SendError
	if !errors.As(err, &se) || se.Code != "NotProvisioned" || se.MaybeDelivered {
		t.Errorf("expected a definite NotProvisioned SendError, got %v", err)
	}
}
