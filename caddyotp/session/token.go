// Package session is the gate's token format: it makes and checks the gate's sealed tokens,
// the session cookie and the challenge cookie. A token is
//
//	base64url( kind | kid[4] | nonce[24] | XChaCha20-Poly1305(key, nonce, body, ad = kind | kid) )
//
// The body is encrypted as well as authenticated: the session cookie has Path=/, so every
// upstream behind the site receives it, and it must not learn the mobile, the user or the
// realm from it. Open authenticates the whole token (the tag covers the kind, the kid and
// the ciphertext) before any byte of the body is parsed.
//
// Why XChaCha20-Poly1305 and not AES-256-GCM: the nonce is random, and the tokens are many.
// Every instance seals a new token at each sign-in and at each minute-by-minute refresh of
// a session's last-seen time, all under one key that lives as long as the secret. GCM's
// 96-bit nonce allows about 2^32 random nonces per key before a collision gets likelier
// than 2^-32 (NIST SP 800-38D), which a busy deployment reaches in days; a GCM nonce
// collision leaks the authentication key and lets tokens be forged. XChaCha20's 192-bit
// nonce puts the same bound near 2^80 tokens, so random nonces need no counter shared
// between instances. (It is in golang.org/x/crypto, already a dependency; it is not
// allowed under GODEBUG=fips140=only, where NewKeyring panics.)
//
// The kid names the key, so that a new secret can be rolled out while tokens sealed with
// the previous one still open. It has no Caddy imports.
package session

import (
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"sync"

	"golang.org/x/crypto/chacha20poly1305"
)

// Kinds of token; the kind byte, authenticated with the body, keeps one kind from being
// accepted as another.
const (
	KindSession   byte = 1
	KindChallenge byte = 2
	KindDevice    byte = 3
)

// MaxTokenLen bounds an encoded token; longer cookies are refused before decoding.
const MaxTokenLen = 1024

const (
	kidLen   = 4
	headLen  = 1 + kidLen // kind | kid, the associated data
	nonceLen = chacha20poly1305.NonceSizeX
	tagLen   = chacha20poly1305.Overhead
	// minRaw is a token with an empty body.
	minRaw = headLen + nonceLen + tagLen
)

// tokenEncoding refuses a last character with unused bits set, so that a token has one
// spelling only (with the alphabet check in Open, which the decoder's skipping of CR and
// LF needs).
var tokenEncoding = base64.RawURLEncoding.Strict()

// Errors of Open. They are for logs and tests; clients only learn "no session".
var (
	ErrMalformed   = errors.New("malformed token")
	ErrInauthentic = errors.New("token does not authenticate")
	ErrUnknownKey  = errors.New("token sealed with an unknown key")
)

// Keyring holds the current key, which seals, and earlier ones, which still open.
type Keyring struct {
	keys []key
}

type key struct {
	id   [kidLen]byte
	aead cipher.AEAD // safe for concurrent use
	pool sync.Pool   // of *scratch
}

// scratch is one call's buffers, so that Open allocates nothing.
type scratch struct {
	enc  []byte // the token's text, copied so it can be decoded without a conversion
	raw  []byte // the decoded token
	body []byte // the decrypted body
	head [headLen]byte
}

// NewKeyring derives a token key from each secret; the first secret seals. Derivation
// (HMAC-SHA-256 of a label under the secret) keeps the token key apart from the code-hash
// key made from the same secret.
func NewKeyring(secrets ...[]byte) *Keyring {
	kr := &Keyring{keys: make([]key, len(secrets))}
	for i, s := range secrets {
		m := hmac.New(sha256.New, s)
		m.Write([]byte("caddyotp session token key v2 xchacha20poly1305"))
		derived := m.Sum(nil)
		idSum := sha256.Sum256(append([]byte("caddyotp key id"), derived...))
		k := &kr.keys[i]
		copy(k.id[:], idSum[:kidLen])
		aead, err := chacha20poly1305.NewX(derived)
		if err != nil {
			panic("session: " + err.Error()) // only under fips140=only: the key size is right
		}
		k.aead = aead
		k.pool.New = func() any {
			return &scratch{enc: make([]byte, MaxTokenLen), raw: make([]byte, MaxTokenLen), body: make([]byte, MaxTokenLen)}
		}
	}
	return kr
}

// Seal encrypts body as a token of kind with the current key and a random nonce.
func (kr *Keyring) Seal(kind byte, body []byte) string {
	var nonce [nonceLen]byte
	rand.Read(nonce[:]) // never fails (crypto/rand since Go 1.24)
	return kr.seal(kind, body, nonce)
}

// seal is Seal with the nonce given, for tests that need a token's one spelling.
func (kr *Keyring) seal(kind byte, body []byte, nonce [nonceLen]byte) string {
	k := &kr.keys[0]
	s := k.pool.Get().(*scratch)
	defer k.pool.Put(s)
	s.head[0] = kind
	copy(s.head[1:], k.id[:])
	raw := make([]byte, 0, minRaw+len(body))
	raw = append(raw, s.head[:]...)
	raw = append(raw, nonce[:]...)
	raw = k.aead.Seal(raw, nonce[:], body, s.head[:])
	return tokenEncoding.EncodeToString(raw)
}

// Open authenticates and decrypts token and calls read with its body; the body is only
// valid during read. Nothing of the body is looked at before the tag is checked. It
// allocates nothing on the success path.
func (kr *Keyring) Open(kind byte, token string, read func(body []byte) error) error {
	if len(token) > MaxTokenLen || len(token) < base64.RawURLEncoding.EncodedLen(minRaw) {
		return ErrMalformed
	}
	for i := 0; i < len(token); i++ {
		if c := token[i]; !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return ErrMalformed
		}
	}
	// Decode the first bytes alone to learn the key; the kind is checked again, as
	// associated data, by the tag.
	var head [9]byte
	if _, err := tokenEncoding.Decode(head[:], []byte(token[:12])); err != nil {
		return ErrMalformed
	}
	if head[0] != kind {
		return ErrMalformed
	}
	k := kr.find([kidLen]byte(head[1:headLen]))
	if k == nil {
		return ErrUnknownKey
	}
	s := k.pool.Get().(*scratch)
	defer k.pool.Put(s)
	enc := s.enc[:copy(s.enc, token)]
	n, err := tokenEncoding.Decode(s.raw, enc)
	if err != nil || n < minRaw {
		return ErrMalformed
	}
	raw := s.raw[:n]
	body, err := k.aead.Open(s.body[:0], raw[headLen:headLen+nonceLen], raw[headLen+nonceLen:], raw[:headLen])
	if err != nil {
		return ErrInauthentic
	}
	return read(body)
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
