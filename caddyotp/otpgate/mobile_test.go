package otpgate

import (
	"net/url"
	"strings"
	"testing"
)

// mobileGates take the mobile from a header a first factor would set: /any/ lets in
// whatever valid mobile it gives, /list/ only the ones in allow.
const mobileGates = `otp_gate /any/* login {
		mobile {http.request.header.X-Auth-Phone}
		allow any
	}
	otp_gate /list/* login {
		mobile {http.request.header.X-Auth-Phone}
		allow +447400123456
	}`

func headerBrowser(t *testing.T, mobile string) *browser {
	b := newBrowser(t)
	b.header = map[string]string{"X-Auth-Phone": mobile}
	return b
}

// TestMobilePlaceholder: the page shows the first factor's mobile masked with a send
// button and no input; the code goes to that mobile; the session is good only while the
// first factor gives the same mobile.
func TestMobilePlaceholder(t *testing.T) {
	s := startSite(t, loginTemplate, mobileGates)
	u := s.base + "/any/"
	b := headerBrowser(t, usMobile)
	p := b.get(t, u)
	if p.status != 401 || !strings.Contains(p.body, usMasked) || !strings.Contains(p.body, `value="send"`) ||
		strings.Contains(p.body, `name="mobile"`) || !strings.Contains(p.body, "Confirm it's you") {
		t.Fatalf("expected the masked mobile with a send button and no input, got %d %s", p.status, p.body)
	}
	// A mobile typed into the post changes nothing: the code goes to the header's.
	before := s.sns.Count()
	b.post(t, u, url.Values{"_otp_step": {"send"}, "_otp_csrf": {p.csrf(t)}, "mobile": {gbMobile}})
	code := waitCode(t, s.sns, usMobile, before)
	p = b.get(t, u)
	if strings.Contains(p.body, "Use a different number") {
		t.Errorf("expected no 'use a different number' for a first factor's mobile, got %s", p.body)
	}
	b.post(t, u, url.Values{"_otp_step": {"verify"}, "_otp_csrf": {p.csrf(t)}, "otp": {code}})
	through(t, b, u, usMobile)

	// The first factor now gives another mobile: the session is not good for it.
	b.header["X-Auth-Phone"] = gbMobile
	if p = challenged(t, s, b, u, "the header changed"); !strings.Contains(p.body, gbMasked) {
		t.Errorf("expected the new mobile's page, got %s", p.body)
	}
	b.header["X-Auth-Phone"] = usMobile
	through(t, b, u, usMobile)
	// Space around the number is not part of it.
	b.header["X-Auth-Phone"] = " " + usMobile + " "
	through(t, b, u, usMobile)
	// /list/ lets in only +447400123456: the same session is refused there.
	b.header["X-Auth-Phone"] = usMobile
	challenged(t, s, b, s.base+"/list/", "a mobile outside /list/'s allow")
}

// TestMobilePlaceholderMissing: no header, or one that is not a mobile in E.164, gets the page
// with no send form, and no SMS even when a send is posted.
func TestMobilePlaceholderMissing(t *testing.T) {
	s := startSite(t, loginTemplate, mobileGates)
	u := s.base + "/any/"
	before := s.sns.Attempts()
	for _, header := range []string{"", "   ", "not a number", "12345", "+4474001234567890", "+1 202-555-0123", "+447400123456,+12025550123"} {
		b := headerBrowser(t, header)
		if header == "" {
			b.header = nil
		}
		p := b.get(t, u)
		if p.status != 401 || strings.Contains(p.body, "<form") || !strings.Contains(p.body, "did not give a mobile number") {
			t.Fatalf("header %q: expected 401 and the page without a form, got %d %s", header, p.status, p.body)
		}
		// A send posted anyway, with a token from a page that had a mobile.
		withMobile := headerBrowser(t, gbMobile)
		csrf := withMobile.get(t, u).csrf(t)
		withMobile.header["X-Auth-Phone"] = header
		p = withMobile.post(t, u, url.Values{"_otp_step": {"send"}, "_otp_csrf": {csrf}, "mobile": {gbMobile}})
		if p.status != 401 || strings.Contains(p.body, "<form") {
			t.Errorf("header %q: expected 401 and no form after a send, got %d %s", header, p.status, p.body)
		}
		// Nor can the code step be reached.
		if p = withMobile.get(t, u); strings.Contains(p.body, "one-time-code") {
			t.Errorf("header %q: expected no code step, got %s", header, p.body)
		}
	}
	noSMS(t, s.sns, before, "no mobile from the first factor")
}

// TestMobilePlaceholderAllowList: with a list, a mobile outside it gets the same page and
// statuses, and no SMS; one in it gets the code.
func TestMobilePlaceholderAllowList(t *testing.T) {
	s := startSite(t, loginTemplate, mobileGates)
	u := s.base + "/list/"
	out := headerBrowser(t, usMobile)
	p := out.get(t, u)
	if p.status != 401 || !strings.Contains(p.body, usMasked) || !strings.Contains(p.body, `value="send"`) {
		t.Fatalf("expected the same page for a mobile outside the list, got %d %s", p.status, p.body)
	}
	before := s.sns.Attempts()
	if p = out.post(t, u, url.Values{"_otp_step": {"send"}, "_otp_csrf": {p.csrf(t)}}); p.status != 303 {
		t.Fatalf("expected 303 as for any send, got %d %s", p.status, p.body)
	}
	noSMS(t, s.sns, before, "a mobile outside allow")
	p = out.get(t, u)
	p = out.post(t, u, url.Values{"_otp_step": {"verify"}, "_otp_csrf": {p.csrf(t)}, "otp": {"123456"}})
	if p.status != 401 {
		t.Errorf("expected 401 for a code to a mobile outside the list, got %d", p.status)
	}

	in := headerBrowser(t, gbMobile)
	signInAt(t, s, in, u, gbMobile, nil)
	through(t, in, u, gbMobile)
	through(t, in, s.base+"/any/", gbMobile)
}
