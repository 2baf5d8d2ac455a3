package sqsreports

import (
	"context"
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	tests := []struct {
		failures int
		lo, hi   time.Duration // the bounds of the wait
	}{
		{1, 500 * time.Millisecond, time.Second},
		{2, time.Second, 2 * time.Second},
		{3, 2 * time.Second, 4 * time.Second},
		{6, 16 * time.Second, 32 * time.Second},
		{7, 30 * time.Second, time.Minute}, // 64s capped at 1m
		{100, 30 * time.Second, time.Minute},
	}
	for _, tt := range tests {
		seen := map[time.Duration]bool{}
		for range 200 {
			d := backoff(tt.failures, defaultBackoffMin, defaultBackoffMax)
			if d < tt.lo || d > tt.hi {
				t.Fatalf("failures %d: expected a wait in %v..%v, got %v", tt.failures, tt.lo, tt.hi, d)
			}
			seen[d] = true
		}
		// jitter: readers that failed together come back apart
		if len(seen) < 100 {
			t.Errorf("failures %d: expected jittered waits, got %d distinct in 200", tt.failures, len(seen))
		}
	}
}

func TestSleepEndsWithTheContext(t *testing.T) {
	if !sleep(context.Background(), time.Millisecond) {
		t.Error("expected a sleep to end by itself, it reported a cancel")
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	start := time.Now()
	if sleep(ctx, time.Minute) {
		t.Error("expected a cancelled sleep to report it, it did not")
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("expected the cancel to end the sleep at once, took %v", el)
	}
}
