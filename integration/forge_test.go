package integration

import (
	"crypto/rand"
	"encoding/hex"

	"github.com/caddyotp/caddyotp/caddyotp/session"
)

// forger makes gate tokens with a known secret, as an attacker who has it could:
// sessions and challenges with any times, realm or mobile.
type forger struct{ keys *session.Keyring }

func newForger(secret string) forger { return forger{keys: session.NewKeyring([]byte(secret))} }

// session is a session token; issued, seen and expires are unix seconds.
func (f forger) session(issued, seen, expires int64, realm, user, mobile string) string {
	s := session.Session{Issued: issued, Seen: seen, Expires: expires, Realm: realm, User: user, Mobile: mobile}
	rand.Read(s.ID[:])
	tok, err := f.keys.SealSession(s)
	if err != nil {
		panic(err)
	}
	return tok
}

// challenge is a challenge token and its anti-CSRF token.
func (f forger) challenge(created, sentAt int64, realm, mobile string) (token, csrf string) {
	c := session.Challenge{Created: created, SentAt: sentAt, Realm: realm, Mobile: mobile}
	rand.Read(c.ID[:])
	tok, err := f.keys.SealChallenge(c)
	if err != nil {
		panic(err)
	}
	return tok, c.CSRF()
}

// sessionID is the 16-byte id a session token carries first in its body, in hex. Tokens
// are encrypted, so only the secret's holder reads it.
func (f forger) sessionID(token string) string {
	var id string
	if err := f.keys.Open(session.KindSession, token, func(body []byte) error {
		if len(body) < 16 {
			return session.ErrMalformed
		}
		id = hex.EncodeToString(body[:16])
		return nil
	}); err != nil {
		return ""
	}
	return id
}

// logoutTokenOf is the sign-out form's anti-CSRF token of a session id (hex).
func logoutTokenOf(idHex string) string {
	var s session.Session
	id, _ := hex.DecodeString(idHex)
	copy(s.ID[:], id)
	return s.LogoutToken()
}
