package integration

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/internal/snsdouble"
	"github.com/caddyotp/caddyotp/internal/testnet"
)

// setCookie is the named cookie an answer sets, or nil.
func setCookie(a answer, name string) *http.Cookie {
	for _, c := range (&http.Response{Header: a.header}).Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// TestAttackCookiesBehindTLSProxy runs the gate behind a TLS-terminating proxy (the test's
// connection from 127.0.0.1, sending X-Forwarded-Proto: https) and checks that the cookies
// are Secure with the __Host- prefix on every path: the challenge page, the session check,
// the refresh of a session's cookie, and sign-out. The header counts only from a trusted
// proxy; `secure_cookies` makes the cookies secure on plain HTTP too.
func TestAttackCookiesBehindTLSProxy(t *testing.T) {
	sns := snsdouble.New(t)
	up, upAddr := startRecorder(t)
	site := func(servers, gateLines string) string {
		base := testnet.Site(testnet.FreePort(t))
		startCaddy(t, fmt.Sprintf("{\n%s\n%s\n}\n\n%s {\n\totp_gate /admin/* login {\n\t\tallow %s\n%s\n\t}\n\treverse_proxy %s\n}\n",
			otpOptions(sns, "resend 0s"), servers, base, gateMobile, gateLines, upAddr))
		return base
	}
	trusted := site("\tservers {\n\t\ttrusted_proxies static 127.0.0.1/32\n\t\ttrusted_proxies_strict\n\t}", "")
	untrusted := site("", "")
	forced := site("", "\t\tsecure_cookies")
	https := map[string]string{"X-Forwarded-Proto": "https"}
	forge := newForger(sharedSecret)

	for _, tc := range []struct {
		name    string
		base    string
		headers map[string]string
		secure  bool
	}{
		{"a trusted proxy saying https", trusted, https, true},
		{"a trusted proxy saying HTTPS", trusted, map[string]string{"X-Forwarded-Proto": "HTTPS"}, true},
		{"a trusted proxy saying http", trusted, map[string]string{"X-Forwarded-Proto": "http"}, false},
		{"a trusted proxy appending http to a client's https", trusted, map[string]string{"X-Forwarded-Proto": "https, http"}, false},
		{"a trusted proxy without the header", trusted, nil, false},
		{"an untrusted peer saying https", untrusted, https, false},
		{"secure_cookies on plain HTTP", forced, nil, true},
		{"secure_cookies with a client saying http", forced, map[string]string{"X-Forwarded-Proto": "http"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prefix, other := "", "__Host-"
			if tc.secure {
				prefix, other = "__Host-", ""
			}
			with := func(h map[string]string) map[string]string {
				out := map[string]string{}
				for k, v := range tc.headers {
					out[k] = v
				}
				for k, v := range h {
					out[k] = v
				}
				return out
			}
			check := func(what string, a answer, name string) {
				t.Helper()
				c := setCookie(a, prefix+name)
				if c == nil || c.Secure != tc.secure || c.Path != "/" || c.Domain != "" {
					t.Errorf("%s: expected Set-Cookie %s%s with Secure=%v, Path=/ and no Domain, got %q", what, prefix, name, tc.secure, a.header.Values("Set-Cookie"))
				}
				if setCookie(a, other+name) != nil {
					t.Errorf("%s: expected no %s%s cookie, got %q", what, other, name, a.header.Values("Set-Cookie"))
				}
			}

			// The challenge page.
			page := request(t, "GET", tc.base+"/admin/", nil, nil, "", with(htmlAccept))
			if page.status != http.StatusUnauthorized {
				t.Fatalf("expected 401 and the challenge page, got %d %s", page.status, page.body)
			}
			check("the challenge page", page, "otp_challenge")
			// A form step reads the challenge under the same name.
			challenge := setCookie(page, prefix+"otp_challenge")
			if challenge != nil {
				a := request(t, "POST", tc.base+"/admin/", url.Values{"_otp_step": {"send"}, "_otp_csrf": {page.csrf(t)}, "mobile": {gateMobile}},
					nil, prefix+"otp_challenge="+challenge.Value, tc.headers)
				if a.status != http.StatusSeeOther {
					t.Errorf("the send step: expected 303 with the challenge read, got %d %s", a.status, a.body)
				}
				check("the send step", a, "otp_challenge")
			}

			// The session check reads the cookie under the name it would set.
			now := time.Now().Unix()
			session := forge.session(now-600, now-120, now+3600, "login", "", gateMobile)
			before := up.count()
			a := request(t, "GET", tc.base+"/admin/x", nil, nil, prefix+"otp_session="+session, tc.headers)
			if a.status != http.StatusOK || up.count() != before+1 {
				t.Fatalf("expected the session in %sotp_session to reach the upstream, got %d %s", prefix, a.status, a.body)
			}
			check("the refreshed session", a, "otp_session")
			if saw := up.since(before)[0]; strings.Contains(saw.Header.Get("Cookie"), "otp_session") {
				t.Errorf("expected the session cookie kept from the upstream, got Cookie %q", saw.Header.Get("Cookie"))
			}
			if a := request(t, "GET", tc.base+"/admin/x", nil, nil, other+"otp_session="+session, tc.headers); a.status != http.StatusUnauthorized {
				t.Errorf("expected the session under %sotp_session refused, got %d %s", other, a.status, a.body)
			}

			// Sign-out finds the session and clears both cookies under their names.
			p := request(t, "GET", tc.base+"/admin/.otp/logout", nil, nil, prefix+"otp_session="+session, with(htmlAccept))
			a = request(t, "POST", tc.base+"/admin/.otp/logout", url.Values{"_otp_csrf": {p.csrf(t)}}, nil, prefix+"otp_session="+session, tc.headers)
			if a.status != http.StatusSeeOther {
				t.Fatalf("expected 303 from sign-out, got %d %s", a.status, a.body)
			}
			for _, name := range []string{"otp_session", "otp_challenge"} {
				c := setCookie(a, prefix+name)
				if c == nil || c.MaxAge >= 0 || c.Secure != tc.secure {
					t.Errorf("sign-out: expected %s%s cleared with Secure=%v, got %q", prefix, name, tc.secure, a.header.Values("Set-Cookie"))
				}
			}
			if a := request(t, "GET", tc.base+"/admin/x", nil, nil, prefix+"otp_session="+session, tc.headers); a.status != http.StatusUnauthorized {
				t.Errorf("expected the signed-out session refused, got %d %s", a.status, a.body)
			}
		})
	}
}
