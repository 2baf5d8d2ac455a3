package memorystore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/storetest"
)

// TestMemoryStoreGuardClock: a window's counts live two windows after their last count and
// a block ends exactly at its term, by the store's clock; the windows themselves are those
// of the count's time.
func TestMemoryStoreGuardClock(t *testing.T) {
	clock := &fakeClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := newTestMemoryStore(t, clock.now)
	p := caddyotp.GuardPolicy{Window: time.Hour, MinSends: 3, MinConversion: 0.2, Block: 10 * time.Minute}
	at := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC) // the windows of at, whatever the clock says
	keys := storetest.GuardKeysGB

	for range 2 {
		storetest.GuardCount(t, s, "login", keys, false, p, at)
	}
	clock.add(2*time.Hour - time.Nanosecond) // the counts are kept until two windows after the last
	if hits := storetest.GuardCount(t, s, "login", keys, false, p, at); len(hits) != 2 {
		t.Fatalf("expected send 3 to block both keys, got %v", hits)
	}
	if d := storetest.GuardBlocked(t, s, "login", keys); d != p.Block {
		t.Fatalf("expected a block of exactly %s, got %s", p.Block, d)
	}
	clock.add(p.Block - time.Nanosecond)
	if d := storetest.GuardBlocked(t, s, "login", keys); d != time.Nanosecond {
		t.Fatalf("expected the block to last 1ns more, got %s", d)
	}
	if got := storetest.GuardBlocks(t, s, "login"); len(got) != 2 {
		t.Fatalf("expected two blocks, got %v", got)
	}
	clock.add(time.Nanosecond)
	if d := storetest.GuardBlocked(t, s, "login", keys); d != 0 {
		t.Fatalf("expected the block ended at its term, got %s", d)
	}
	if got := storetest.GuardBlocks(t, s, "login"); len(got) != 0 {
		t.Fatalf("expected no block at its term, got %v", got)
	}

	// the last count was 10m ago: the counts go two windows after it
	clock.add(2*time.Hour - p.Block)
	if hits := storetest.GuardCount(t, s, "login", keys, false, p, at); len(hits) != 0 {
		t.Fatalf("expected the counts gone two windows after the last, got a block of %v", hits)
	}
	if n := guardTallyOf(t, s, "login", keys[0], at, p.Window).sent; n != 1 {
		t.Fatalf("expected a new count of 1, got %d", n)
	}
}

// guardTallyOf reads what the window of at counted under key.
func guardTallyOf(t *testing.T, s *MemoryStore, template, key string, at time.Time, window time.Duration) guardTally {
	t.Helper()
	st, now := s.enter()
	defer st.mu.Unlock()
	tl, _ := st.guardCounts.Get(guardWindowKey{template: template, key: key, window: caddyotp.GuardWindowIndex(at, window)}, now)
	return tl
}

// TestMemoryStoreGuardBounded: the guard's counts and blocks are entries of max_entries; a
// count that finds no room for a window or a block fails as a full store and changes
// nothing, and counts of kept windows go on.
func TestMemoryStoreGuardBounded(t *testing.T) {
	const bound = 1000
	clock := &fakeClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := newBoundedMemoryStore(t, clock.now, bound)
	ctx := context.Background()
	p := caddyotp.GuardPolicy{Window: time.Hour, MinSends: 2, MinConversion: 0.6, Block: time.Hour}
	at := clock.now()
	for i := range bound - 3 {
		storetest.ExpectAllowed(t, storetest.Allow(t, s, fmt.Sprint(i), caddyotp.Limit{Count: 1, Window: time.Minute}))
	}

	// 997 entries: the first count takes two windows, 999
	storetest.GuardCount(t, s, "login", storetest.GuardKeysGB, false, p, at)
	// two more windows do not fit: the one that did is undone
	_, err := s.GuardCount(ctx, "login", storetest.GuardKeysUS, false, p, at)
	expectFull(t, "a count of two new windows", err)
	if n := s.entries(t); n != bound-1 {
		t.Fatalf("expected %d entries, got %d", bound-1, n)
	}
	if tl := guardTallyOf(t, s, "login", storetest.GuardKeysUS[0], at, p.Window); tl.sent != 0 {
		t.Fatalf("expected nothing counted under %s, got %+v", storetest.GuardKeysUS[0], tl)
	}
	// the second send blocks both keys: room for one block only, so the count is undone
	_, err = s.GuardCount(ctx, "login", storetest.GuardKeysGB, false, p, at)
	expectFull(t, "a count that blocks two keys", err)
	for _, key := range storetest.GuardKeysGB {
		if tl := guardTallyOf(t, s, "login", key, at, p.Window); tl.sent != 1 {
			t.Fatalf("expected the count under %s undone, got %+v", key, tl)
		}
	}
	if got := storetest.GuardBlocks(t, s, "login"); len(got) != 0 {
		t.Fatalf("expected no block kept, got %v", got)
	}
	// a used code only updates the kept windows
	storetest.GuardCount(t, s, "login", storetest.GuardKeysGB, true, p, at)
	if tl := guardTallyOf(t, s, "login", storetest.GuardKeysGB[1], at, p.Window); tl.verified != 1 {
		t.Fatalf("expected the used code counted while the store is full, got %+v", tl)
	}

	// once the limits have expired there is room again: 1 code used of 2 sends blocks
	clock.add(2 * time.Minute)
	for i := range 20 { // writes sweep the expired limits a few at a time
		storetest.ExpectAllowed(t, storetest.Allow(t, s, fmt.Sprint("new", i), caddyotp.Limit{Count: 1, Window: time.Minute}))
	}
	if hits := storetest.GuardCount(t, s, "login", storetest.GuardKeysGB, false, p, at); len(hits) != 2 {
		t.Fatalf("expected the second send to block both keys, got %v", hits)
	}
	if n := s.entries(t); n > bound {
		t.Fatalf("expected at most %d entries, got %d", bound, n)
	}
}
