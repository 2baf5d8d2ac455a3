package memorystore

import (
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/storetest"
)

// TestMemoryStoreReaderClock: a lease ends exactly at its term, a cursor ReaderStateTTL
// after its last save, by the store's clock.
func TestMemoryStoreReaderClock(t *testing.T) {
	clock := &fakeClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := newTestMemoryStore(t, clock.now)
	storetest.TakeLease(t, s, "logs", "a", time.Minute)
	storetest.SetCursor(t, s, "logs", "c1")
	clock.add(time.Minute - time.Nanosecond)
	if storetest.TakeLease(t, s, "logs", "b", time.Minute) {
		t.Fatal("expected the lease held until its term")
	}
	clock.add(time.Nanosecond)
	if !storetest.TakeLease(t, s, "logs", "b", time.Minute) {
		t.Fatal("expected the lease free at its term")
	}

	storetest.SetCursor(t, s, "logs", "c2") // a save starts the cursor's time again
	clock.add(caddyotp.ReaderStateTTL - time.Nanosecond)
	if got := storetest.Cursor(t, s, "logs"); got != "c2" {
		t.Fatalf("expected the cursor kept until ReaderStateTTL after its save, got %q", got)
	}
	clock.add(time.Nanosecond)
	if got := storetest.Cursor(t, s, "logs"); got != "" {
		t.Fatalf("expected the cursor gone ReaderStateTTL after its save, got %q", got)
	}
}
