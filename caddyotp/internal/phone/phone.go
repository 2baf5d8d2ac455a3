// Package phone parses, checks and masks mobile numbers. It accepts E.164 only: a '+' and
// up to 15 ASCII digits, valid for libphonenumber and able to receive SMS. Nothing is
// guessed or truncated.
package phone

import (
	"errors"
	"strconv"
	"strings"
	"sync"

	"github.com/nyaruka/phonenumbers"
)

// Errors returned by Parse; the API maps each to invalid_mobile with its message.
var (
	ErrFormat    = errors.New("mobile must be in E.164 form: '+' and up to 15 ASCII digits, such as +447400123456")
	ErrInvalid   = errors.New("mobile is not a valid phone number")
	ErrNotMobile = errors.New("mobile is not a number that can receive SMS")
)

// Number is a parsed, valid mobile number.
type Number struct {
	E164    string // "+447400123456"
	Country string // ISO 3166-1 alpha-2 region, "GB"
	Calling int    // country calling code, 44
}

// Parse checks s strictly and returns the number.
func Parse(s string) (Number, error) {
	if len(s) < 3 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return Number{}, ErrFormat
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return Number{}, ErrFormat
		}
	}
	if r, ok := parsed.get(s); ok {
		return r.n, r.err
	}
	n, err := parseValid(s)
	parsed.put(s, parseResult{n, err})
	return n, err
}

// parseValid asks libphonenumber about a string already known to be '+' and digits. It
// runs dozens of regular expressions (about 20 µs), so Parse keeps its answers.
func parseValid(s string) (Number, error) {
	n, err := phonenumbers.Parse(s, "")
	if err != nil {
		return Number{}, ErrInvalid
	}
	if !phonenumbers.IsValidNumber(n) {
		return Number{}, ErrInvalid
	}
	// The library drops what it does not understand (extensions, stray zeros); insist that
	// its canonical form is what we were given, so a number is never quietly changed.
	if phonenumbers.Format(n, phonenumbers.E164) != s {
		return Number{}, ErrInvalid
	}
	switch phonenumbers.GetNumberType(n) {
	case phonenumbers.MOBILE, phonenumbers.FIXED_LINE_OR_MOBILE:
	default:
		return Number{}, ErrNotMobile
	}
	return Number{
		E164:    s,
		Country: phonenumbers.GetRegionCodeForNumber(n),
		Calling: int(n.GetCountryCode()),
	}, nil
}

// Prefix is the number without its last four digits: the unit SMS pumping walks.
func Prefix(e164 string) string {
	if len(e164) <= 5 {
		return e164
	}
	return e164[:len(e164)-4]
}

// Mask hides all but the calling code and the last three digits, for logs and the SMS
// ledger: "+44•••••••456".
func (n Number) Mask() string {
	cc := "+" + strconv.Itoa(n.Calling)
	rest := len(n.E164) - len(cc) - 3
	if rest < 0 {
		rest = 0
	}
	return cc + strings.Repeat("•", rest) + n.E164[len(n.E164)-3:]
}

// MaskForPage is the form shown to the person on the challenge page: "+44 •••• ••••56".
func (n Number) MaskForPage() string {
	return "+" + strconv.Itoa(n.Calling) + " •••• ••••" + n.E164[len(n.E164)-2:]
}

// MaskString masks a number that is already known to be E.164 but was not kept parsed.
func MaskString(e164 string) string {
	n, err := Parse(e164)
	if err != nil {
		if len(e164) > 3 {
			return strings.Repeat("•", len(e164)-3) + e164[len(e164)-3:]
		}
		return "•••"
	}
	return n.Mask()
}

// ParseAny checks s as E.164 and as a valid number of any type (an origination number may
// be a toll-free or short-code-backed long number, not a mobile).
func ParseAny(s string) (Number, error) {
	n, err := Parse(s)
	if err == nil || err == ErrNotMobile {
		if err == ErrNotMobile {
			p, _ := phonenumbers.Parse(s, "")
			return Number{E164: s, Country: phonenumbers.GetRegionCodeForNumber(p), Calling: int(p.GetCountryCode())}, nil
		}
		return n, nil
	}
	return Number{}, err
}

// parseCacheSize bounds the answers Parse keeps (about 120 bytes each, so ~6 MB): enough
// for every number sent to within a code's 10-minute lifetime at 80 sends a second, so a
// verify finds the answer its send left. A flood of distinct numbers only empties the cache
// (it is dropped whole when full), never grows it, and costs what no cache costs.
var parseCacheSize = 50000

type parseResult struct {
	n   Number
	err error
}

type parseCache struct {
	mu sync.RWMutex
	m  map[string]parseResult
}

var parsed = &parseCache{m: make(map[string]parseResult)}

func (c *parseCache) get(s string) (parseResult, bool) {
	c.mu.RLock()
	r, ok := c.m[s]
	c.mu.RUnlock()
	return r, ok
}

func (c *parseCache) put(s string, r parseResult) {
	c.mu.Lock()
	if len(c.m) >= parseCacheSize {
		c.m = make(map[string]parseResult)
	}
	c.m[s] = r
	c.mu.Unlock()
}
