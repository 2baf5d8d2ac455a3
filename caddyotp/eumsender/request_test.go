package eumsender

import (
	"testing"
	"time"
)

func TestFormatMaxPrice(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{0.1, "0.10"},
		{0.05, "0.05"},
		{0.0463, "0.0463"},
		{1, "1.00"},
		{2.5, "2.50"},
		{10, "10.00"},
		{0.00001, "0.00001"},
		{0.123456789, "0.12345"}, // cut off, never rounded up
		{0.0000099, "0.00000"},
	}
	for _, tt := range tests {
		if got := formatMaxPrice(tt.in); got != tt.want {
			t.Errorf("formatMaxPrice(%v): expected %s, got %s", tt.in, tt.want, got)
		}
	}
}

func TestTimeToLive(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want int32 // 0: left out
	}{
		{0, 0},
		{-time.Second, 0},
		{time.Millisecond, 5},
		{4 * time.Second, 5},
		{5 * time.Second, 5},
		{90500 * time.Millisecond, 90}, // whole seconds, never past the code's life
		{5 * time.Minute, 300},
		{100 * time.Hour, 259200},
	}
	for _, tt := range tests {
		got := timeToLive(tt.in)
		switch {
		case tt.want == 0 && got != nil:
			t.Errorf("timeToLive(%v): expected none, got %d", tt.in, *got)
		case tt.want != 0 && (got == nil || *got != tt.want):
			t.Errorf("timeToLive(%v): expected %d, got %v", tt.in, tt.want, got)
		}
	}
}
