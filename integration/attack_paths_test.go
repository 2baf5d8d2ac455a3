package integration

import (
	"net/http"
	"strings"
	"testing"
)

// pathTrick is one request target that tries to reach /admin/ past the gate, sent byte for
// byte (Go's client would clean or escape most of them).
type pathTrick struct {
	name, target string
	// outside is the request URI the upstream gets on the README-shaped site (`otp_gate
	// /admin/*`, everything proxied), for the targets Caddy's path matcher reads as outside
	// /admin/*; "" for a target that is gated. Such a target reaches the upstream with the
	// path unchanged: whether that is the admin area is the upstream's reading of it
	// (README: "Choosing what to protect").
	outside string
	// outsideHardened is the same for the hardened site.
	outsideHardened string
}

var pathTricks = []pathTrick{
	{name: "exact /admin", target: "/admin", outside: "/admin"},
	{name: "exact /admin with a query", target: "/admin?/x", outside: "/admin?/x"},
	{name: "upper case", target: "/ADMIN/"},
	{name: "mixed case", target: "/Admin/x"},
	{name: "leading double slash", target: "//admin/"},
	{name: "inner double slash", target: "/admin//x"},
	{name: "dot dot", target: "/x/../admin/"},
	{name: "dot", target: "/admin/./x"},
	{name: "leading dot", target: "/./admin/"},
	{name: "escaped letter", target: "/%61dmin/"},
	{name: "escaped slash", target: "/admin%2fx"},
	{name: "escaped slash, upper case", target: "/admin%2Fx"},
	{name: "escaped dot dot", target: "/%2e%2e/admin/"},
	{name: "double escaped slash", target: "/admin%252fx", outside: "/admin%252fx"},
	{name: "semicolon parameter", target: "/admin;x=y/", outside: "/admin;x=y/"},
	{name: "semicolon segment", target: "/admin/;/x"},
	{name: "escaped semicolon", target: "/admin%3bx=y/", outside: "/admin%3bx=y/"},
	{name: "backslash", target: `/admin\x`, outside: "/admin%5Cx"},
	{name: "backslashes only", target: `\admin\`},
	{name: "escaped backslash", target: "/admin%5cx", outside: "/admin%5cx"},
	{name: "escaped tab", target: "/admin%09/x", outside: "/admin%09/x"},
	{name: "escaped null", target: "/admin%00/x", outside: "/admin%00/x"},
	{name: "fragment", target: "/admin/#x"},
	{name: "reserved segment, dot dot", target: "/admin/.otp/../x"},
	{name: "reserved segment, escaped dot", target: "/admin/%2eotp/logout"},
	{name: "reserved segment, escaped dot dot", target: "/admin/.otp/%2e%2e/x"},
	{name: "reserved segment, unknown page", target: "/admin/.otp/x"},
	{name: "reserved segment outside the gate", target: "/public/.otp/logout", outside: "/public/.otp/logout", outsideHardened: "/public/.otp/logout"},
}

// TestAttackPathTricks sends every trick, without a session, to the README-shaped site and
// to the hardened one. A gated trick must get Caddy's or the gate's answer and nothing at
// the upstream; one that Caddy reads as outside the protected paths must arrive at the
// upstream exactly as sent, with no identity header.
func TestAttackPathTricks(t *testing.T) {
	s := startAttackSite(t)
	for _, st := range []struct {
		name, addr string
		outside    func(pathTrick) string
	}{
		{"spec", s.specAddr, func(p pathTrick) string { return p.outside }},
		{"hardened", s.hardenedAddr, func(p pathTrick) string { return p.outsideHardened }},
	} {
		for _, tr := range pathTricks {
			before := s.up.count()
			a := get(t, st.addr, tr.target, st.addr, "X-OTP-Mobile: "+gateMobile)
			saw := s.up.since(before)
			t.Logf("%s %-36q -> %s, upstream saw %d", st.name, tr.target, a, len(saw))
			if want := st.outside(tr); want != "" {
				if len(saw) != 1 || saw[0].URI != want || a.status != http.StatusOK {
					t.Errorf("%s, %s: expected the upstream to get %q (outside the gate), got %s and %v", st.name, tr.name, want, a, saw)
				}
				continue
			}
			checkBlocked(t, st.name+", "+tr.name, a, saw)
		}
	}
}

// checkBlocked fails unless a is Caddy's or the gate's refusal and nothing reached the upstream.
func checkBlocked(t testing.TB, what string, a rawAnswer, saw []upstreamSaw) {
	t.Helper()
	if len(saw) != 0 {
		t.Errorf("%s: expected nothing at the upstream, got %d requests (%q)", what, len(saw), saw[0].URI)
	}
	if a.err != nil {
		t.Errorf("%s: expected an HTTP answer, got %v", what, a.err)
		return
	}
	switch {
	case a.status == http.StatusBadRequest, a.status == http.StatusUnauthorized, a.status == http.StatusNotFound:
	case a.status == http.StatusOK && strings.Contains(a.body, "<h2>Sign out</h2>"): // the gate's own page
	default:
		t.Errorf("%s: expected 400, 401 or 404 from Caddy or the gate, got %s", what, a)
	}
	if strings.Contains(a.body, upstreamMark) {
		t.Errorf("%s: expected no upstream answer, got %q", what, a.body)
	}
	if a.status == http.StatusUnauthorized && !strings.Contains(a.body, `"otp_required"`) {
		t.Errorf("%s: expected the gate's otp_required, got %s", what, a)
	}
}

// TestAttackHostTricks sends /admin/ with hosts that are not quite the site's: trailing
// dots, another case, absolute-form request lines with a different Host header.
func TestAttackHostTricks(t *testing.T) {
	s := startAttackSite(t)
	port := s.specAddr[strings.LastIndex(s.specAddr, ":")+1:]
	for _, tc := range []struct {
		name, target, host string
		gated              bool // the gate answers (else no site matches: Caddy's empty 200)
	}{
		{"trailing dot on the IP", "/admin/", "127.0.0.1.:" + port, false},
		{"trailing dot on the IP, no port", "/admin/", "127.0.0.1.", false},
		{"named host", "/admin/", "admin.test:" + port, true},
		{"named host, upper case", "/admin/", "ADMIN.TEST:" + port, true},
		{"named host, trailing dot", "/admin/", "admin.test.:" + port, false},
		{"another host", "/admin/", "evil.example", false},
		{"absolute form, Host another", "http://" + s.specAddr + "/admin/", "evil.example", true},
		{"absolute form, Host trailing dot", "http://" + s.specAddr + "/admin/", "127.0.0.1.:" + port, true},
		{"absolute form to the named host", "http://admin.test:" + port + "/admin/", s.specAddr, true},
		{"absolute form to a trailing dot", "http://admin.test.:" + port + "/admin/", "admin.test:" + port, false},
		{"absolute form to another host", "http://evil.example/admin/", s.specAddr, false},
		{"absolute form, https scheme", "https://" + s.specAddr + "/admin/", s.specAddr, true},
	} {
		before := s.up.count()
		a := get(t, s.specAddr, tc.target, tc.host)
		saw := s.up.since(before)
		t.Logf("%-34s GET %s, Host %s -> %s", tc.name, tc.target, tc.host, a)
		if tc.gated {
			checkBlocked(t, tc.name, a, saw)
			continue
		}
		if len(saw) != 0 || a.err != nil || a.status != http.StatusOK || a.body != "" {
			t.Errorf("%s: expected Caddy's empty answer for a host no site serves and nothing at the upstream, got %s, upstream %d", tc.name, a, len(saw))
		}
	}
}
