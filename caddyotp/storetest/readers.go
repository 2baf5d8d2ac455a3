package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/caddyotp"
)

// The state of the report readers: leases and cursors.

// readerCases are Run's cases for leases and cursors.
var readerCases = []storeCase{
	{"lease taken, refused, renewed and expired", testLease},
	{"cursor", testCursor},
}

// TakeLease takes or renews the lease name for holder and fails the test on an error.
func TakeLease(t *testing.T, s caddyotp.Store, name, holder string, ttl time.Duration) bool {
	t.Helper()
	ok, err := s.TakeLease(context.Background(), name, holder, ttl)
	if err != nil {
		t.Fatalf("TakeLease: expected no error, got %v", err)
	}
	return ok
}

func expectLease(t *testing.T, s caddyotp.Store, name, holder string, ttl time.Duration, want bool) {
	t.Helper()
	if got := TakeLease(t, s, name, holder, ttl); got != want {
		t.Fatalf("lease %s for %s: expected %t, got %t", name, holder, want, got)
	}
}

func testLease(t *testing.T, s caddyotp.Store) {
	const ttl = 500 * time.Millisecond
	expectLease(t, s, "logs", "a", ttl, true)
	expectLease(t, s, "logs", "b", ttl, false)
	expectLease(t, s, "other", "b", ttl, true) // leases are per name
	time.Sleep(300 * time.Millisecond)
	expectLease(t, s, "logs", "a", ttl, true) // renewed: 500ms from now
	time.Sleep(300 * time.Millisecond)        // past the first term, within the renewal
	expectLease(t, s, "logs", "b", ttl, false)
	time.Sleep(ttl)
	expectLease(t, s, "logs", "b", ttl, true)
	expectLease(t, s, "logs", "a", ttl, false)
}

// Cursor reads the cursor name and fails the test on an error.
func Cursor(t *testing.T, s caddyotp.Store, name string) string {
	t.Helper()
	v, err := s.Cursor(context.Background(), name)
	if err != nil {
		t.Fatalf("Cursor: expected no error, got %v", err)
	}
	return v
}

// SetCursor saves the cursor name and fails the test on an error.
func SetCursor(t *testing.T, s caddyotp.Store, name, value string) {
	t.Helper()
	if err := s.SetCursor(context.Background(), name, value); err != nil {
		t.Fatalf("SetCursor: expected no error, got %v", err)
	}
}

func testCursor(t *testing.T, s caddyotp.Store) {
	const a, b = "cloudwatch_logs:sns/eu-west-2/123456789012/DirectPublishToPhoneNumber", "cloudwatch_logs:other"
	if got := Cursor(t, s, a); got != "" {
		t.Fatalf("expected no cursor before a save, got %q", got)
	}
	SetCursor(t, s, a, `{"start":1764590400000,"seen":["3789"]}`)
	SetCursor(t, s, b, "b1")
	if got := Cursor(t, s, a); got != `{"start":1764590400000,"seen":["3789"]}` {
		t.Fatalf("expected the saved cursor, got %q", got)
	}
	SetCursor(t, s, a, "a2")
	for name, want := range map[string]string{a: "a2", b: "b1"} {
		if got := Cursor(t, s, name); got != want {
			t.Fatalf("cursor %s: expected %q, got %q", name, want, got)
		}
	}
}
