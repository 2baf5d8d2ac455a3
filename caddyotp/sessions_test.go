package caddyotp

import (
	"strings"
	"testing"
	"time"
)

func TestSessionRoundTrip(t *testing.T) {
	sm := newSessionManager([][]byte{[]byte(strings.Repeat("s", 32))})
	now := time.Now()
	tok, c := sm.mintSession("login", "alice", "+447400123456", now, time.Hour)
	got, err := sm.checkSession(tok, "login", now.Unix(), 1800)
	if err != nil {
		t.Fatalf("expected a valid session, got %v", err)
	}
	if got != c {
		t.Errorf("expected %+v, got %+v", c, got)
	}
	if len(tok) >= 4096 {
		t.Errorf("expected a cookie under 4 KiB, got %d bytes", len(tok))
	}
	// The same token must not pass as a challenge, and a challenge not as a session.
	if _, err := sm.openChallenge(tok, "login", now); err == nil {
		t.Error("expected a session token to be refused as a challenge")
	}
	ch := sm.sealChallenge(sm.newChallenge("login", now))
	if _, err := sm.checkSession(ch, "login", now.Unix(), 1800); err == nil {
		t.Error("expected a challenge token to be refused as a session")
	}
}

func TestSessionKeyRotation(t *testing.T) {
	old := []byte(strings.Repeat("o", 32))
	cur := []byte(strings.Repeat("n", 32))
	now := time.Now()
	tok, _ := newSessionManager([][]byte{old}).mintSession("login", "", "+447400123456", now, time.Hour)
	if _, err := newSessionManager([][]byte{cur}).checkSession(tok, "login", now.Unix(), 1800); err == nil {
		t.Error("expected a token of an unknown key to be refused")
	}
	if _, err := newSessionManager([][]byte{cur, old}).checkSession(tok, "login", now.Unix(), 1800); err != nil {
		t.Errorf("expected a token of a previous key to pass, got %v", err)
	}
}

func TestSessionRevocation(t *testing.T) {
	sm := newSessionManager([][]byte{[]byte(strings.Repeat("s", 32))})
	now := time.Now()
	tok, c := sm.mintSession("login", "", "+447400123456", now, time.Hour)
	sm.revoke(c.idHex(), now.Add(time.Hour))
	if _, err := sm.checkSession(tok, "login", now.Unix(), 1800); err == nil {
		t.Error("expected a revoked session to be refused")
	}
}

// BenchmarkSessionCheck is the gate's hot path for a valid session: decode, MAC, times,
// revocation set. Goal (issue 7): at most 2 µs and 4 allocations.
func BenchmarkSessionCheck(b *testing.B) {
	sm := newSessionManager([][]byte{[]byte(strings.Repeat("s", 32))})
	now := time.Now()
	tok, _ := sm.mintSession("login", "", "+447400123456", now, time.Hour)
	for i := 0; i < 1000; i++ { // a realistic revocation set
		_, c := sm.mintSession("login", "", "+447400123456", now, time.Hour)
		sm.revoke(c.idHex(), now.Add(time.Hour))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := sm.checkSession(tok, "login", now.Unix(), 1800); err != nil {
			b.Fatal(err)
		}
	}
}
