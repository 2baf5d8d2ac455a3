package caddyotp

import (
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/caddyotp/internal/phone"
)

func TestGuardJudge(t *testing.T) {
	p := GuardPolicy{Window: time.Hour, MinSends: 25, MinConversion: 0.2, Block: time.Hour}
	tests := []struct {
		sent, verified float64
		want           bool
	}{
		{24, 0, false},  // not judged below min_sends
		{25, 1, true},   // 0.04 < 0.2
		{25, 5, false},  // 0.2 is not below 0.2
		{25, 4.9, true}, // a rolling count may be fractional
		{100, 30, false},
		{0, 0, false},
	}
	for _, tt := range tests {
		if got := GuardJudge(p, tt.sent, tt.verified); got != tt.want {
			t.Errorf("GuardJudge(%v sent, %v verified) = %v, expected %v", tt.sent, tt.verified, got, tt.want)
		}
	}
}

func TestGuardWindowCounts(t *testing.T) {
	w := time.Hour
	start := time.Unix(0, 0).Add(1000 * w) // the start of a fixed window
	tests := []struct {
		at                      time.Time
		previous, current, want float64
	}{
		{start, 10, 0, 10},                          // the rolling window is the previous one
		{start.Add(w / 2), 10, 4, 9},                // half of the previous one still covered
		{start.Add(w * 3 / 4), 8, 1, 3},             // a quarter of it
		{start.Add(w - time.Nanosecond), 100, 7, 7}, // almost nothing of the previous one
	}
	for _, tt := range tests {
		got := GuardWindowCounts(tt.previous, tt.current, w, tt.at)
		if got < tt.want-1e-6 || got > tt.want+1e-6 {
			t.Errorf("GuardWindowCounts(%v, %v) at +%s = %v, expected %v", tt.previous, tt.current, tt.at.Sub(start), got, tt.want)
		}
	}
	if GuardWindowIndex(start, w) != 1000 || GuardWindowIndex(start.Add(w-1), w) != 1000 || GuardWindowIndex(start.Add(w), w) != 1001 {
		t.Errorf("expected fixed windows to start at multiples of the window")
	}
}

func TestGuardKeys(t *testing.T) {
	num, err := phone.Parse("+447400123456")
	if err != nil {
		t.Fatal(err)
	}
	keys := guardKeys(num)
	if len(keys) != 2 || keys[0] != "country:GB" || keys[1] != "prefix:"+phone.Prefix(num.E164) {
		t.Errorf("expected the country and the prefix of the limit, got %v", keys)
	}
	if GuardScope(keys[0]) != GuardScopeCountry || GuardScope(keys[1]) != GuardScopePrefix || GuardScope("x") != "" {
		t.Errorf("expected scopes country and prefix, got %q %q", GuardScope(keys[0]), GuardScope(keys[1]))
	}
	for _, bad := range [][]string{nil, {"GB"}} {
		if CheckGuardArgs(bad, GuardPolicy{Window: time.Hour, MinSends: 1, MinConversion: 0.5, Block: time.Hour}) == nil {
			t.Errorf("expected keys %v refused", bad)
		}
	}
}
