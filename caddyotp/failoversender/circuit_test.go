package failoversender

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// step is one thing done to a two-route circuit (open_after 3, open_for 1m) at t0+at:
// record o at route, or, with check set, ask which routes are usable.
type step struct {
	at     time.Duration
	route  int
	o      outcome
	change change // what the record should do
	check  bool
	usable string // "0 1", with allOpen marked "all"
}

func rec(at time.Duration, route int, o outcome, c change) step {
	return step{at: at, route: route, o: o, change: c}
}

func usable(at time.Duration, want string) step { return step{at: at, check: true, usable: want} }

func TestCircuit(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
	}{
		{"closed at first", []step{usable(0, "0 1")}},
		{"opens after open_after definite failures in a row", []step{
			rec(0, 0, definite, unchanged), rec(time.Second, 0, definite, unchanged), usable(2*time.Second, "0 1"),
			rec(3*time.Second, 0, definite, opened), usable(3*time.Second, "1"),
		}},
		{"stays open for open_for", []step{
			rec(0, 0, definite, unchanged), rec(0, 0, definite, unchanged), rec(0, 0, definite, opened),
			usable(59*time.Second, "1"), usable(time.Minute-time.Nanosecond, "1"), usable(time.Minute, "0 1"),
		}},
		{"a failure while open does not push the end further", []step{
			rec(0, 0, definite, unchanged), rec(0, 0, definite, unchanged), rec(0, 0, definite, opened),
			rec(30*time.Second, 0, definite, unchanged), usable(time.Minute, "0 1"),
		}},
		{"half-open: one definite failure opens it again at once", []step{
			rec(0, 0, definite, unchanged), rec(0, 0, definite, unchanged), rec(0, 0, definite, opened),
			usable(time.Minute, "0 1"), rec(time.Minute, 0, definite, opened), usable(time.Minute+time.Second, "1"),
			usable(2*time.Minute, "0 1"),
		}},
		{"half-open: a success closes it", []step{
			rec(0, 0, definite, unchanged), rec(0, 0, definite, unchanged), rec(0, 0, definite, opened),
			rec(time.Minute, 0, sent, closed), rec(time.Minute, 0, definite, unchanged), rec(time.Minute, 0, definite, unchanged),
			usable(time.Minute, "0 1"), rec(time.Minute, 0, definite, opened),
		}},
		{"a success resets the run", []step{
			rec(0, 0, definite, unchanged), rec(0, 0, definite, unchanged), rec(0, 0, sent, unchanged),
			rec(0, 0, definite, unchanged), rec(0, 0, definite, unchanged), usable(0, "0 1"),
			rec(0, 0, definite, opened),
		}},
		{"maybe sent neither counts nor resets", []step{
			rec(0, 0, definite, unchanged), rec(0, 0, maybeSent, unchanged), rec(0, 0, definite, unchanged),
			rec(0, 0, maybeSent, unchanged), rec(0, 0, maybeSent, unchanged), usable(0, "0 1"),
			rec(0, 0, definite, opened), usable(0, "1"),
		}},
		{"maybe sent does not close a half-open route", []step{
			rec(0, 0, definite, unchanged), rec(0, 0, definite, unchanged), rec(0, 0, definite, opened),
			rec(time.Minute, 0, maybeSent, unchanged), rec(time.Minute, 0, definite, opened),
		}},
		{"routes count apart", []step{
			rec(0, 0, definite, unchanged), rec(0, 1, definite, unchanged), rec(0, 0, definite, unchanged),
			rec(0, 1, definite, unchanged), rec(0, 1, sent, unchanged), rec(0, 0, definite, opened), usable(0, "1"),
		}},
		{"every route open: all of them, in order", []step{
			rec(0, 0, definite, unchanged), rec(0, 0, definite, unchanged), rec(0, 0, definite, opened),
			rec(0, 1, definite, unchanged), rec(0, 1, definite, unchanged), rec(time.Second, 1, definite, opened),
			usable(2*time.Second, "all 0 1"), usable(time.Minute, "0"), usable(time.Minute+time.Second, "0 1"),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCircuit(2, 3, time.Minute)
			for n, s := range tt.steps {
				now := t0.Add(s.at)
				if s.check {
					idx, allOpen := c.usable(now)
					got := fmt.Sprint(idx)
					got = got[1 : len(got)-1]
					if allOpen {
						got = "all " + got
					}
					if got != s.usable {
						t.Fatalf("step %d: expected usable routes %q, got %q", n, s.usable, got)
					}
					continue
				}
				if got := c.record(s.route, s.o, now); got != s.change {
					t.Fatalf("step %d: expected change %d, got %d", n, s.change, got)
				}
			}
		})
	}
}

// TestCircuitOpenAfterOne: with open_after 1 the first definite failure opens the route.
func TestCircuitOpenAfterOne(t *testing.T) {
	c := newCircuit(3, 1, time.Second)
	if got := c.record(1, definite, t0); got != opened {
		t.Fatalf("expected the first definite failure to open the route, got %d", got)
	}
	if idx, allOpen := c.usable(t0); fmt.Sprint(idx) != "[0 2]" || allOpen {
		t.Errorf("expected routes [0 2], got %v (all open %v)", idx, allOpen)
	}
}

// TestCircuitConcurrent records and reads from many goroutines (for -race): 40 definite
// failures at open_after 5 open the route once.
func TestCircuitConcurrent(t *testing.T) {
	c := newCircuit(2, 5, time.Minute)
	var wg sync.WaitGroup
	var mu sync.Mutex
	opens := 0
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.usable(t0)
			if c.record(0, definite, t0) == opened {
				mu.Lock()
				opens++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if opens != 1 {
		t.Errorf("expected the route opened once, got %d", opens)
	}
	if idx, _ := c.usable(t0); fmt.Sprint(idx) != "[1]" {
		t.Errorf("expected only route 1 usable, got %v", idx)
	}
}
