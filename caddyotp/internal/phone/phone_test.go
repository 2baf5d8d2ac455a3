package phone

import "testing"

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

func FuzzParse(f *testing.F) {
	for _, s := range []string{"+447400123456", "+12025550123", "+", "+٤٤", "+4474001234567890", "447400123456"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Parse(s)
		if err != nil {
			return
		}
		if n.E164 != s || len(s) > 16 || s[0] != '+' {
			t.Fatalf("accepted %q as %q", s, n.E164)
		}
		for i := 1; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				t.Fatalf("accepted a non-digit in %q", s)
			}
		}
		_ = n.Mask()
		_ = n.MaskForPage()
	})
}
