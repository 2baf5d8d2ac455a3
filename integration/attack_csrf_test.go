package integration

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestAttackCSRF posts the gate's forms with missing, foreign, expired and swapped anti-CSRF
// tokens, and from another site: the gate refuses each with 403, sends nothing, starts or
// ends no session, and sets no cookie.
func TestAttackCSRF(t *testing.T) {
	s := startAttackSite(t)
	admin := s.spec + "/admin/"
	forge := newForger(sharedSecret)
	now := time.Now().Unix()

	// Two sessions, two visitors at the mobile step and one at the code step (signed in
	// last: a new code replaces the one before).
	sessionJar1, sessionJar2 := newJarClient(t), newJarClient(t)
	session1 := gateSignIn(t, sessionJar1, s.sns, admin, gateMobile)
	session2 := gateSignIn(t, sessionJar2, s.sns, admin, gateMobile)
	pageOf := func(c *http.Client) answer { return requestWith(t, c, "GET", admin, nil, nil, "", htmlAccept) }
	visitorA, visitorB := newJarClient(t), newJarClient(t)
	pageA, pageB := pageOf(visitorA), pageOf(visitorB)
	atCode := newJarClient(t)
	p := pageOf(atCode)
	before := s.sns.Count()
	if p = requestWith(t, atCode, "POST", admin, url.Values{"_otp_step": {"send"}, "_otp_csrf": {p.csrf(t)}, "mobile": {gateMobile}}, nil, "", nil); p.status != http.StatusSeeOther {
		t.Fatalf("expected 303 after send, got %d %s", p.status, p.body)
	}
	code := waitSMS(t, s.sns, before+1, gateMobile)
	codePage := pageOf(atCode)
	logout1 := requestWith(t, sessionJar1, "GET", admin+".otp/logout", nil, nil, "", htmlAccept).csrf(t)
	if want := logoutTokenOf(forge.sessionID(session1)); logout1 != want {
		t.Fatalf("expected the sign-out token %s, got %s", want, logout1)
	}
	expired, expiredCSRF := forge.challenge(now-16*60, 0, "login", "")
	fresh, freshCSRF := forge.challenge(now, 0, "login", "")
	attempts := s.sns.Attempts()
	send := func(csrf string) url.Values {
		return url.Values{"_otp_step": {"send"}, "_otp_csrf": {csrf}, "mobile": {gateMobile}}
	}
	crossSite := map[string]string{"Origin": "https://evil.example"}
	fetchCrossSite := map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}

	// Each post carries a visitor's cookies as they are in its jar, and what the gate sets in
	// answer (a fresh challenge after a refusal) is not kept: every case meets the same state.
	jarCookies := func(c *http.Client) string {
		u, _ := url.Parse(admin)
		var out []string
		for _, ck := range c.Jar.Cookies(u) {
			out = append(out, ck.Name+"="+ck.Value)
		}
		return strings.Join(out, "; ")
	}
	cookiesA, cookiesAtCode := jarCookies(visitorA), jarCookies(atCode)
	for _, tc := range []struct {
		name    string
		form    url.Values
		cookies string
		headers map[string]string
	}{
		{name: "send without a token", cookies: cookiesA, form: url.Values{"_otp_step": {"send"}, "mobile": {gateMobile}}},
		{name: "send with an empty token", cookies: cookiesA, form: send("")},
		{name: "send with another visitor's token", cookies: cookiesA, form: send(pageB.csrf(t))},
		{name: "send with a token and no challenge cookie", form: send(pageA.csrf(t))},
		{name: "send with an expired challenge", form: send(expiredCSRF), cookies: "otp_challenge=" + expired},
		{name: "send with the challenge cookie of another realm", form: send(freshCSRF),
			cookies: "otp_challenge=" + func() string { c, _ := forge.challenge(now, 0, "ops", ""); return c }()},
		{name: "send with a session's sign-out token", cookies: cookiesA, form: send(logout1)},
		{name: "send with the token upper-cased", cookies: cookiesA, form: send(strings.ToUpper(pageA.csrf(t)))},
		{name: "send with the token twice, a foreign one first", cookies: cookiesA,
			form: url.Values{"_otp_step": {"send"}, "_otp_csrf": {pageB.csrf(t), pageA.csrf(t)}, "mobile": {gateMobile}}},
		{name: "verify with another visitor's token", cookies: cookiesAtCode, form: url.Values{"_otp_step": {"verify"}, "_otp_csrf": {pageA.csrf(t)}, "otp": {code}}},
		{name: "verify with a sign-out token", cookies: cookiesAtCode, form: url.Values{"_otp_step": {"verify"}, "_otp_csrf": {logout1}, "otp": {code}}},
		{name: "resend with another visitor's token", cookies: cookiesAtCode, form: url.Values{"_otp_step": {"resend"}, "_otp_csrf": {pageB.csrf(t)}}},
		{name: "a cross-site send with a valid token", cookies: cookiesA, form: send(pageA.csrf(t)), headers: crossSite},
		{name: "a cross-site send per Sec-Fetch-Site", cookies: cookiesA, form: send(pageA.csrf(t)), headers: fetchCrossSite},
		{name: "a cross-site verify with a valid token", cookies: cookiesAtCode, form: url.Values{"_otp_step": {"verify"}, "_otp_csrf": {codePage.csrf(t)}, "otp": {code}}, headers: crossSite},
	} {
		a := request(t, "POST", admin, tc.form, nil, tc.cookies, tc.headers)
		if a.status != http.StatusForbidden || a.cookie("otp_session") != "" {
			t.Errorf("%s: expected 403 and no session, got %d %q %s", tc.name, a.status, a.header.Values("Set-Cookie"), a.body)
		}
		if tc.headers != nil && len(a.header.Values("Set-Cookie")) != 0 {
			t.Errorf("%s: expected no cookie set for a cross-site post, got %q", tc.name, a.header.Values("Set-Cookie"))
		}
	}
	// The refusals above used nothing up: the code still verifies, with its own token.
	if p := requestWith(t, atCode, "POST", admin, url.Values{"_otp_step": {"verify"}, "_otp_csrf": {pageOf(atCode).csrf(t)}, "otp": {code}}, nil, "", nil); p.status != http.StatusSeeOther || p.cookie("otp_session") == "" {
		t.Errorf("expected the right code with its own token to sign in after the refusals, got %d %s", p.status, p.body)
	}
	// The forger's fresh challenge is accepted, so the expired one was refused for its age.
	if a := request(t, "POST", admin, send(freshCSRF), nil, "otp_challenge="+fresh, nil); a.status != http.StatusSeeOther {
		t.Errorf("expected a fresh forged challenge to be accepted (the forger works), got %d %s", a.status, a.body)
	}

	// Sign-out: tokens of the wrong kind or session, and cross-site posts.
	logout := admin + ".otp/logout"
	for _, tc := range []struct {
		name    string
		form    url.Values
		cookies string
		headers map[string]string
	}{
		{name: "no token", form: url.Values{}, cookies: "otp_session=" + session1},
		{name: "a challenge's token", form: url.Values{"_otp_csrf": {pageA.csrf(t)}}, cookies: "otp_session=" + session1},
		{name: "another session's token", form: url.Values{"_otp_csrf": {logout1}}, cookies: "otp_session=" + session2},
		{name: "the session id as the token", form: url.Values{"_otp_csrf": {forge.sessionID(session1)}}, cookies: "otp_session=" + session1},
		{name: "cross-site with the token", form: url.Values{"_otp_csrf": {logout1}}, cookies: "otp_session=" + session1, headers: crossSite},
		{name: "cross-site without cookies", form: url.Values{}, headers: crossSite},
		{name: "cross-site per Sec-Fetch-Site", form: url.Values{}, headers: fetchCrossSite},
	} {
		a := request(t, "POST", logout, tc.form, nil, tc.cookies, tc.headers)
		if a.status != http.StatusForbidden || len(a.header.Values("Set-Cookie")) != 0 {
			t.Errorf("sign-out, %s: expected 403 and no cookie touched, got %d %q", tc.name, a.status, a.header.Values("Set-Cookie"))
		}
	}
	for _, sess := range []string{session1, session2} {
		if a := get(t, s.specAddr, "/admin/x", s.specAddr, "Cookie: otp_session="+sess); a.status != http.StatusOK {
			t.Errorf("expected the sessions to survive the refused sign-outs, got %s", a)
		}
	}
	// A same-origin post still works, as browsers send it.
	if a := requestWith(t, sessionJar1, "POST", logout, url.Values{"_otp_csrf": {logout1}}, nil, "",
		map[string]string{"Origin": s.spec, "Sec-Fetch-Site": "same-origin"}); a.status != http.StatusSeeOther {
		t.Errorf("expected a same-origin sign-out to work, got %d %s", a.status, a.body)
	}

	time.Sleep(300 * time.Millisecond) // the gate sends in the background
	if got := s.sns.Attempts(); got != attempts+1 {
		t.Errorf("expected only the forger's fresh challenge to send an SMS, got %d Publish calls", got-attempts)
	}
}
