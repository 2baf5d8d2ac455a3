// Package session is the gate's token format: it makes and checks the gate's signed tokens: the session cookie and the
// challenge cookie. A token is
//
//	base64url( version | kid[4] | body | HMAC-SHA-256(key, version | kid | body) )
//
// The MAC is checked, in constant time, before any of the body is read. The kid names the
// key, so that a new secret can be rolled out while tokens signed with the previous one
// stay valid. It has no Caddy imports.
package session

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash"
	"sync"
)

// Kinds of token; the version byte keeps one kind from being accepted as another.
const (
	KindSession   byte = 1
	KindChallenge byte = 2
)

// MaxTokenLen bounds an encoded token; longer cookies are refused before decoding.
const MaxTokenLen = 1024

const (
	kidLen = 4
	macLen = sha256.Size
)

// tokenEncoding refuses a last character with unused bits set, so that a token has one
// spelling only (with the alphabet check in Open, which the decoder's skipping of CR and
// LF needs).
var tokenEncoding = base64.RawURLEncoding.Strict()

// Errors of Open. They are for logs and tests; clients only learn "no session".
var (
	ErrMalformed  = errors.New("malformed token")
	ErrBadMAC     = errors.New("token signature does not verify")
	ErrUnknownKey = errors.New("token signed with an unknown key")
)

// Keyring holds the current key, which signs, and earlier ones, which still verify.
type Keyring struct {
	keys []key
}

type key struct {
	id   [kidLen]byte
	pool sync.Pool // of *signer
}

type signer struct {
	mac hash.Hash
	enc []byte // the token's text, copied so it can be decoded without a conversion
	buf []byte // the decoded token
	sum []byte
}

// NewKeyring derives a token key from each secret; the first secret signs. Derivation
// keeps the token key apart from the code-hash key made from the same secret.
func NewKeyring(secrets ...[]byte) *Keyring {
	kr := &Keyring{keys: make([]key, len(secrets))}
	for i, s := range secrets {
		m := hmac.New(sha256.New, s)
		m.Write([]byte("caddyotp session token key v1"))
		derived := m.Sum(nil)
		idSum := sha256.Sum256(append([]byte("caddyotp key id"), derived...))
		copy(kr.keys[i].id[:], idSum[:kidLen])
		kr.keys[i].pool.New = func() any {
			return &signer{mac: hmac.New(sha256.New, derived), enc: make([]byte, MaxTokenLen),
				buf: make([]byte, MaxTokenLen), sum: make([]byte, 0, macLen)}
		}
	}
	return kr
}

// Seal signs body as a token of kind with the current key.
func (kr *Keyring) Seal(kind byte, body []byte) string {
	k := &kr.keys[0]
	s := k.pool.Get().(*signer)
	defer k.pool.Put(s)
	raw := make([]byte, 0, 1+kidLen+len(body)+macLen)
	raw = append(raw, kind)
	raw = append(raw, k.id[:]...)
	raw = append(raw, body...)
	s.mac.Reset()
	s.mac.Write(raw)
	raw = s.mac.Sum(raw)
	return tokenEncoding.EncodeToString(raw)
}

// Open checks token and calls read with its body; the body is only valid during read.
// It allocates nothing on the success path.
func (kr *Keyring) Open(kind byte, token string, read func(body []byte) error) error {
	if len(token) > MaxTokenLen || len(token) < base64.RawURLEncoding.EncodedLen(1+kidLen+macLen) {
		return ErrMalformed
	}
	for i := 0; i < len(token); i++ {
		if c := token[i]; !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return ErrMalformed
		}
	}
	var kidBuf [kidLen]byte
	// Decode the first bytes alone to learn the key.
	var head [9]byte
	if _, err := tokenEncoding.Decode(head[:], []byte(token[:12])); err != nil {
		return ErrMalformed
	}
	if head[0] != kind {
		return ErrMalformed
	}
	copy(kidBuf[:], head[1:1+kidLen])
	k := kr.find(kidBuf)
	if k == nil {
		return ErrUnknownKey
	}
	s := k.pool.Get().(*signer)
	defer k.pool.Put(s)
	enc := s.enc[:copy(s.enc, token)]
	n, err := tokenEncoding.Decode(s.buf, enc)
	if err != nil || n < 1+kidLen+macLen {
		return ErrMalformed
	}
	raw := s.buf[:n]
	signed, mac := raw[:n-macLen], raw[n-macLen:]
	s.mac.Reset()
	s.mac.Write(signed)
	s.sum = s.mac.Sum(s.sum[:0])
	if subtle.ConstantTimeCompare(s.sum, mac) != 1 {
		return ErrBadMAC
	}
	return read(signed[1+kidLen:])
}

func (kr *Keyring) find(id [kidLen]byte) *key {
	for i := range kr.keys {
		if kr.keys[i].id == id {
			return &kr.keys[i]
		}
	}
	return nil
}

// Writer appends fields to a token body.
type Writer struct{ b []byte }

func (w *Writer) Bytes() []byte   { return w.b }
func (w *Writer) Uint64(v uint64) { w.b = binary.BigEndian.AppendUint64(w.b, v) }
func (w *Writer) Fixed(p []byte)  { w.b = append(w.b, p...) }
func (w *Writer) Byte(v byte)     { w.b = append(w.b, v) }
func (w *Writer) String(s string) error {
	if len(s) > 255 {
		return errors.New("token field longer than 255 bytes")
	}
	w.b = append(w.b, byte(len(s)))
	w.b = append(w.b, s...)
	return nil
}

// Reader reads fields from a token body; after the first short read every read fails.
type Reader struct {
	b   []byte
	bad bool
}

func NewReader(b []byte) *Reader { return &Reader{b: b} }

func (r *Reader) Uint64() uint64 {
	if len(r.b) < 8 {
		r.bad = true
		return 0
	}
	v := binary.BigEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

func (r *Reader) Byte() byte {
	if len(r.b) < 1 {
		r.bad = true
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

// Fixed fills p.
func (r *Reader) Fixed(p []byte) {
	if len(r.b) < len(p) {
		r.bad = true
		return
	}
	copy(p, r.b)
	r.b = r.b[len(p):]
}

// String returns a length-prefixed field without copying it.
func (r *Reader) String() []byte {
	n := int(r.Byte())
	if r.bad || len(r.b) < n {
		r.bad = true
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

// Err reports a short or over-long body.
func (r *Reader) Err() error {
	if r.bad || len(r.b) != 0 {
		return ErrMalformed
	}
	return nil
}
