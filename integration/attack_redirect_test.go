package integration

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// targetClient is a client with a cookie jar that sends target, byte for byte, as the
// request target of every request, whatever URL it is given (for paths Go would escape).
func targetClient(t testing.TB, target string) *http.Client {
	c := newJarClient(t)
	c.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		if strings.HasPrefix(target, "//") {
			// An opaque "//…" would be sent in absolute form: set the path instead, which
			// Go sends as it is when it is a valid escaping.
			u, err := url.Parse("http://host" + target)
			if err != nil {
				return nil, err
			}
			r.URL.Path, r.URL.RawPath, r.URL.RawQuery = u.Path, u.RawPath, u.RawQuery
		} else {
			r.URL.Opaque = target
		}
		return http.DefaultTransport.RoundTrip(r)
	})
	return c
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// checkLocation fails unless loc is a path on the same site that no browser can read as
// another host: one leading slash, then no slash, and nothing in its path a URL parser
// strips or folds (controls, spaces, backslashes).
func checkLocation(t testing.TB, what, loc, want string) {
	t.Helper()
	path, _, _ := strings.Cut(loc, "?")
	if !strings.HasPrefix(path, "/") || strings.HasPrefix(path, "//") || strings.ContainsAny(path, "\\ \t\r\n\x00") ||
		strings.ContainsAny(loc, "\t\r\n\x00") {
		t.Errorf("%s: expected a Location with one leading / and no \\ or whitespace in its path, got %q", what, loc)
	}
	if u, err := url.Parse(loc); err != nil || u.Host != "" || u.Scheme != "" {
		t.Errorf("%s: expected a Location without a host, got %q", what, loc)
	}
	if want != "" && loc != want {
		t.Errorf("%s: expected Location %q, got %q", what, want, loc)
	}
}

// redirectHeaders are what a client may send to move a redirect elsewhere.
var redirectHeaders = map[string]string{
	"X-Forwarded-Host":  "evil.example",
	"X-Forwarded-Proto": "https",
	"X-Forwarded-Port":  "443",
	"X-Forwarded-For":   "203.0.113.9",
	"X-Original-URL":    "//evil.example/",
	"X-Rewrite-URL":     "//evil.example/",
	"X-Forwarded-Uri":   "//evil.example/",
	"Forwarded":         `for=203.0.113.9;host=evil.example;proto=https`,
	"Referer":           "https://evil.example/",
	"Origin":            "", // set per request below when wanted
}

// TestAttackRedirects signs in and out with every redirect trick: the 303 after the right
// code goes to the path and query asked for, the one after logout to the path before
// /.otp/, never elsewhere.
func TestAttackRedirects(t *testing.T) {
	s := startAttackSite(t)
	headers := map[string]string{}
	for k, v := range redirectHeaders {
		if v != "" {
			headers[k] = v
		}
	}

	// Headers and parameters a client controls, through Go's client.
	for _, tc := range []struct{ path, want string }{
		{"/admin/", "/admin/"},
		{"/admin/x?return=https://evil.example/&next=//evil.example&redirect=/\\evil.example", "/admin/x?return=https://evil.example/&next=//evil.example&redirect=/\\evil.example"},
		{"/admin/?return_to=%2F%2Fevil.example", "/admin/?return_to=%2F%2Fevil.example"},
	} {
		a := gateSignInWith(t, newJarClient(t), s.sns, s.spec+tc.path, gateMobile, headers)
		checkLocation(t, "after the right code at "+tc.path, a.header.Get("Location"), tc.want)
	}

	// Paths that start like another host, byte for byte; the whole site is gated there.
	for _, tc := range []struct{ target, want string }{
		{"//evil.example/x", "/evil.example/x"},
		{"///evil.example/x", "/evil.example/x"},
		{`/\evil.example/x`, "/%5Cevil.example/x"},
		{`/\/evil.example/x`, "/%5C/evil.example/x"},
		{"/%2F%2Fevil.example/x", "/%2F%2Fevil.example/x"},
		{"/%5C%5Cevil.example/x", "/%5C%5Cevil.example/x"},
		{"/%09/evil.example/x", "/%09/evil.example/x"},
		{"//evil.example/x?next=//evil.example", "/evil.example/x?next=//evil.example"},
	} {
		a := gateSignInWith(t, targetClient(t, tc.target), s.sns, s.whole+"/", gateMobile, headers)
		checkLocation(t, "after the right code at "+tc.target, a.header.Get("Location"), tc.want)
	}

	// Logout: a POST without a session only clears the cookies and redirects, so every
	// target is tried that way; then one with a session and its token.
	for _, tc := range []struct{ addr, target, want string }{
		{s.specAddr, "/admin/.otp/logout", "/admin/"},
		{s.specAddr, "//admin/.otp/logout", "/admin/"},
		{s.specAddr, "/admin/%2eotp/logout", "/admin/"},
		{s.specAddr, "/%09/evil.example/../../admin/%2eotp/logout", ""},
		{s.specAddr, "/%09/evil.example/../../admin/.otp/logout", ""},
		{s.specAddr, "/%5C/evil.example/../../admin/%2eotp/logout", ""},
		{s.specAddr, "/%2F%2Fevil.example/../../admin/%2eotp/logout", ""},
		{s.wholeAddr, "//evil.example/.otp/logout", "/evil.example/"},
		{s.wholeAddr, `/\evil.example/.otp/logout`, "/%5Cevil.example/"},
		{s.wholeAddr, "/%5Cevil.example/%2eotp/logout", ""},
		{s.wholeAddr, "/%09/evil.example/%2eotp/logout", ""},
		{s.wholeAddr, "/%0a/evil.example/%2eotp/logout", ""},
		{s.wholeAddr, "/%20/evil.example/%2eotp/logout", ""},
		{s.wholeAddr, "/%2F/evil.example/%2eotp/logout", ""},
		{s.wholeAddr, "/.otp/logout", "/"},
	} {
		req := "POST " + tc.target + " HTTP/1.1\nHost: " + tc.addr + "\nContent-Type: application/x-www-form-urlencoded\n"
		for k, v := range headers {
			req += k + ": " + v + "\n"
		}
		a := rawRequest(t, tc.addr, req+"Content-Length: 0\nConnection: close\n\n")
		if a.status != http.StatusSeeOther {
			t.Errorf("logout at %s: expected 303, got %s", tc.target, a)
			continue
		}
		checkLocation(t, "after logout at "+tc.target, a.header.Get("Location"), tc.want)
	}
	jar := newJarClient(t)
	gateSignIn(t, jar, s.sns, s.spec+"/admin/", gateMobile)
	p := requestWith(t, jar, "GET", s.spec+"/admin/.otp/logout?next=//evil.example", nil, nil, "", htmlAccept)
	p = requestWith(t, jar, "POST", s.spec+"/admin/.otp/logout?next=//evil.example", url.Values{"_otp_csrf": {p.csrf(t)}}, nil, "", headers)
	if p.status != http.StatusSeeOther {
		t.Fatalf("expected 303 from the logout, got %d %s", p.status, p.body)
	}
	checkLocation(t, "after a logout with a session", p.header.Get("Location"), "/admin/")
}
