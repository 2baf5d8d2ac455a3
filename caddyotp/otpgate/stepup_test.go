package otpgate

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// stepUpGates is Caddyfile.example's layout: a stricter gate on a sub-path before the
// gate of the whole area, with the same template. Caddy runs both on /admin/danger/…
// (the longer path first).
const stepUpGates = `otp_gate /admin/danger/* login {
		allow +447400123456 +12025550123
		remember 30d
		max_age 5m
	}
	otp_gate /admin/* login {
		allow +447400123456 +12025550123
		remember 30d
	}`

// stepUpPage checks that p is the step-up page for masked: 401, a send button, no mobile
// input.
func stepUpPage(t *testing.T, p shown, masked, what string) {
	t.Helper()
	if p.status != 401 || !strings.Contains(p.body, "Confirm it's still you") || !strings.Contains(p.body, masked) ||
		!strings.Contains(p.body, `value="send"`) || strings.Contains(p.body, `name="mobile"`) {
		t.Fatalf("%s: expected 401 and the step-up page for %s, got %d %s", what, masked, p.status, p.body)
	}
}

// TestStepUp: after 6 minutes the max_age 5m route asks for a fresh code for the same
// mobile, the other route does not; a right code lets the browser through again.
func TestStepUp(t *testing.T) {
	s := startSite(t, loginTemplate, stepUpGates)
	danger, area := s.base+"/admin/danger/x", s.base+"/admin/x"
	b := newBrowser(t)
	signInAt(t, s, b, area, gbMobile, nil)
	through(t, b, danger, gbMobile)
	if got := s.up.last().Header.Get("Cookie"); strings.Contains(got, "otp_") {
		t.Errorf("expected the gate's cookies removed for the upstream behind two gates, got %q", got)
	}
	through(t, b, area, gbMobile)

	moveClock(t, 6*time.Minute)
	p := b.get(t, danger)
	stepUpPage(t, p, gbMasked, "a 6-minute-old verification")
	through(t, b, area, gbMobile)
	for _, accept := range []string{"application/json", "*/*"} {
		q := b.do(t, "GET", danger, nil, map[string]string{"Accept": accept})
		if q.status != 401 || !strings.Contains(q.body, `"code":"otp_required"`) {
			t.Errorf("Accept %s: expected 401 otp_required, got %d %s", accept, q.status, q.body)
		}
	}
	q := b.do(t, "POST", danger, url.Values{"a": {"b"}}, nil)
	if q.status != 401 || !strings.Contains(q.body, `"code":"otp_required"`) {
		t.Errorf("a form post to the upstream: expected 401 otp_required, got %d %s", q.status, q.body)
	}

	// The send goes to the session's mobile, whatever mobile is posted with it.
	before := s.sns.Count()
	p = b.post(t, danger, url.Values{"_otp_step": {"send"}, "_otp_csrf": {p.csrf(t)}, "mobile": {usMobile}})
	if p.status != 303 {
		t.Fatalf("expected 303 after send, got %d %s", p.status, p.body)
	}
	code := waitCode(t, s.sns, gbMobile, before)
	p = b.get(t, danger)
	if p.status != 401 || !strings.Contains(p.body, `autocomplete="one-time-code"`) || strings.Contains(p.body, "Use a different number") {
		t.Fatalf("expected the code step without 'use a different number', got %d %s", p.status, p.body)
	}
	p = b.post(t, danger, url.Values{"_otp_step": {"verify"}, "_otp_csrf": {p.csrf(t)}, "otp": {code}})
	if p.status != 303 || p.header.Get("Location") != "/admin/danger/x" {
		t.Fatalf("expected 303 to /admin/danger/x, got %d %v", p.status, p.header)
	}
	through(t, b, danger, gbMobile)
	through(t, b, area, gbMobile)
}

// TestStepUpRememberedDevice: a session a remembered device renewed never satisfies
// max_age, not even right after the renewal; it does the route without max_age.
func TestStepUpRememberedDevice(t *testing.T) {
	s := startSite(t, loginTemplate, stepUpGates)
	danger, area := s.base+"/admin/danger/x", s.base+"/admin/x"
	dev := rememberAt(t, s, newBrowser(t), area, usMobile)

	b := browserWith(t, area, deviceCookie, dev)
	p := b.get(t, danger)
	stepUpPage(t, p, usMasked, "a session renewed by a device, at once")
	if c := p.setCookies()[sessionCookie]; c == nil || c.Value == "" {
		t.Errorf("expected the renewed session's cookie, got %q", p.header.Values("Set-Cookie"))
	}
	stepUpPage(t, b.get(t, danger), usMasked, "a session renewed by a device, again")
	through(t, b, area, usMobile)

	signInAt(t, s, b, danger, usMobile, nil)
	through(t, b, danger, usMobile)

	// The same with a route that is reached only through the max_age gate.
	c := browserWith(t, area, deviceCookie, dev)
	moveClock(t, time.Hour)
	stepUpPage(t, c.get(t, danger), usMasked, "a device an hour later")
}

// TestStepUpAlone: max_age on a gate that is the only one on its route.
func TestStepUpAlone(t *testing.T) {
	s := startSite(t, loginTemplate, `handle /danger/* {
		otp_gate login {
			allow +447400123456
			max_age 5m
		}
	}`)
	u := s.base + "/danger/"
	b := newBrowser(t)
	signInAt(t, s, b, u, gbMobile, nil)
	through(t, b, u, gbMobile)
	moveClock(t, 4*time.Minute)
	through(t, b, u, gbMobile)
	moveClock(t, 6*time.Minute)
	stepUpPage(t, b.get(t, u), gbMasked, "alone, after 6 minutes")
	signInAt(t, s, b, u, gbMobile, nil)
	through(t, b, u, gbMobile)
}
