package phone

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		country string
		err     error
	}{
		{"+447400123456", "GB", nil},
		{"+12025550123", "US", nil},
		{"447400123456", "", ErrFormat},
		{"+44 7400 123456", "", ErrFormat},
		{"+44-7400-123456", "", ErrFormat},
		{"+4407400123456", "", ErrInvalid},
		{"+447700900123", "", ErrInvalid}, // drama range
		{"+4474001234567890", "", ErrFormat},
		{"+", "", ErrFormat},
		{"", "", ErrFormat},
		{"+０447400123456", "", ErrFormat},      // full-width zero
		{"+٤٤7400123456", "", ErrFormat},       // Arabic-Indic digits
		{"+447400123456;ext=1", "", ErrFormat}, // extension
		{"+442071234567", "", ErrNotMobile},    // London landline
		{"+0447400123456", "", ErrFormat},
		{"+447400123456\n", "", ErrFormat},
	}
	for _, tt := range tests {
		n, err := Parse(tt.in)
		if err != tt.err {
			t.Errorf("Parse(%q): expected error %v, got %v", tt.in, tt.err, err)
			continue
		}
		if err == nil && (n.E164 != tt.in || n.Country != tt.country) {
			t.Errorf("Parse(%q): expected %s in %s, got %s in %s", tt.in, tt.in, tt.country, n.E164, n.Country)
		}
	}
}

func TestMaskAndPrefix(t *testing.T) {
	n, err := Parse("+447400123456")
	if err != nil {
		t.Fatal(err)
	}
	if got := n.Mask(); got != "+44•••••••456" {
		t.Errorf("expected +44•••••••456, got %s", got)
	}
	if got := n.MaskForPage(); got != "+44 •••• ••••56" {
		t.Errorf("expected +44 •••• ••••56, got %s", got)
	}
	if got := Prefix(n.E164); got != "+44740012" {
		t.Errorf("expected +44740012, got %s", got)
	}
}

// FuzzParse checks Parse, ParseAny, the masks and Prefix on any string: nothing panics, a
// number is accepted only in exact E.164 form, ParseAny accepts what Parse accepts (and the
// non-mobiles), and no mask shows more than the calling code and the last three digits.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"+447400123456", "+12025550123", "+", "+٤٤", "+4474001234567890", "447400123456",
		"+442071234567", "+18005550123", "+4407400123456", "+447400123456;ext=1", "+1", "+99", "+8613800138000",
		"+0", "+44 7400 123456", "+３３612345678", "+447400123456\n", "+96891234567", "+2348031234567"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 64 {
			// Parse refuses anything over 16 bytes at once; long inputs only slow the
			// fuzzer down (minimizing them takes many runs) and find nothing new.
			s = s[:64]
		}
		n, err := Parse(s)
		a, aerr := ParseAny(s)
		masked := MaskString(s)
		_ = Prefix(s)
		if err == nil {
			if aerr != nil || a != n {
				t.Fatalf("Parse accepted %q as %+v, ParseAny gave %+v, %v", s, n, a, aerr)
			}
		} else if (aerr == nil) != (err == ErrNotMobile) {
			t.Fatalf("Parse(%q) = %v but ParseAny gave %v", s, err, aerr)
		}
		if aerr != nil {
			if err == nil {
				t.Fatal("unreachable")
			}
			if len(s) > 3 && !strings.HasSuffix(masked, s[len(s)-3:]) {
				t.Fatalf("MaskString(%q) = %q: expected the last three bytes kept", s, masked)
			}
			if len(s) > 3 && utf8.RuneCountInString(masked) != len(s)-3+utf8.RuneCountInString(s[len(s)-3:]) {
				t.Fatalf("MaskString(%q) = %q: expected one dot per hidden byte", s, masked)
			}
			return
		}
		// ParseAny accepted: the string is exact E.164.
		if a.E164 != s || len(s) < 3 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
			t.Fatalf("accepted %q as %q", s, a.E164)
		}
		for i := 1; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				t.Fatalf("accepted a non-digit in %q", s)
			}
		}
		cc := "+" + strconv.Itoa(a.Calling)
		if a.Calling <= 0 || !strings.HasPrefix(s, cc) || a.Country == "" {
			t.Fatalf("accepted %q with calling code %d and country %q", s, a.Calling, a.Country)
		}
		// The masks: calling code, dots, and the last three (two on the page) digits.
		wantMask := cc + strings.Repeat("•", len(s)-len(cc)-3) + s[len(s)-3:]
		if len(s)-len(cc) < 3 {
			t.Fatalf("accepted %q with fewer than three digits after its calling code", s)
		}
		if got := a.Mask(); got != wantMask {
			t.Fatalf("Mask(%q): expected %q, got %q", s, wantMask, got)
		}
		if err == nil && masked != wantMask {
			t.Fatalf("MaskString(%q): expected %q, got %q", s, wantMask, masked)
		}
		if got, want := a.MaskForPage(), cc+" •••• ••••"+s[len(s)-2:]; got != want {
			t.Fatalf("MaskForPage(%q): expected %q, got %q", s, want, got)
		}
		// Prefix: all but the last four digits, and always a prefix of the number.
		p := Prefix(s)
		if !strings.HasPrefix(s, p) || (len(s) > 5 && len(p) != len(s)-4) {
			t.Fatalf("Prefix(%q) = %q", s, p)
		}
	})
}

// TestParseCacheAgrees checks that a second Parse (answered from the cache) gives the same
// answer as the first, for good and bad numbers, and that the cache stays bounded.
func TestParseCacheAgrees(t *testing.T) {
	for _, s := range []string{"+447400123456", "+12025550123", "+447700900123", "+442071234567"} {
		n1, err1 := Parse(s)
		n2, err2 := Parse(s)
		if n1 != n2 || err1 != err2 {
			t.Errorf("%s: expected the same answer twice, got %+v %v and %+v %v", s, n1, err1, n2, err2)
		}
		if _, ok := parsed.get(s); !ok {
			t.Errorf("%s: expected the answer to be kept", s)
		}
	}
	defer func(n int) { parseCacheSize = n }(parseCacheSize)
	parseCacheSize = 50
	for i := 0; i < parseCacheSize+10; i++ {
		Parse(fmt.Sprintf("+4474001%05d", i%100000))
	}
	parsed.mu.RLock()
	size := len(parsed.m)
	parsed.mu.RUnlock()
	if size > parseCacheSize {
		t.Errorf("expected at most %d kept answers, got %d", parseCacheSize, size)
	}
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := Parse("+447400123456"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseUncached(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := parseValid("+447400123456"); err != nil {
			b.Fatal(err)
		}
	}
}
