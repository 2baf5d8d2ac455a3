package session

import (
	"errors"
	"testing"
)

func TestDeviceRoundTrip(t *testing.T) {
	kr := NewKeyring(testCurrent)
	d := Device{ID: [16]byte{1, 2, 3}, Issued: 100, Expires: 200, Realm: "login", User: "alice", Mobile: "+447400123456"}
	tok, err := kr.SealDevice(d)
	if err != nil {
		t.Fatalf("SealDevice: expected no error, got %v", err)
	}
	got, err := kr.OpenDevice(tok, "login")
	if err != nil {
		t.Fatalf("OpenDevice: expected no error, got %v", err)
	}
	if got != d {
		t.Errorf("expected %+v, got %+v", d, got)
	}
	if _, err := kr.OpenDevice(tok, "other"); !errors.Is(err, ErrWrongRealm) {
		t.Errorf("expected ErrWrongRealm for another realm, got %v", err)
	}
	if _, err := kr.OpenSession(tok, "login"); err == nil {
		t.Error("expected a device token to be refused as a session")
	}
	s, _ := kr.SealSession(Session{Issued: 1, Seen: 1, Expires: 2, Realm: "login", Mobile: "+447400123456"})
	if _, err := kr.OpenDevice(s, "login"); err == nil {
		t.Error("expected a session token to be refused as a device")
	}
}

func TestSessionVerified(t *testing.T) {
	kr := NewKeyring(testCurrent)
	s := Session{ID: [16]byte{9}, Issued: 100, Seen: 150, Expires: 200, Realm: "login", Mobile: "+447400123456", Verified: 140}
	tok, _ := kr.SealSession(s)
	got, err := kr.OpenSession(tok, "login")
	if err != nil || got != s {
		t.Fatalf("expected %+v, got %+v, %v", s, got, err)
	}
	s.Verified = 0 // renewed by a remembered device
	tok, _ = kr.SealSession(s)
	if got, _ := kr.OpenSession(tok, "login"); got.Verified != 0 {
		t.Errorf("expected Verified 0 to stay 0, got %d", got.Verified)
	}
}

// TestSessionBeforeVerified: a token sealed before sessions carried Verified no longer
// opens (a token has one spelling only): visitors sign in again once after the upgrade.
func TestSessionBeforeVerified(t *testing.T) {
	kr := NewKeyring(testCurrent)
	var w Writer
	w.Fixed(make([]byte, 16))
	w.Uint64(100)
	w.Uint64(150)
	w.Uint64(200)
	_ = w.String("login")
	_ = w.String("")
	_ = w.String("+447400123456")
	if _, err := kr.OpenSession(kr.Seal(KindSession, w.Bytes()), "login"); !errors.Is(err, ErrMalformed) {
		t.Errorf("expected ErrMalformed for a version-1 token, got %v", err)
	}
	w.Uint64(100)
	if _, err := kr.OpenSession(kr.Seal(KindSession, w.Bytes()), "login"); err != nil {
		t.Errorf("expected the same token with Verified to open, got %v", err)
	}
}
