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
	tok := kr.Seal(KindSession, []byte("hel")) // 40 bytes: the last character has 4 unused bits
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

// FuzzOpen feeds arbitrary text to Open as both kinds of token: it must never panic, and
// whatever it accepts must be exactly what Seal makes of the body it read.
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
			if kr.Seal(kind, body) != token && prev.Seal(kind, body) != token {
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
