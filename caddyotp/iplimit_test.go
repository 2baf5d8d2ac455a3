package caddyotp

import "testing"

func TestIPLimitKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"192.0.2.1", "192.0.2.1"},
		{"::ffff:192.0.2.1", "192.0.2.1"},
		{"::ffff:c000:201", "192.0.2.1"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"2001:db8:1:2::1", "2001:db8:1:2::/64"},
		{"2001:DB8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"},
		{"2001:db8:1:3::1", "2001:db8:1:3::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"::1", "::/64"},
		{"not an address", "not an address"},
	}
	for _, tt := range tests {
		if got := ipLimitKey(tt.in); got != tt.want {
			t.Errorf("ipLimitKey(%q): expected %q, got %q", tt.in, tt.want, got)
		}
	}
	// Two addresses of one /64 share a key; the mapped and plain IPv4 forms too.
	if ipLimitKey("2001:db8::1") != ipLimitKey("2001:db8::ffff:1") {
		t.Error("expected two addresses of one /64 to share a key")
	}
	if ipLimitKey("::ffff:203.0.113.9") != ipLimitKey("203.0.113.9") {
		t.Error("expected an IPv4-mapped address to share its IPv4 address's key")
	}
}
