package caddyotp

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
)

// feedStore is a Store whose revocation feed reports its health when told to.
type feedStore struct {
	Store            // nil: only WatchRevocations is called
	report chan bool // each value is passed to health
}

func (f *feedStore) WatchRevocations(ctx context.Context, _ func(string, time.Time), health func(bool)) {
	for {
		select {
		case ok := <-f.report:
			health(ok)
		case <-ctx.Done():
			return
		}
	}
}

func startedManager(t *testing.T) (*sessionManager, *feedStore) {
	t.Helper()
	sm := newSessionManager([][]byte{[]byte(strings.Repeat("s", 32))})
	f := &feedStore{report: make(chan bool)}
	sm.start(f, zap.NewNop())
	t.Cleanup(sm.stop)
	return sm, f
}

// TestSessionsWaitForFirstReport: right after a start (or a reload), a session check waits
// for the feed's first report instead of answering "unavailable"; once the feed has
// reported, its health is answered at once, and a request that gives up gets "not healthy".
func TestSessionsWaitForFirstReport(t *testing.T) {
	if !func() bool {
		sm, f := startedManager(t)
		go func() {
			time.Sleep(100 * time.Millisecond)
			f.report <- true
		}()
		return sm.healthyAt(context.Background())
	}() {
		t.Error("expected a check made before the feed's first report to wait for it and answer healthy")
	}

	sm, f := startedManager(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if sm.healthyAt(ctx) {
		t.Error("expected a check whose request ends before the first report to answer not healthy")
	}
	f.report <- false
	done := make(chan bool)
	go func() { done <- sm.healthyAt(context.Background()) }()
	select {
	case ok := <-done:
		if ok {
			t.Error("expected not healthy after the feed reported it is down")
		}
	case <-time.After(FeedStartWait / 2):
		t.Error("expected no wait once the feed has reported")
	}
	f.report <- true
	for deadline := time.Now().Add(2 * time.Second); !sm.healthyAt(context.Background()); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("expected healthy after the feed reported it is up")
		}
	}

	if newSessionManager([][]byte{[]byte(strings.Repeat("s", 32))}).healthyAt(context.Background()) {
		t.Error("expected a manager never started to answer not healthy")
	}
}

// TestSessionsStopWaitingAfterStartWait: a feed that never reports is waited for only
// within FeedStartWait of the start; after that a check answers at once.
func TestSessionsStopWaitingAfterStartWait(t *testing.T) {
	sm, _ := startedManager(t)
	sm.startedAt.Store(time.Now().Add(-FeedStartWait).UnixNano())
	done := make(chan bool)
	go func() { done <- sm.healthyAt(context.Background()) }()
	select {
	case ok := <-done:
		if ok {
			t.Error("expected not healthy from a feed that never reported")
		}
	case <-time.After(FeedStartWait / 2):
		t.Error("expected no wait past FeedStartWait after the start")
	}
}
