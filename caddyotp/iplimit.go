package caddyotp

import "net/netip"

// ipLimitKey is what the ip limit counts for a client address: an IPv4 address as it is
// (an IPv4-mapped IPv6 address as its IPv4 address), an IPv6 address by its /64, the
// smallest network a single customer is routinely given, so that the addresses of one
// subscriber share one limit. Anything else (no address) is counted as given.
func ipLimitKey(clientIP string) string {
	addr, err := netip.ParseAddr(clientIP)
	if err != nil {
		return clientIP
	}
	addr = addr.WithZone("").Unmap()
	if addr.Is4() {
		return addr.String()
	}
	p, err := addr.Prefix(64)
	if err != nil {
		return clientIP
	}
	return p.String()
}
