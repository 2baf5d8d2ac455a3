package sqsreports

import (
	"context"
	"errors"
	"sync"

	"github.com/caddyotp/caddyotp/caddyotp"
)

var errStoreDown = errors.New("store down")

// fakeSink is a ReportSink that applies each message id once, as the store does. The SQS
// reader takes no lease and keeps no cursor: the embedded nil interface makes such a call
// panic.
type fakeSink struct {
	caddyotp.ReportSink

	mu       sync.Mutex
	applied  map[string]caddyotp.Report // by message id
	calls    map[string]int             // ApplyReport calls by message id
	outcomes []caddyotp.ReportOutcome
	unknown  map[string]int // message id → calls answered unknown before it is known
	failNext int            // calls answered with errStoreDown first
}

func newFakeSink() *fakeSink {
	return &fakeSink{applied: map[string]caddyotp.Report{}, calls: map[string]int{}, unknown: map[string]int{}}
}

func (s *fakeSink) ApplyReport(ctx context.Context, r caddyotp.Report) (caddyotp.ReportOutcome, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[r.MessageID]++
	if s.failNext > 0 {
		s.failNext--
		return "", errStoreDown
	}
	out := caddyotp.ReportApplied
	switch _, seen := s.applied[r.MessageID]; {
	case s.calls[r.MessageID] <= s.unknown[r.MessageID]:
		out = caddyotp.ReportUnknown
	case seen:
		out = caddyotp.ReportDuplicate
	default:
		s.applied[r.MessageID] = r
	}
	s.outcomes = append(s.outcomes, out)
	return out, nil
}

// setUnknown makes the first n calls for id answer unknown.
func (s *fakeSink) setUnknown(id string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unknown[id] = n
}

func (s *fakeSink) setFailNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = n
}

func (s *fakeSink) report(id string) (caddyotp.Report, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.applied[id]
	return r, ok
}

func (s *fakeSink) appliedCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.applied)
}

func (s *fakeSink) callsFor(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[id]
}

func (s *fakeSink) totalCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		n += c
	}
	return n
}

func (s *fakeSink) outcomeCounts() map[caddyotp.ReportOutcome]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[caddyotp.ReportOutcome]int{}
	for _, o := range s.outcomes {
		out[o]++
	}
	return out
}
