package otpcode

import (
	"bytes"
	"strconv"
	"testing"
)

func TestGenerateShape(t *testing.T) {
	for length := MinLength; length <= MaxLength; length++ {
		for i := 0; i < 200; i++ {
			c, err := Generate(length)
			if err != nil {
				t.Fatalf("expected no error, got %v", err)
			}
			if len(c) != length || !Valid(c) {
				t.Fatalf("expected %d ASCII digits, got %q", length, c)
			}
		}
	}
}

func TestGenerateRejectsBadLength(t *testing.T) {
	for _, n := range []int{0, 5, 11, -1} {
		if _, err := Generate(n); err == nil {
			t.Errorf("expected an error for length %d, got none", n)
		}
	}
}

// TestGenerateUniform checks that every digit in every position turns up about equally
// often and that leading zeros are kept. 60,000 digits per position: a biased generator
// (modulo bias, a lost leading zero) lands far outside the bounds.
func TestGenerateUniform(t *testing.T) {
	const n = 10000
	var counts [6][10]int
	for i := 0; i < n; i++ {
		c, err := Generate(6)
		if err != nil {
			t.Fatal(err)
		}
		for p := 0; p < 6; p++ {
			counts[p][c[p]-'0']++
		}
	}
	for p := 0; p < 6; p++ {
		for d := 0; d < 10; d++ {
			// expected 1000 each; 5 standard deviations is about ±150
			if c := counts[p][d]; c < 850 || c > 1150 {
				t.Errorf("position %d digit %d: expected about 1000, got %d", p, d, c)
			}
		}
	}
}

func TestHashBindsEveryField(t *testing.T) {
	secret := bytes.Repeat([]byte("k"), 32)
	base := Hash(secret, "login", "+447400123456", "123456")
	others := [][]byte{
		Hash(secret, "login2", "+447400123456", "123456"),
		Hash(secret, "login", "+447400123457", "123456"),
		Hash(secret, "login", "+447400123456", "123457"),
		Hash(bytes.Repeat([]byte("x"), 32), "login", "+447400123456", "123456"),
		Hash(secret, "login+447400123456", "", "123456"),
	}
	for i, o := range others {
		if Equal(base, o) {
			t.Errorf("case %d: expected a different hash, got the same", i)
		}
	}
	if !Equal(base, Hash(secret, "login", "+447400123456", "123456")) {
		t.Error("expected the same inputs to give the same hash")
	}
	if len(base) != 32 {
		t.Errorf("expected 32 bytes, got %d", len(base))
	}
}

func TestValid(t *testing.T) {
	tests := []struct {
		code string
		want bool
	}{
		{"123456", true},
		{"000000", true},
		{"12345", true},
		{"", false},
		{"12345a", false},
		{" 123456", false},
		{"+123456", false},
		{"-123456", false},
		{"１２３４５６", false}, // full-width digits
		{"١٢٣٤٥٦", false}, // Arabic-Indic digits
		{"12345678901", false},
	}
	for _, tt := range tests {
		if got := Valid(tt.code); got != tt.want {
			t.Errorf("Valid(%q): expected %v, got %v", tt.code, tt.want, got)
		}
	}
}

func BenchmarkGenerate(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if _, err := Generate(6); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHash(b *testing.B) {
	secret := bytes.Repeat([]byte("k"), 32)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		Hash(secret, "login", "+447400123456", "123456")
	}
}

// FuzzValid checks Valid against an independent reading: 1 to MaxLength ASCII digits, as
// strconv reads a decimal without a sign. Full-width and other Unicode digits, signs,
// spaces and underscores are all refused.
func FuzzValid(f *testing.F) {
	for _, s := range []string{"123456", "000000", "12345", "", "12345a", " 123456", "+123456", "-123456",
		"１２３４５６", "١٢٣٤٥٦", "12345678901", "1234567890", "1_23456", "0x1234", "123456\x00", "۱۲۳۴۵۶", "１23456"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, code string) {
		got := Valid(code)
		_, err := strconv.ParseUint(code, 10, 64)
		want := len(code) >= 1 && len(code) <= MaxLength && err == nil && code[0] != '+'
		if got != want {
			t.Fatalf("Valid(%q): expected %v, got %v", code, want, got)
		}
		if got {
			for _, r := range code {
				if r < '0' || r > '9' {
					t.Fatalf("Valid(%q): accepted %q", code, r)
				}
			}
		}
	})
}
