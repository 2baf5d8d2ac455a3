package session

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

var (
	testCurrent  = []byte(strings.Repeat("c", 32))
	testPrevious = []byte(strings.Repeat("p", 32))
)

func TestSealOpen(t *testing.T) {
	kr := NewKeyring(testCurrent, testPrevious)
	tok := kr.Seal(KindSession, []byte("hello"))
	var got []byte
	if err := kr.Open(KindSession, tok, func(b []byte) error { got = append(got, b...); return nil }); err != nil {
		t.Fatalf("expected the token to open, got %v", err)
	}
	if string(got) != "hello" {
		t.Errorf("expected hello, got %q", got)
	}
	if err := kr.Open(KindChallenge, tok, func([]byte) error { return nil }); err == nil {
		t.Error("expected a session token to be refused as a challenge")
	}
	old := NewKeyring(testPrevious).Seal(KindSession, []byte("hello"))
	if err := kr.Open(KindSession, old, func([]byte) error { return nil }); err != nil {
		t.Errorf("expected a token of the previous key to open, got %v", err)
	}
	if err := NewKeyring(testCurrent).Open(KindSession, old, func([]byte) error { return nil }); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("expected ErrUnknownKey, got %v", err)
	}
}

// TestOpenRefusesOtherSpellings: base64 has more than one spelling of the same bytes (a
// last character whose unused bits are set, CR and LF anywhere); a token is accepted only
// as Seal wrote it, so a token's text is as unique as its contents.
func TestOpenRefusesOtherSpellings(t *testing.T) {
	kr := NewKeyring(testCurrent)
	tok := kr.Seal(KindSession, []byte("hell")) // 49 bytes: the last character has 4 unused bits
	if n := len(tok) * 6 % 8; n != 4 {
		t.Fatalf("expected a last character with 4 unused bits, got %d", n)
	}
	open := func(s string) error { return kr.Open(KindSession, s, func([]byte) error { return nil }) }
	if err := open(tok); err != nil {
		t.Fatalf("expected the token to open, got %v", err)
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, tok[len(tok)-1])
	for _, other := range []string{
		tok[:len(tok)-1] + string(alphabet[last|1]),
		tok[:20] + "\n" + tok[20:],
		tok[:20] + "\r" + tok[20:],
		tok + "\n",
		tok + "=",
	} {
		if other == tok {
			continue
		}
		if err := open(other); err == nil {
			t.Errorf("expected %q to be refused (the token is %q)", other, tok)
		}
	}
}

// TestSessionTokenHidesClaims: every upstream of the site receives the session cookie
// (Path=/), so the token must not show the mobile, the user or the realm. Issue 10 item 12:
// the body used to be plain base64 behind a MAC.
func TestSessionTokenHidesClaims(t *testing.T) {
	kr := NewKeyring(testCurrent)
	s := Session{Issued: 1700000000, Seen: 1700000000, Expires: 1700003600, Realm: "login", User: "alice", Mobile: "+447400123456"}
	tok, err := kr.SealSession(s)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := tokenEncoding.DecodeString(tok)
	if err != nil {
		t.Fatalf("expected the token to be base64url, got %v", err)
	}
	for _, secret := range []string{"447400123456", "7400123456", "alice", "login"} {
		if bytes.Contains(raw, []byte(secret)) || strings.Contains(tok, secret) {
			t.Errorf("expected %q not to show in the token, got %q (%x)", secret, tok, raw)
		}
	}
	// Nor any run of six of the mobile's digits, in any byte alignment of the text.
	digits := "447400123456"
	for i := 0; i+6 <= len(digits); i++ {
		if bytes.Contains(raw, []byte(digits[i:i+6])) {
			t.Errorf("expected the digits %q not to show in the token (%x)", digits[i:i+6], raw)
		}
	}
	got, err := kr.OpenSession(tok, "login")
	if err != nil {
		t.Fatalf("expected the token to open, got %v", err)
	}
	if got != s {
		t.Errorf("expected %+v, got %+v", s, got)
	}
}

// TestOpenRefusesTampering changes every byte of a sealed token in turn (one bit, and the
// whole byte) and re-encodes it, so that each change reaches the cipher: none opens.
func TestOpenRefusesTampering(t *testing.T) {
	kr := NewKeyring(testCurrent, testPrevious)
	for _, kind := range []byte{KindSession, KindChallenge} {
		tok := kr.Seal(kind, []byte("a body of some length, as a real one would be"))
		raw, err := tokenEncoding.DecodeString(tok)
		if err != nil {
			t.Fatal(err)
		}
		for i := range raw {
			for _, mask := range []byte{0x01, 0x80, 0xff} {
				changed := bytes.Clone(raw)
				changed[i] ^= mask
				if err := kr.Open(kind, tokenEncoding.EncodeToString(changed), func([]byte) error { return nil }); err == nil {
					t.Fatalf("expected the token with byte %d xor %#x to be refused", i, mask)
				}
			}
		}
		for _, cut := range [][]byte{raw[:len(raw)-1], raw[:minRaw], append(bytes.Clone(raw), 0)} {
			if err := kr.Open(kind, tokenEncoding.EncodeToString(cut), func([]byte) error { return nil }); err == nil {
				t.Errorf("expected a token of %d bytes (sealed %d) to be refused", len(cut), len(raw))
			}
		}
	}
}

// TestOpenRefusesOtherKind: the kind is authenticated with the body, so a challenge whose
// kind byte is rewritten to a session's is refused by the tag, not only by the first check.
func TestOpenRefusesOtherKind(t *testing.T) {
	kr := NewKeyring(testCurrent)
	for _, tc := range []struct{ sealed, asked byte }{{KindChallenge, KindSession}, {KindSession, KindChallenge}} {
		tok := kr.Seal(tc.sealed, []byte("body"))
		if err := kr.Open(tc.asked, tok, func([]byte) error { return nil }); !errors.Is(err, ErrMalformed) {
			t.Errorf("kind %d opened as %d: expected ErrMalformed, got %v", tc.sealed, tc.asked, err)
		}
		raw, _ := tokenEncoding.DecodeString(tok)
		raw[0] = tc.asked
		if err := kr.Open(tc.asked, tokenEncoding.EncodeToString(raw), func([]byte) error { return nil }); !errors.Is(err, ErrInauthentic) {
			t.Errorf("kind %d relabelled %d: expected ErrInauthentic, got %v", tc.sealed, tc.asked, err)
		}
	}
}

// TestSealFreshNonce: the same body sealed twice gives two tokens, so that a token says
// nothing about whether two sessions carry the same claims.
func TestSealFreshNonce(t *testing.T) {
	kr := NewKeyring(testCurrent)
	seen := make(map[string]bool)
	for range 100 {
		tok := kr.Seal(KindSession, []byte("the same body"))
		if seen[tok] {
			t.Fatalf("expected fresh tokens, got %q twice", tok)
		}
		seen[tok] = true
	}
}

// FuzzOpen feeds arbitrary text to Open as both kinds of token: it must never panic, and
// whatever it accepts must be exactly what Seal makes of the body it read with the
// token's own nonce.
func FuzzOpen(f *testing.F) {
	kr := NewKeyring(testCurrent, testPrevious)
	prev := NewKeyring(testPrevious)
	f.Add(kr.Seal(KindSession, []byte("hello")))
	f.Add(kr.Seal(KindChallenge, nil))
	f.Add(prev.Seal(KindSession, bytes.Repeat([]byte{0xff}, 100)))
	f.Add("")
	f.Add(strings.Repeat("A", 50))
	f.Add(strings.Repeat("_", MaxTokenLen))
	f.Add(strings.Repeat("A", MaxTokenLen+1))
	f.Add("AQAAAAA" + strings.Repeat("=", 60))
	f.Fuzz(func(t *testing.T, token string) {
		for _, kind := range []byte{KindSession, KindChallenge} {
			var body []byte
			err := kr.Open(kind, token, func(b []byte) error {
				body = append([]byte{}, b...)
				return nil
			})
			if err != nil {
				continue
			}
			if len(token) > MaxTokenLen {
				t.Fatalf("accepted a token of %d bytes", len(token))
			}
			raw, err := tokenEncoding.DecodeString(token)
			if err != nil || len(raw) < minRaw {
				t.Fatalf("accepted %q, which does not decode to a whole token", token)
			}
			nonce := [nonceLen]byte(raw[headLen : headLen+nonceLen])
			if kr.seal(kind, body, nonce) != token && prev.seal(kind, body, nonce) != token {
				t.Fatalf("accepted %q, which Seal does not make of its body %q", token, body)
			}
		}
	})
}

// FuzzSealOpen: what Seal makes, Open accepts with the same body; any single byte changed,
// inserted or removed is refused.
func FuzzSealOpen(f *testing.F) {
	f.Add([]byte("hello"), uint16(3), byte('x'), byte(0))
	f.Add([]byte{}, uint16(0), byte('\n'), byte(1))
	f.Add([]byte("a session body of some length, as a real one would be"), uint16(70), byte('B'), byte(2))
	f.Add(bytes.Repeat([]byte{0}, 31), uint16(0xffff), byte('='), byte(0))
	kr := NewKeyring(testCurrent, testPrevious)
	f.Fuzz(func(t *testing.T, body []byte, pos uint16, b byte, op byte) {
		if len(body) > 600 {
			body = body[:600] // a token of more than MaxTokenLen characters is refused anyway
		}
		kind := KindSession
		if op&4 != 0 {
			kind = KindChallenge
		}
		tok := kr.Seal(kind, body)
		var got []byte
		if err := kr.Open(kind, tok, func(p []byte) error { got = append([]byte{}, p...); return nil }); err != nil {
			t.Fatalf("expected Seal's token to open, got %v", err)
		}
		if !bytes.Equal(got, body) {
			t.Fatalf("expected body %q back, got %q", body, got)
		}
		i := int(pos) % (len(tok) + 1)
		var changed string
		switch op % 3 {
		case 0: // replace
			if i == len(tok) {
				i--
			}
			if tok[i] == b {
				return
			}
			changed = tok[:i] + string([]byte{b}) + tok[i+1:]
		case 1: // insert
			changed = tok[:i] + string([]byte{b}) + tok[i:]
		case 2: // remove
			if i == len(tok) {
				i--
			}
			changed = tok[:i] + tok[i+1:]
		}
		if err := kr.Open(kind, changed, func([]byte) error { return nil }); err == nil {
			t.Fatalf("expected %q (token %q changed at %d) to be refused", changed, tok, i)
		}
	})
}
