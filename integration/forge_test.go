package integration

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
)

// forger makes gate tokens the way caddyotp/internal/session does, for an attacker who
// knows a secret: sessions and challenges with any times, realm or mobile. The format is
// base64url(kind | kid[4] | body | HMAC-SHA-256(key, kind | kid | body)).
type forger struct {
	key []byte
	kid [4]byte
}

// Token kinds, as in caddyotp/internal/session.
const (
	kindSession   byte = 1
	kindChallenge byte = 2
)

func newForger(secret string) forger {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("caddyotp session token key v1"))
	f := forger{key: m.Sum(nil)}
	id := sha256.Sum256(append([]byte("caddyotp key id"), f.key...))
	copy(f.kid[:], id[:4])
	return f
}

func (f forger) seal(kind byte, body []byte) string {
	raw := append([]byte{kind}, f.kid[:]...)
	raw = append(raw, body...)
	m := hmac.New(sha256.New, f.key)
	m.Write(raw)
	return base64.RawURLEncoding.EncodeToString(m.Sum(raw))
}

func appendString(b []byte, s string) []byte {
	return append(append(b, byte(len(s))), s...)
}

// session is a session token; issued, seen and expires are unix seconds.
func (f forger) session(issued, seen, expires int64, realm, user, mobile string) string {
	var id [16]byte
	rand.Read(id[:])
	b := id[:]
	b = binary.BigEndian.AppendUint64(b, uint64(issued))
	b = binary.BigEndian.AppendUint64(b, uint64(seen))
	b = binary.BigEndian.AppendUint64(b, uint64(expires))
	b = appendString(b, realm)
	b = appendString(b, user)
	b = appendString(b, mobile)
	return f.seal(kindSession, b)
}

// challenge is a challenge token and its anti-CSRF token.
func (f forger) challenge(created, sentAt int64, realm, mobile string) (token, csrf string) {
	var id [16]byte
	rand.Read(id[:])
	b := id[:]
	b = binary.BigEndian.AppendUint64(b, uint64(created))
	b = binary.BigEndian.AppendUint64(b, uint64(sentAt))
	b = append(b, 0)
	b = appendString(b, realm)
	b = appendString(b, mobile)
	return f.seal(kindChallenge, b), hex.EncodeToString(id[:])
}

// tokenID is the 16-byte id a token carries right after its 5-byte header, in hex (the
// session id and the challenge's anti-CSRF token). Tokens are signed, not encrypted.
func tokenID(token string) string {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) < 21 {
		return ""
	}
	return hex.EncodeToString(raw[5:21])
}

// logoutTokenOf is the sign-out form's anti-CSRF token of a session id (hex).
func logoutTokenOf(idHex string) string {
	id, _ := hex.DecodeString(idHex)
	sum := sha256.Sum256(append([]byte("caddyotp logout "), id...))
	return hex.EncodeToString(sum[:16])
}
