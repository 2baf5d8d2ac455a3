package smsparts

import (
	"strings"
	"testing"
)

func TestCount(t *testing.T) {
	tests := []struct {
		name  string
		text  string
		parts int
		enc   Encoding
	}{
		{"empty", "", 1, GSM7},
		{"short", "123456 is your code", 1, GSM7},
		{"160 GSM-7", strings.Repeat("a", 160), 1, GSM7},
		{"161 GSM-7", strings.Repeat("a", 161), 2, GSM7},
		{"306 GSM-7", strings.Repeat("a", 306), 2, GSM7},
		{"307 GSM-7", strings.Repeat("a", 307), 3, GSM7},
		{"euro counts double", strings.Repeat("a", 158) + "€", 1, GSM7},
		{"euro over the edge", strings.Repeat("a", 159) + "€", 2, GSM7},
		{"bracket counts double", strings.Repeat("a", 159) + "[", 2, GSM7},
		{"escape not split", strings.Repeat("a", 152) + "[" + strings.Repeat("a", 10), 2, GSM7},
		{"pound is basic", strings.Repeat("£", 160), 1, GSM7},
		{"one emoji", "Your code 123456 😀", 1, UCS2},
		{"70 UCS-2", strings.Repeat("ж", 70), 1, UCS2},
		{"71 UCS-2", strings.Repeat("ж", 71), 2, UCS2},
		{"emoji turns 100 chars into UCS-2", strings.Repeat("a", 99) + "😀", 2, UCS2},
		{"134 UCS-2", strings.Repeat("ж", 134), 2, UCS2},
		{"135 UCS-2", strings.Repeat("ж", 135), 3, UCS2},
		{"emoji counts two units", strings.Repeat("ж", 69) + "😀", 2, UCS2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parts, enc := Count(tt.text)
			if parts != tt.parts || enc != tt.enc {
				t.Errorf("expected %d parts %s, got %d parts %s", tt.parts, tt.enc, parts, enc)
			}
		})
	}
}

func BenchmarkCount(b *testing.B) {
	text := "123456 is your Acme code. It expires in 5 minutes.\n\n@example.com #123456"
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		Count(text)
	}
}
