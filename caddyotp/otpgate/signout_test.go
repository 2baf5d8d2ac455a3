package otpgate

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestSignOutEverywhere: browsers A and B signed in with the same mobile, each with a
// remembered device; "Sign out everywhere" from A ends B's session and forgets both devices.
func TestSignOutEverywhere(t *testing.T) {
	s := startSite(t, loginTemplate, rememberGate)
	u := s.base + "/admin/"
	logout := s.base + "/admin/.otp/logout"
	a, b, other := newBrowser(t), newBrowser(t), newBrowser(t)
	devA := rememberAt(t, s, a, u, gbMobile)
	devB := rememberAt(t, s, b, u, gbMobile)
	rememberAt(t, s, other, u, usMobile)
	through(t, b, u, gbMobile)

	p := a.get(t, logout)
	if p.status != 200 || !strings.Contains(p.body, `name="everywhere" value="1"`) || !strings.Contains(p.body, "Sign out everywhere") {
		t.Fatalf("expected the sign-out everywhere form, got %d %s", p.status, p.body)
	}
	p = a.post(t, logout, p.form(t, `name="everywhere"`).hidden)
	if p.status != 303 || p.header.Get("Location") != "/admin/" {
		t.Fatalf("expected 303 to /admin/, got %d %v", p.status, p.header)
	}
	if c := p.setCookies()[deviceCookie]; c == nil || c.MaxAge >= 0 {
		t.Errorf("expected A's device cookie cleared, got %q", p.header.Values("Set-Cookie"))
	}

	smsBefore := s.sns.Attempts()
	challenged(t, s, b, u, "B's session after sign out everywhere")
	challenged(t, s, browserWith(t, u, deviceCookie, devB), u, "B's device after sign out everywhere")
	challenged(t, s, browserWith(t, u, deviceCookie, devA), u, "A's device after sign out everywhere")
	challenged(t, s, a, u, "A after sign out everywhere")
	noSMS(t, s.sns, smsBefore, "signed out everywhere")
	// Another mobile's session is not touched.
	through(t, other, u, usMobile)

	// Signing in again afterwards works (a second later: the sign-out covers the sessions
	// issued up to its second).
	moveClock(t, time.Second)
	c := newBrowser(t)
	signInAt(t, s, c, u, gbMobile, nil)
	through(t, c, u, gbMobile)
}

// TestSignOutPage: the sign-out page offers "Also forget this device" only to a browser
// with a device cookie, and "Sign out everywhere" only on a gate with `remember`, to a
// browser with a session.
func TestSignOutPage(t *testing.T) {
	s := startSite(t, loginTemplate, rememberGate+`
	otp_gate /plain/* login {
		allow +447400123456
	}`)
	a, b := newBrowser(t), newBrowser(t)
	dev := rememberAt(t, s, a, s.base+"/admin/", gbMobile)
	signInAt(t, s, b, s.base+"/admin/", gbMobile, nil)
	for _, tt := range []struct {
		name               string
		b                  *browser
		path               string
		forget, everywhere bool
	}{
		{"session and device", a, "/admin/", true, true},
		{"session, no device", b, "/admin/", false, true},
		{"device, no session", browserWith(t, s.base, deviceCookie, dev), "/admin/", true, false},
		{"neither", newBrowser(t), "/admin/", false, false},
		{"gate without remember, session and device", a, "/plain/", false, false},
	} {
		p := tt.b.get(t, s.base+tt.path+".otp/logout")
		if p.status != 200 || !strings.Contains(p.body, "Sign out") {
			t.Fatalf("%s: expected the sign-out page, got %d %s", tt.name, p.status, p.body)
		}
		if got := strings.Contains(p.body, `name="forget"`); got != tt.forget {
			t.Errorf("%s: expected the forget checkbox %v, got %v", tt.name, tt.forget, got)
		}
		if got := strings.Contains(p.body, `name="everywhere"`); got != tt.everywhere {
			t.Errorf("%s: expected the sign out everywhere form %v, got %v", tt.name, tt.everywhere, got)
		}
	}

	// The device-only browser can forget its device from that page.
	d := browserWith(t, s.base, deviceCookie, dev)
	p := d.get(t, s.base+"/admin/.otp/logout")
	p = d.post(t, s.base+"/admin/.otp/logout", url.Values{"_otp_csrf": {p.csrf(t)}, "forget": {"1"}})
	if p.status != 303 {
		t.Fatalf("expected 303, got %d %s", p.status, p.body)
	}
	challenged(t, s, browserWith(t, s.base, deviceCookie, dev), s.base+"/admin/", "a device forgotten without a session")
}

// TestSignOutEverywhereWithoutSession: a browser with only a device cookie that posts
// everywhere=1 (its page offers only "forget") has its cookie cleared and its device
// forgotten, so no copy of the cookie renews a session.
func TestSignOutEverywhereWithoutSession(t *testing.T) {
	s := startSite(t, loginTemplate, rememberGate)
	u := s.base + "/admin/"
	dev := rememberAt(t, s, newBrowser(t), u, gbMobile)
	d := browserWith(t, u, deviceCookie, dev)
	p := d.get(t, s.base+"/admin/.otp/logout")
	p = d.post(t, s.base+"/admin/.otp/logout", url.Values{"_otp_csrf": {p.csrf(t)}, "everywhere": {"1"}})
	if c := p.setCookies()[deviceCookie]; p.status != 303 || c == nil || c.MaxAge >= 0 {
		t.Fatalf("expected 303 with the device cookie cleared, got %d %q", p.status, p.header.Values("Set-Cookie"))
	}
	challenged(t, s, browserWith(t, u, deviceCookie, dev), u, "a copy of a device whose cookie was cleared")
}
