package otpgate

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddyotp/caddyotp/caddyotp/session"
)

const rememberGate = `otp_gate /admin/* login {
		allow +447400123456 +12025550123
		remember 30d
	}`

// TestRememberDevice: the code step offers "Remember this device for 30 days"; ticked, a
// right code sets the device cookie, and a browser with only that cookie gets in again
// without an SMS, with a fresh session; unticked, no device cookie.
func TestRememberDevice(t *testing.T) {
	s := startSite(t, loginTemplate, rememberGate)
	u := s.base + "/admin/reports"
	a := newBrowser(t)
	p := a.get(t, u)
	a.post(t, u, url.Values{"_otp_step": {"send"}, "_otp_csrf": {p.csrf(t)}, "mobile": {gbMobile}})
	waitCode(t, s.sns, gbMobile, 0)
	p = a.get(t, u)
	if !strings.Contains(p.body, `name="remember" type="checkbox" value="1"`) || !strings.Contains(p.body, "Remember this device for 30 days") {
		t.Fatalf("expected the remember checkbox for 30 days on the code step, got %s", p.body)
	}

	a = newBrowser(t)
	p = signInAt(t, s, a, u, gbMobile, url.Values{"remember": {"1"}})
	d := p.setCookies()[deviceCookie]
	if d == nil || d.Value == "" {
		t.Fatalf("expected a device cookie after a right code with remember=1, got %q", p.header.Values("Set-Cookie"))
	}
	month := int((30 * 24 * time.Hour).Seconds())
	if !d.HttpOnly || d.SameSite != 2 /* Lax */ || d.Path != "/" || d.MaxAge < month-60 || d.MaxAge > month {
		t.Errorf("expected the device cookie HttpOnly, SameSite=Lax, Path=/, Max-Age about %d, got %+v", month, d)
	}
	through(t, a, u, gbMobile)

	// The browser is closed: only the device cookie is left.
	smsBefore, upBefore := s.sns.Attempts(), s.up.count()
	b := browserWith(t, u, deviceCookie, d.Value)
	p = through(t, b, u, gbMobile)
	if sc := p.setCookies()[sessionCookie]; sc == nil || sc.Value == "" || sc.MaxAge <= 0 {
		t.Errorf("expected a fresh session cookie from the device, got %q", p.header.Values("Set-Cookie"))
	}
	if got := s.up.last().Header.Get("Cookie"); strings.Contains(got, "otp_") {
		t.Errorf("expected the gate's cookies removed for the upstream, got %q", got)
	}
	through(t, b, u, gbMobile) // and the new session works on its own
	if s.up.count() != upBefore+2 {
		t.Errorf("expected 2 requests at the upstream, got %d", s.up.count()-upBefore)
	}
	noSMS(t, s.sns, smsBefore, "a remembered device")

	// Without remember=1: a session and no device cookie.
	c := newBrowser(t)
	p = signInAt(t, s, c, u, usMobile, nil)
	if _, ok := p.setCookies()[deviceCookie]; ok || c.cookie(u, deviceCookie) != "" {
		t.Errorf("expected no device cookie without remember=1, got %q", p.header.Values("Set-Cookie"))
	}
	through(t, c, u, usMobile)
}

// TestRememberOff: without `remember` the code step has no checkbox, and remember=1 posted
// anyway sets no device cookie.
func TestRememberOff(t *testing.T) {
	s := startSite(t, loginTemplate, `otp_gate /admin/* login {
		allow +447400123456
	}`)
	u := s.base + "/admin/"
	b := newBrowser(t)
	p := b.get(t, u)
	b.post(t, u, url.Values{"_otp_step": {"send"}, "_otp_csrf": {p.csrf(t)}, "mobile": {gbMobile}})
	code := waitCode(t, s.sns, gbMobile, 0)
	p = b.get(t, u)
	if strings.Contains(p.body, `name="remember"`) || strings.Contains(p.body, "Remember this device") {
		t.Errorf("expected no remember checkbox without `remember`, got %s", p.body)
	}
	p = b.post(t, u, url.Values{"_otp_step": {"verify"}, "_otp_csrf": {p.csrf(t)}, "otp": {code}, "remember": {"1"}})
	if p.status != 303 {
		t.Fatalf("expected 303, got %d %s", p.status, p.body)
	}
	if _, ok := p.setCookies()[deviceCookie]; ok {
		t.Errorf("expected no device cookie without `remember`, got %q", p.header.Values("Set-Cookie"))
	}
}

// rememberAt signs b in at u with remember=1 and returns the device cookie's value.
func rememberAt(t *testing.T, s *site, b *browser, u, mobile string) string {
	t.Helper()
	p := signInAt(t, s, b, u, mobile, url.Values{"remember": {"1"}})
	d := p.setCookies()[deviceCookie]
	if d == nil || d.Value == "" {
		t.Fatalf("expected a device cookie, got %q", p.header.Values("Set-Cookie"))
	}
	return d.Value
}

// challenged checks that b gets the challenge at u, not the upstream nor a session.
func challenged(t *testing.T, s *site, b *browser, u, what string) shown {
	t.Helper()
	upBefore := s.up.count()
	p := b.get(t, u)
	if p.status != 401 || !strings.Contains(p.body, `value="send"`) {
		t.Errorf("%s: expected 401 and the challenge, got %d %s", what, p.status, p.body)
	}
	if _, ok := p.setCookies()[sessionCookie]; ok {
		t.Errorf("%s: expected no session cookie, got %q", what, p.header.Values("Set-Cookie"))
	}
	if s.up.count() != upBefore {
		t.Errorf("%s: expected nothing at the upstream", what)
	}
	return p
}

// TestRememberOtherRealm: a device of template login does not open a gate of template
// other, on the same site with the same secret.
func TestRememberOtherRealm(t *testing.T) {
	s := startSite(t, loginTemplate+`
		template other {
			resend 0s
		}`, rememberGate+`
	otp_gate /ops/* other {
		allow +447400123456
		remember 30d
	}`)
	dev := rememberAt(t, s, newBrowser(t), s.base+"/admin/", gbMobile)
	challenged(t, s, browserWith(t, s.base, deviceCookie, dev), s.base+"/ops/", "a device of another realm")
	through(t, browserWith(t, s.base, deviceCookie, dev), s.base+"/admin/", gbMobile)
}

// TestRememberIdentityBound: in identity-bound mode a device is the user's: bob with
// alice's device cookie gets his own challenge, alice with it gets in.
func TestRememberIdentityBound(t *testing.T) {
	s := startSite(t, loginTemplate, fmt.Sprintf(`basic_auth {
		alice %s
		bob %s
	}
	otp_gate login {
		user {http.auth.user.id}
		mobiles {
			alice +447400123456
			bob +12025550123
		}
		remember 30d
	}`, bcryptHash(t, "alice-pw"), bcryptHash(t, "bob-pw")))
	u := s.base + "/"
	alice := newBrowser(t)
	alice.user, alice.pass = "alice", "alice-pw"
	dev := rememberAt(t, s, alice, u, gbMobile)

	bob := browserWith(t, u, deviceCookie, dev)
	bob.user, bob.pass = "bob", "bob-pw"
	if p := challenged(t, s, bob, u, "alice's device for bob"); !strings.Contains(p.body, usMasked) {
		t.Errorf("expected bob's own masked mobile, got %s", p.body)
	}
	again := browserWith(t, u, deviceCookie, dev)
	again.user, again.pass = "alice", "alice-pw"
	through(t, again, u, gbMobile)
}

// TestRememberForgotten: "Also forget this device" on the sign-out page: the device
// renews nothing from then on, in any browser, and its cookie is cleared.
func TestRememberForgotten(t *testing.T) {
	s := startSite(t, loginTemplate, rememberGate)
	u := s.base + "/admin/"
	a := newBrowser(t)
	dev := rememberAt(t, s, a, u, gbMobile)

	p := a.get(t, s.base+"/admin/.otp/logout")
	if !strings.Contains(p.body, `name="forget"`) {
		t.Fatalf("expected the forget checkbox, got %s", p.body)
	}
	p = a.post(t, s.base+"/admin/.otp/logout", url.Values{"_otp_csrf": {p.csrf(t)}, "forget": {"1"}})
	if p.status != 303 {
		t.Fatalf("expected 303, got %d %s", p.status, p.body)
	}
	if c := p.setCookies()[deviceCookie]; c == nil || c.MaxAge >= 0 {
		t.Errorf("expected the device cookie cleared, got %q", p.header.Values("Set-Cookie"))
	}
	if a.cookie(u, deviceCookie) != "" {
		t.Errorf("expected no device cookie left in the browser")
	}
	// Another copy of the cookie (a second tab's jar, a stolen copy): refused and cleared.
	b := browserWith(t, u, deviceCookie, dev)
	p = challenged(t, s, b, u, "a forgotten device")
	if c := p.setCookies()[deviceCookie]; c == nil || c.MaxAge >= 0 {
		t.Errorf("expected the forgotten device's cookie cleared, got %q", p.header.Values("Set-Cookie"))
	}
}

// TestRememberSignOutKeepsDevice: a plain sign-out ends the session and keeps the device.
func TestRememberSignOutKeepsDevice(t *testing.T) {
	s := startSite(t, loginTemplate, rememberGate)
	u := s.base + "/admin/"
	a := newBrowser(t)
	rememberAt(t, s, a, u, gbMobile)
	p := a.get(t, s.base+"/admin/.otp/logout")
	p = a.post(t, s.base+"/admin/.otp/logout", url.Values{"_otp_csrf": {p.csrf(t)}})
	if _, ok := p.setCookies()[deviceCookie]; ok || a.cookie(u, deviceCookie) == "" {
		t.Errorf("expected the device cookie kept by a plain sign-out, got %q", p.header.Values("Set-Cookie"))
	}
	if a.cookie(u, sessionCookie) != "" {
		t.Errorf("expected the session cookie cleared")
	}
	through(t, a, u, gbMobile)
}

// TestRememberExpired: a device is good until its expiry, by the gate's clock, and not after.
func TestRememberExpired(t *testing.T) {
	s := startSite(t, loginTemplate, rememberGate)
	u := s.base + "/admin/"
	dev := rememberAt(t, s, newBrowser(t), u, gbMobile)

	moveClock(t, 30*24*time.Hour-time.Hour)
	through(t, browserWith(t, u, deviceCookie, dev), u, gbMobile)
	moveClock(t, 30*24*time.Hour+time.Minute)
	challenged(t, s, browserWith(t, u, deviceCookie, dev), u, "an expired device")
}

// TestRememberMobileRemoved: a remembered device of a mobile taken out of `allow` (a
// reload with the same secret and store) renews nothing; put back, it works again.
func TestRememberMobileRemoved(t *testing.T) {
	s := startSite(t, loginTemplate, rememberGate)
	u := s.base + "/admin/"
	dev := rememberAt(t, s, newBrowser(t), u, usMobile)
	live := browserWith(t, u, deviceCookie, dev)
	through(t, live, u, usMobile)

	s.reload(t, loginTemplate, `otp_gate /admin/* login {
		allow +447400123456
		remember 30d
	}`)
	challenged(t, s, browserWith(t, u, deviceCookie, dev), u, "a device of a mobile no longer allowed")
	challenged(t, s, live, u, "a session of a mobile no longer allowed")

	s.reload(t, loginTemplate, rememberGate)
	through(t, browserWith(t, u, deviceCookie, dev), u, usMobile)
}

// TestRememberForged: device cookies that are damaged, sealed with another secret, or
// sealed right but never recorded all get the challenge; the real one gets in.
func TestRememberForged(t *testing.T) {
	s := startSite(t, loginTemplate, rememberGate)
	u := s.base + "/admin/"
	dev := rememberAt(t, s, newBrowser(t), u, gbMobile)

	sealed := func(secret string) string {
		now := time.Now()
		d := session.Device{Issued: now.Unix(), Expires: now.Add(24 * time.Hour).Unix(), Realm: "login", Mobile: gbMobile}
		rand.Read(d.ID[:])
		tok, err := session.NewKeyring([]byte(secret)).SealDevice(d)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	cases := map[string]string{
		"truncated":          dev[:len(dev)-1],
		"half":               dev[:len(dev)/2],
		"not base64":         "!!" + dev[2:],
		"oversized":          dev + strings.Repeat("A", 5000),
		"garbage":            "hello",
		"other secret":       sealed(strings.Repeat("z", 32)),
		"sealed, not record": sealed(gateSecret),
		"session for device": func() string {
			tok, _, _ := mintWith([]byte(gateSecret), "login", "", gbMobile, time.Now().Add(-time.Hour), 90*time.Minute)
			return tok
		}(),
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := 0; i < len(dev)-1; i += 5 { // not the last character: it may carry padding bits
		b := []byte(dev)
		b[i] = alphabet[(strings.IndexByte(alphabet, b[i])+1)%64]
		cases[fmt.Sprintf("changed at %d", i)] = string(b)
	}
	smsBefore := s.sns.Attempts()
	for name, tok := range cases {
		challenged(t, s, browserWith(t, u, deviceCookie, tok), u, name)
	}
	noSMS(t, s.sns, smsBefore, "forged devices")
	through(t, browserWith(t, u, deviceCookie, dev), u, gbMobile)
}

// TestRememberRenewsLapsedSession: in the browser that signed in, a session that went idle
// is renewed by the device, without an SMS; the renewed one lasts its own idle time.
func TestRememberRenewsLapsedSession(t *testing.T) {
	s := startSite(t, loginTemplate, rememberGate)
	u := s.base + "/admin/"
	a := newBrowser(t)
	rememberAt(t, s, a, u, gbMobile)
	old := a.cookie(u, sessionCookie)
	smsBefore := s.sns.Attempts()

	moveClock(t, 31*time.Minute) // past the 30m idle limit
	p := through(t, a, u, gbMobile)
	renewed := p.setCookies()[sessionCookie]
	if renewed == nil || renewed.Value == old {
		t.Fatalf("expected a new session cookie, got %q", p.header.Values("Set-Cookie"))
	}
	moveClock(t, 31*time.Minute+29*time.Minute)
	if p = through(t, a, u, gbMobile); p.setCookies()[sessionCookie] == nil {
		t.Errorf("expected the renewed session's last-seen time refreshed")
	}
	noSMS(t, s.sns, smsBefore, "a lapsed session renewed by its device")
}

// TestRememberDeviceOnHTTPS: on HTTPS the device cookie is __Host-otp_device, and it is
// read under that name only.
func TestRememberDeviceOnHTTPS(t *testing.T) {
	_, app := newBenchGate(t)
	g := stepGate(t, app, &Gate{AllowAny: true, Remember: caddy.Duration(24 * time.Hour)})
	tok, _, err := app.RememberDevice(context.Background(), g.tmpl.Name(), "", gbMobile, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		cookie string
		https  bool
		want   int
	}{
		{"https, __Host- name", "__Host-" + deviceCookie + "=" + tok, true, http.StatusNoContent},
		{"https, plain name", deviceCookie + "=" + tok, true, http.StatusUnauthorized},
		{"http, plain name", deviceCookie + "=" + tok, false, http.StatusNoContent},
	} {
		r := pageRequest("GET", "/", tt.cookie, nil)
		if tt.https {
			r.TLS = &tls.ConnectionState{}
		}
		w := httptest.NewRecorder()
		if err := g.ServeHTTP(w, r, okHandler); err != nil {
			t.Fatal(err)
		}
		if w.Code != tt.want {
			t.Errorf("%s: expected %d, got %d", tt.name, tt.want, w.Code)
		}
		if tt.want == http.StatusNoContent {
			name := sessionCookie
			if tt.https {
				name = "__Host-" + sessionCookie
			}
			if c := (shown{header: w.Header()}).setCookies()[name]; c == nil || c.Secure != tt.https {
				t.Errorf("%s: expected a session cookie %s (Secure %v), got %q", tt.name, name, tt.https, w.Header().Values("Set-Cookie"))
			}
		}
	}
}

// TestRememberFirstFactorMobile: with `mobile`, a device is good only while the first
// factor gives the device's mobile.
func TestRememberFirstFactorMobile(t *testing.T) {
	s := startSite(t, loginTemplate, `otp_gate /admin/* login {
		mobile {http.request.header.X-Auth-Phone}
		allow any
		remember 30d
	}`)
	u := s.base + "/admin/"
	dev := rememberAt(t, s, headerBrowser(t, usMobile), u, usMobile)

	other := browserWith(t, u, deviceCookie, dev)
	other.header = map[string]string{"X-Auth-Phone": gbMobile}
	if p := challenged(t, s, other, u, "a device of another mobile"); !strings.Contains(p.body, gbMasked) {
		t.Errorf("expected the page for the first factor's mobile, got %s", p.body)
	}
	none := browserWith(t, u, deviceCookie, dev)
	if p := none.get(t, u); p.status != 401 || strings.Contains(p.body, "<form") {
		t.Errorf("a device without a first factor's mobile: expected 401 and no form, got %d %s", p.status, p.body)
	}
	same := browserWith(t, u, deviceCookie, dev)
	same.header = map[string]string{"X-Auth-Phone": usMobile}
	through(t, same, u, usMobile)
}
