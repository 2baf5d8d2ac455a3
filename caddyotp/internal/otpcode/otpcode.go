// Package otpcode makes one-time codes and the keyed hashes stored in their place.
// It has no Caddy imports so that it can be tested and benchmarked on its own.
package otpcode

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"math/big"
)

// MinLength and MaxLength bound a code's digits: 6 digits give the 20 bits NIST SP 800-63B
// asks for; more than 10 nobody types.
const (
	MinLength = 6
	MaxLength = 10
)

// ErrMalformed is returned by Normalize for anything that is not a code of the right shape.
var ErrMalformed = errors.New("the code must be ASCII digits only")

// Generate returns a uniformly random code of length decimal digits, leading zeros kept.
// crypto/rand.Int uses rejection sampling, so there is no modulo bias.
func Generate(length int) (string, error) {
	if length < MinLength || length > MaxLength {
		return "", fmt.Errorf("code length %d is outside %d..%d", length, MinLength, MaxLength)
	}
	limit := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(length)), nil)
	n, err := rand.Int(rand.Reader, limit)
	if err != nil {
		return "", fmt.Errorf("reading random bytes: %w", err)
	}
	return fmt.Sprintf("%0*s", length, n.String()), nil
}

// Hash returns HMAC-SHA-256(secret, template, mobile, code). The fields are separated by a
// zero byte, which none of them can contain, so two different triples never collide.
func Hash(secret []byte, template, mobile, code string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(template))
	m.Write([]byte{0})
	m.Write([]byte(mobile))
	m.Write([]byte{0})
	m.Write([]byte(code))
	return m.Sum(nil)
}

// Equal compares two hashes in constant time.
func Equal(a, b []byte) bool {
	return subtle.ConstantTimeCompare(a, b) == 1
}

// Valid reports whether code is made of ASCII digits only and has 1 to MaxLength of them.
// It does not check a template's length: callers compare that themselves (the length is
// public: the SMS shows it).
func Valid(code string) bool {
	if len(code) < 1 || len(code) > MaxLength {
		return false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return false
		}
	}
	return true
}
