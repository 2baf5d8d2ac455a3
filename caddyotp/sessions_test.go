package caddyotp

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/caddyotp/session"
)

func TestSessionRoundTrip(t *testing.T) {
	sm := newSessionManager([][]byte{[]byte(strings.Repeat("s", 32))})
	now := time.Now()
	tok, c, _ := sm.mintSession("login", "alice", "+447400123456", now, time.Hour, now.Unix())
	got, err := sm.checkSession(tok, "login", now.Unix(), 1800, 12*3600)
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
	ch := resealChallenge(sm, sm.newChallenge("login", now))
	if _, err := sm.checkSession(ch, "login", now.Unix(), 1800, 12*3600); err == nil {
		t.Error("expected a challenge token to be refused as a session")
	}
}

func TestSessionKeyRotation(t *testing.T) {
	old := []byte(strings.Repeat("o", 32))
	cur := []byte(strings.Repeat("n", 32))
	now := time.Now()
	tok, _, _ := newSessionManager([][]byte{old}).mintSession("login", "", "+447400123456", now, time.Hour, now.Unix())
	if _, err := newSessionManager([][]byte{cur}).checkSession(tok, "login", now.Unix(), 1800, 12*3600); err == nil {
		t.Error("expected a token of an unknown key to be refused")
	}
	if _, err := newSessionManager([][]byte{cur, old}).checkSession(tok, "login", now.Unix(), 1800, 12*3600); err != nil {
		t.Errorf("expected a token of a previous key to pass, got %v", err)
	}
}

func TestSessionRevocation(t *testing.T) {
	sm := newSessionManager([][]byte{[]byte(strings.Repeat("s", 32))})
	now := time.Now()
	tok, c, _ := sm.mintSession("login", "", "+447400123456", now, time.Hour, now.Unix())
	sm.revoke(c.IDHex(), now.Add(time.Hour))
	if _, err := sm.checkSession(tok, "login", now.Unix(), 1800, 12*3600); err == nil {
		t.Error("expected a revoked session to be refused")
	}
}

// BenchmarkSessionCheck is the gate's hot path for a valid session: decode, open the AEAD,
// times, revocation set. Goal (BENCHMARKS.md, "Goals"): at most 2 µs and 4 allocations.
func BenchmarkSessionCheck(b *testing.B) {
	sm := newSessionManager([][]byte{[]byte(strings.Repeat("s", 32))})
	now := time.Now()
	tok, _, _ := sm.mintSession("login", "", "+447400123456", now, time.Hour, now.Unix())
	for i := 0; i < 1000; i++ { // a realistic revocation set
		_, c, _ := sm.mintSession("login", "", "+447400123456", now, time.Hour, now.Unix())
		sm.revoke(c.IDHex(), now.Add(time.Hour))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := sm.checkSession(tok, "login", now.Unix(), 1800, 12*3600); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzSessionTokens feeds arbitrary cookie values to checkSession and openChallenge, with
// any realm, time and idle limit: nothing panics, and what they accept is spelled as Seal
// spells it, holds the body its claims seal to (tokens have a random nonce, so re-sealing
// gives another text, and the fuzzer's workers mint their own seeds) and is in its limits.
func FuzzSessionTokens(f *testing.F) {
	sm := newSessionManager([][]byte{[]byte(strings.Repeat("s", 32))})
	now := time.Unix(1700000000, 0)
	tok, _, _ := sm.mintSession("login", "alice", "+447400123456", now, time.Hour, now.Unix())
	f.Add(tok, "login", now.Unix(), int64(1800))
	f.Add(resealChallenge(sm, sm.newChallenge("login", now)), "login", now.Unix(), int64(60))
	f.Add(tok, "other", now.Unix()+7200, int64(0))
	f.Add("", "", int64(0), int64(-1))
	f.Add(strings.Repeat("A", 2000), "login", now.Unix(), int64(1800))
	f.Fuzz(func(t *testing.T, token, realm string, at, idle int64) {
		if c, err := sm.checkSession(token, realm, at, idle, 12*3600); err == nil {
			if !sealedAs(t, sm, session.KindSession, token, resealSession(sm, c)) {
				t.Fatalf("accepted %q, which is not what its claims %+v seal to", token, c)
			}
			if c.Realm != realm || at >= c.Expires || c.Issued <= at-12*3600 || c.Seen > at+60 || c.Issued > c.Seen {
				t.Fatalf("accepted %+v for realm %q at %d", c, realm, at)
			}
		}
		if c, err := sm.openChallenge(token, realm, time.Unix(at, 0)); err == nil {
			if !sealedAs(t, sm, session.KindChallenge, token, resealChallenge(sm, c)) || c.Realm != realm {
				t.Fatalf("accepted challenge %q as %+v", token, c)
			}
		}
	})
}

// FuzzSessionClaims seals arbitrary bodies with the manager's own key, so the fuzzer
// reaches the claims parser behind the AEAD: a short, over-long or odd body is refused, and
// an accepted one re-seals to the same body, is within its times and is not revoked.
func FuzzSessionClaims(f *testing.F) {
	sm := newSessionManager([][]byte{[]byte(strings.Repeat("s", 32))})
	now := time.Unix(1700000000, 0)
	_, c, _ := sm.mintSession("login", "alice", "+447400123456", now, time.Hour, now.Unix())
	var w session.Writer
	w.Fixed(c.ID[:])
	w.Uint64(uint64(c.Issued))
	w.Uint64(uint64(c.Seen))
	w.Uint64(uint64(c.Expires))
	w.String(c.Realm)
	w.String(c.User)
	w.String(c.Mobile)
	f.Add(w.Bytes(), now.Unix(), int64(1800))
	f.Add(w.Bytes()[:40], now.Unix(), int64(1800))
	f.Add(append(append([]byte{}, w.Bytes()...), 0), now.Unix(), int64(1800))
	f.Add([]byte{}, int64(0), int64(0))
	// Times far in the past: now-Seen must not wrap around and pass the idle check.
	var far session.Writer
	far.Fixed(c.ID[:])
	far.Uint64(1 << 63)
	far.Uint64(1<<63 + 1)
	far.Uint64(1<<63 - 1)
	far.String("login")
	far.String("")
	far.String("+447400123456")
	f.Add(far.Bytes(), int64(0), int64(1800))
	revoked, rc, _ := sm.mintSession("login", "", "+447400123457", now, time.Hour, now.Unix())
	sm.revoke(rc.IDHex(), now.Add(time.Hour))
	f.Fuzz(func(t *testing.T, body []byte, at, idle int64) {
		if len(body) > 700 {
			return
		}
		// The gate asks with a real clock and an idle limit of 1m..30m.
		at = 1700000000 + at%(1<<32)
		idle = 60 + (idle&0x7fffffff)%1741
		for _, kind := range []byte{session.KindSession, session.KindChallenge} {
			tok := sm.keys.Seal(kind, body)
			if c, err := sm.checkSession(tok, "login", at, idle, 12*3600); err == nil {
				if kind != session.KindSession {
					t.Fatal("accepted a challenge as a session")
				}
				if !bytes.Equal(tokenBody(t, sm, kind, resealSession(sm, c)), body) {
					t.Fatalf("accepted body %x as %+v, which seals differently", body, c)
				}
				if at >= c.Expires || c.Issued <= at-12*3600 || c.Seen > at+60 || c.Issued > c.Seen || c.Seen < at-idle {
					t.Fatalf("accepted %+v at %d with idle %d", c, at, idle)
				}
				if c.ID == rc.ID {
					t.Fatalf("accepted the revoked session %q", revoked)
				}
			}
			if c, err := sm.openChallenge(tok, "login", time.Unix(at, 0)); err == nil {
				if kind != session.KindChallenge {
					t.Fatal("accepted a session as a challenge")
				}
				if !bytes.Equal(tokenBody(t, sm, kind, resealChallenge(sm, c)), body) {
					t.Fatalf("accepted challenge body %x as %+v, which seals differently", body, c)
				}
			}
		}
	})
}

// resealSession and resealChallenge are the token of c, or "" when it cannot be sealed.
func resealSession(sm *sessionManager, c session.Session) string {
	tok, err := sm.sealSession(c)
	if err != nil {
		return ""
	}
	return tok
}

func resealChallenge(sm *sessionManager, c session.Challenge) string {
	tok, err := sm.sealChallenge(c)
	if err != nil {
		return ""
	}
	return tok
}

// tokenBody is the decrypted body of a token the manager sealed.
func tokenBody(t *testing.T, sm *sessionManager, kind byte, tok string) []byte {
	t.Helper()
	var body []byte
	if err := sm.keys.Open(kind, tok, func(b []byte) error { body = bytes.Clone(b); return nil }); err != nil {
		t.Fatalf("expected the manager's own token to open, got %v", err)
	}
	return body
}

// sealedAs reports whether token has Seal's one spelling and the body of resealed.
func sealedAs(t *testing.T, sm *sessionManager, kind byte, token, resealed string) bool {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || base64.RawURLEncoding.EncodeToString(raw) != token {
		return false
	}
	return bytes.Equal(tokenBody(t, sm, kind, token), tokenBody(t, sm, kind, resealed))
}
