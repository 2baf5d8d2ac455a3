package session

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
)

// ErrWrongRealm is returned by OpenSession for a session of another realm.
var ErrWrongRealm = errors.New("session of another realm")

// Session is what a session token says. Times are unix seconds. Realm is the template's
// name: a session is good for the gates that use the same template.
type Session struct {
	ID      [16]byte
	Issued  int64
	Seen    int64 // last activity
	Expires int64 // absolute end
	Realm   string
	User    string // the first factor's user, in identity-bound mode
	Mobile  string
	// When a code was last verified for this session; 0 for a session a remembered device
	// renewed, which no step-up (max_age) accepts. (Tokens from before it was added do not
	// open: a token has one spelling only.)
	Verified int64
}

// Device is what a device cookie says: the browser may renew a lapsed session of Realm,
// User and Mobile until Expires, while the store still has ID on record.
type Device struct {
	ID      [16]byte
	Issued  int64
	Expires int64
	Realm   string
	User    string
	Mobile  string
}

// Challenge is the state of a sign-in in progress. It holds no count and no outcome: those
// live in the store, so a client that posts an old challenge again changes nothing.
type Challenge struct {
	ID      [16]byte // also the anti-CSRF token of the forms
	Created int64
	SentAt  int64 // 0 until a code was asked for
	Realm   string
	Mobile  string // E.164, once entered
}

// SealSession signs s with the current key.
func (kr *Keyring) SealSession(s Session) (string, error) {
	var w Writer
	w.Fixed(s.ID[:])
	w.Uint64(uint64(s.Issued))
	w.Uint64(uint64(s.Seen))
	w.Uint64(uint64(s.Expires))
	if err := errors.Join(w.String(s.Realm), w.String(s.User), w.String(s.Mobile)); err != nil {
		return "", err
	}
	w.Uint64(uint64(s.Verified))
	return kr.Seal(KindSession, w.Bytes()), nil
}

// OpenSession checks token's MAC and reads it. It refuses a session of another realm
// before copying anything, so the gate's hot path allocates only the mobile (and user).
// Times are the caller's to check.
func (kr *Keyring) OpenSession(token, realm string) (Session, error) {
	var s Session
	err := kr.Open(KindSession, token, func(body []byte) error {
		r := NewReader(body)
		r.Fixed(s.ID[:])
		s.Issued = int64(r.Uint64())
		s.Seen = int64(r.Uint64())
		s.Expires = int64(r.Uint64())
		rlm, user, mobile := r.String(), r.String(), r.String()
		s.Verified = int64(r.Uint64())
		if err := r.Err(); err != nil {
			return err
		}
		if string(rlm) != realm {
			return ErrWrongRealm
		}
		s.Realm = realm
		if len(user) > 0 {
			s.User = string(user)
		}
		s.Mobile = string(mobile)
		return nil
	})
	return s, err
}

// SealChallenge signs c with the current key.
func (kr *Keyring) SealChallenge(c Challenge) (string, error) {
	var w Writer
	w.Fixed(c.ID[:])
	w.Uint64(uint64(c.Created))
	w.Uint64(uint64(c.SentAt))
	if err := errors.Join(w.String(c.Realm), w.String(c.Mobile)); err != nil {
		return "", err
	}
	return kr.Seal(KindChallenge, w.Bytes()), nil
}

// OpenChallenge checks token's MAC and reads it.
func (kr *Keyring) OpenChallenge(token string) (Challenge, error) {
	var c Challenge
	err := kr.Open(KindChallenge, token, func(body []byte) error {
		r := NewReader(body)
		r.Fixed(c.ID[:])
		c.Created = int64(r.Uint64())
		c.SentAt = int64(r.Uint64())
		c.Realm = string(r.String())
		c.Mobile = string(r.String())
		return r.Err()
	})
	return c, err
}

// SealDevice signs d with the current key.
func (kr *Keyring) SealDevice(d Device) (string, error) {
	var w Writer
	w.Fixed(d.ID[:])
	w.Uint64(uint64(d.Issued))
	w.Uint64(uint64(d.Expires))
	if err := errors.Join(w.String(d.Realm), w.String(d.User), w.String(d.Mobile)); err != nil {
		return "", err
	}
	return kr.Seal(KindDevice, w.Bytes()), nil
}

// OpenDevice checks token's MAC and reads it; a device of another realm is refused.
// Times are the caller's to check.
func (kr *Keyring) OpenDevice(token, realm string) (Device, error) {
	var d Device
	err := kr.Open(KindDevice, token, func(body []byte) error {
		r := NewReader(body)
		r.Fixed(d.ID[:])
		d.Issued = int64(r.Uint64())
		d.Expires = int64(r.Uint64())
		rlm, user, mobile := r.String(), r.String(), r.String()
		if err := r.Err(); err != nil {
			return err
		}
		if string(rlm) != realm {
			return ErrWrongRealm
		}
		d.Realm, d.User, d.Mobile = realm, string(user), string(mobile)
		return nil
	})
	return d, err
}

// IDHex is the device's id as the store names it.
func (d Device) IDHex() string { return hex.EncodeToString(d.ID[:]) }

// CSRF is the anti-CSRF token of the challenge's forms.
func (c Challenge) CSRF() string { return hex.EncodeToString(c.ID[:]) }

// IDHex is the session's id as revocations name it.
func (s Session) IDHex() string { return hex.EncodeToString(s.ID[:]) }

// LogoutToken is the anti-CSRF token of the session's sign-out form: only a page that
// knows the session (its own) can show it.
func (s Session) LogoutToken() string {
	sum := sha256.Sum256(append([]byte("caddyotp logout "), s.ID[:]...))
	return hex.EncodeToString(sum[:16])
}
