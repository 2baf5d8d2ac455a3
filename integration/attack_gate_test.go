package integration

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestAttackIdentityHeaders forges the identity header in every spelling, with and
// without a session: without one nothing reaches the upstream; with one the upstream sees
// exactly one copy, the gate's.
func TestAttackIdentityHeaders(t *testing.T) {
	s := startAttackSite(t)
	session := gateSignIn(t, newJarClient(t), s.sns, s.spec+"/admin/", gateMobile)
	forged := [][]string{
		{"X-OTP-Mobile: +15550000001"},
		{"x-otp-mobile: +15550000001"},
		{"X-Otp-Mobile: +15550000001"},
		{"X_OTP_Mobile: +15550000001"},
		{"x_otp_mobile: +15550000001"},
		{"X-OTP_Mobile: +15550000001"},
		{"X-OTP-Mobile: +15550000001", "X-OTP-Mobile: +15550000002"},
		{"X_OTP_MOBILE: +15550000001", "x-otp-mobile: +15550000002", "X-Otp_Mobile: +15550000003"},
		{"X-OTP-Mobile: " + gateMobile},
	}
	for _, headers := range forged {
		before := s.up.count()
		checkBlocked(t, fmt.Sprintf("no session, %q", headers), get(t, s.specAddr, "/admin/x", s.specAddr, headers...), s.up.since(before))

		a := get(t, s.specAddr, "/admin/x", s.specAddr, append(headers, "Cookie: otp_session="+session)...)
		saw := s.up.since(before)
		if a.status != http.StatusOK || len(saw) != 1 {
			t.Fatalf("with a session and %q: expected 200 from the upstream, got %s, upstream %d", headers, a, len(saw))
		}
		var copies []string
		for name, values := range saw[0].Header {
			if strings.ToLower(strings.ReplaceAll(name, "_", "-")) == "x-otp-mobile" {
				for _, v := range values {
					copies = append(copies, name+": "+v)
				}
			}
		}
		if len(copies) != 1 || copies[0] != "X-Otp-Mobile: "+gateMobile {
			t.Errorf("with a session and %q: expected the upstream to see only X-Otp-Mobile: %s, got %q", headers, gateMobile, copies)
		}
	}
}

// TestAttackCookies throws forged, replayed, swapped and oversized cookies at the gate.
func TestAttackCookies(t *testing.T) {
	s := startAttackSite(t)
	session := gateSignIn(t, newJarClient(t), s.sns, s.spec+"/admin/", gateMobile)
	opsSession := gateSignIn(t, newJarClient(t), s.sns, s.spec+"/ops/", gateMobile)
	page := request(t, "GET", s.spec+"/admin/", nil, nil, "", htmlAccept)
	challenge := page.cookie("otp_challenge")
	if challenge == "" {
		t.Fatalf("expected a challenge cookie from the page, got %q", page.header.Values("Set-Cookie"))
	}
	now := time.Now().Unix()
	forge, other := newForger(sharedSecret), newForger("another-secret-0123456789abcdef0123456")
	tampered := []byte(session)
	tampered[len(tampered)/2] ^= 1
	if tampered[len(tampered)/2] == '-'^1 || tampered[len(tampered)/2] == '_'^1 {
		tampered[len(tampered)/2] = 'A'
	}

	// What a valid session does, so that each refusal below is the cookie's doing.
	for _, tc := range []struct{ name, path, cookie string }{
		{"the session", "/admin/x", "otp_session=" + session},
		{"the session among other cookies", "/admin/x", "a=1; otp_session=" + session + "; b=2"},
		{"the session first of two", "/admin/x", "otp_session=" + session + "; otp_session=bogus"},
		{"a session forged with the secret (the forger works)", "/admin/x", "otp_session=" + forge.session(now, now, now+3600, "login", "", gateMobile)},
		// An identity-bound gate's session proves the same mobile; a gate of the realm that
		// allows that mobile takes it (README: sessions are realm-bound).
		{"a user-bound session at a gate without users", "/admin/x", "otp_session=" + forge.session(now, now, now+3600, "login", "alice", gateMobile)},
		{"the session behind 300 other cookies", "/admin/x", strings.Repeat("c=1; ", 300) + "otp_session=" + session},
	} {
		before := s.up.count()
		a := get(t, s.specAddr, tc.path, s.specAddr, "Cookie: "+tc.cookie)
		saw := s.up.since(before)
		if a.status != http.StatusOK || len(saw) != 1 || !strings.Contains(a.body, "mobile="+gateMobile) {
			t.Fatalf("%s: expected 200 from the upstream with the mobile, got %s", tc.name, a)
		}
		if c := saw[0].Header.Get("Cookie"); strings.Contains(c, "otp_session") {
			t.Errorf("%s: expected the session cookie kept from the upstream, got Cookie %q", tc.name, c)
		}
	}

	refused := []struct{ name, path, cookie string }{
		{"no cookie", "/admin/x", ""},
		{"another realm's session", "/admin/x", "otp_session=" + opsSession},
		{"the session at another realm's gate", "/ops/x", "otp_session=" + session},
		{"the session at a gate of the realm that does not allow the mobile", "/staff/x", "otp_session=" + session},
		{"a challenge token as the session", "/admin/x", "otp_session=" + challenge},
		{"the session as the challenge only", "/admin/x", "otp_challenge=" + session},
		{"a session from another secret", "/admin/x", "otp_session=" + other.session(now, now, now+3600, "login", "", gateMobile)},
		{"a forged session of another realm", "/admin/x", "otp_session=" + forge.session(now, now, now+3600, "ops", "", gateMobile)},
		{"a forged session of a mobile not allowed", "/admin/x", "otp_session=" + forge.session(now, now, now+3600, "login", "", staffMobile)},
		{"an expired session", "/admin/x", "otp_session=" + forge.session(now-7200, now-10, now-1, "login", "", gateMobile)},
		{"an idle session", "/admin/x", "otp_session=" + forge.session(now-3600, now-31*60, now+3600, "login", "", gateMobile)},
		{"a session seen in the future", "/admin/x", "otp_session=" + forge.session(now, now+3600, now+7200, "login", "", gateMobile)},
		{"a session issued after it was seen", "/admin/x", "otp_session=" + forge.session(now, now-30, now+3600, "login", "", gateMobile)},
		{"a tampered session", "/admin/x", "otp_session=" + string(tampered)},
		{"a truncated session", "/admin/x", "otp_session=" + session[:len(session)-4]},
		{"the session with a byte more", "/admin/x", "otp_session=" + session + "A"},
		{"the session padded", "/admin/x", "otp_session=" + session + "=="},
		{"the session quoted", "/admin/x", `otp_session="` + session + `"`},
		{"the session under the __Host- name on HTTP", "/admin/x", "__Host-otp_session=" + session},
		{"the session under another case", "/admin/x", "OTP_SESSION=" + session},
		{"a bogus session before the real one", "/admin/x", "otp_session=bogus; otp_session=" + session},
		{"the session in the query", "/admin/x?otp_session=" + session, ""},
		{"a 5 KB session", "/admin/x", "otp_session=" + strings.Repeat("A", 5<<10)},
		{"a 5 KB session made of the real one", "/admin/x", "otp_session=" + strings.Repeat(session, 5<<10/len(session)+1)},
		{"a 100 KB cookie header", "/admin/x", "otp_session=" + strings.Repeat("A", 100<<10)},
		{"1000 bogus sessions", "/admin/x", strings.Repeat("otp_session=bogus; ", 1000)},
		{"an empty session", "/admin/x", "otp_session="},
	}
	// The same token in the standard base64 alphabet: when the token has no '-' or '_' the
	// two spellings are the same string, so the case is only meaningful otherwise.
	if std := strings.NewReplacer("-", "+", "_", "/").Replace(session); std != session {
		refused = append(refused, struct{ name, path, cookie string }{"the session in standard base64", "/admin/x", "otp_session=" + std})
	}
	for _, tc := range refused {
		before := s.up.count()
		var headers []string
		if tc.cookie != "" {
			headers = []string{"Cookie: " + tc.cookie}
		}
		a := get(t, s.specAddr, tc.path, s.specAddr, headers...)
		saw := s.up.since(before)
		if a.status == http.StatusRequestHeaderFieldsTooLarge && len(saw) == 0 {
			t.Logf("%s: 431 from Caddy", tc.name)
			continue
		}
		if a.status != http.StatusUnauthorized || !strings.Contains(a.body, `"otp_required"`) || len(saw) != 0 {
			t.Errorf("%s: expected 401 otp_required and nothing at the upstream, got %s, upstream %d", tc.name, a, len(saw))
		}
	}

	// Replay after logout: the cookie is refused at once, and its sign-out page offers no
	// form any more.
	jar := newJarClient(t)
	replayed := gateSignIn(t, jar, s.sns, s.spec+"/admin/", gateMobile)
	p := requestWith(t, jar, "GET", s.spec+"/admin/.otp/logout", nil, nil, "", htmlAccept)
	p = requestWith(t, jar, "POST", s.spec+"/admin/.otp/logout", url.Values{"_otp_csrf": {p.csrf(t)}}, nil, "", nil)
	if p.status != http.StatusSeeOther {
		t.Fatalf("expected 303 from the logout, got %d %s", p.status, p.body)
	}
	before := s.up.count()
	for _, path := range []string{"/admin/x", "/ops/x", "/staff/x"} {
		a := get(t, s.specAddr, path, s.specAddr, "Cookie: otp_session="+replayed)
		if a.status != http.StatusUnauthorized {
			t.Errorf("the logged-out session at %s: expected 401, got %s", path, a)
		}
	}
	if p := request(t, "GET", s.spec+"/admin/.otp/logout", nil, nil, "otp_session="+replayed, htmlAccept); csrfPattern.MatchString(p.body) {
		t.Errorf("expected no sign-out form for a logged-out session, got %s", p.body)
	}
	if n := len(s.up.since(before)); n != 0 {
		t.Errorf("expected nothing at the upstream after logout, got %d requests", n)
	}
	// The session signed in before is still good: logout ends one session, not the mobile's.
	if a := get(t, s.specAddr, "/admin/x", s.specAddr, "Cookie: otp_session="+session); a.status != http.StatusOK {
		t.Errorf("expected the other session to stay valid, got %s", a)
	}
}
