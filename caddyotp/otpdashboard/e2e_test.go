package otpdashboard

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/caddyotp/caddyotp/internal/snsdouble"
	"github.com/caddyotp/caddyotp/internal/testcaddy"
	"github.com/caddyotp/caddyotp/internal/testnet"
)

const e2eMobile = "+447400123456"

// e2eSite is a whole Caddy: the dashboard behind basic_auth at /otp-dashboard/, the same
// without anything in front at /open-dashboard/, a gate of realm login on /admin/*, one
// more on /ops/* with the dashboard behind it, and one of realm staff on /staff/* with the
// dashboard behind it.
type e2eSite struct {
	base string
	sns  *snsdouble.Double
}

func startSite(t *testing.T) *e2eSite {
	t.Helper()
	snsdouble.OfflineAWS(t)
	s := &e2eSite{sns: snsdouble.New(t)}
	port := testnet.FreePort(t)
	s.base = testnet.Site(port)
	hash, err := bcrypt.GenerateFromPassword([]byte("ops-password"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	testcaddy.Start(t, fmt.Sprintf(`{
	admin off
	otp {
		secret dashboard-secret-0123456789abcdef0123
		sender sns {
			region eu-west-2
			endpoint %s
		}
		template login {
			resend 0s
		}
		template staff {
		}
	}
}

%s {
	basic_auth /otp-dashboard/* {
		ops %s
	}
	otp_dashboard /otp-dashboard/* {
		templates login
	}
	otp_dashboard /open-dashboard/* {
		templates login
	}
	otp_gate /admin/* login {
		allow %s
	}
	otp_gate /ops/* login {
		allow %s
	}
	otp_dashboard /ops/* {
		templates login
	}
	otp_gate /staff/* staff {
		allow %s
	}
	otp_dashboard /staff/*
	respond "upstream"
}
`, s.sns.URL(), s.base, hash, e2eMobile, e2eMobile, e2eMobile))
	testcaddy.WaitHTTP(t, s.base+"/")
	return s
}

type e2eAnswer struct {
	status int
	header http.Header
	body   string
}

func e2eDo(t *testing.T, c *http.Client, method, u string, form url.Values, headers map[string]string) e2eAnswer {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/html")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return e2eAnswer{resp.StatusCode, resp.Header, html.UnescapeString(string(raw))}
}

var e2eCSRF = regexp.MustCompile(`name="_otp_csrf" value="([0-9a-f]+)"`)

// signIn runs the gate at u for e2eMobile and returns the client that holds the session.
func (s *e2eSite) signIn(t *testing.T, u string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	csrf := func(a e2eAnswer) string {
		m := e2eCSRF.FindStringSubmatch(a.body)
		if m == nil {
			t.Fatalf("expected a gate page, got %d %s", a.status, a.body)
		}
		return m[1]
	}
	before := s.sns.Count()
	a := e2eDo(t, c, "GET", u, nil, nil)
	a = e2eDo(t, c, "POST", u, url.Values{"_otp_step": {"send"}, "_otp_csrf": {csrf(a)}, "mobile": {e2eMobile}}, nil)
	if a.status != http.StatusSeeOther {
		t.Fatalf("expected 303 after send, got %d %s", a.status, a.body)
	}
	pubs, err := s.sns.WaitFor(before+1, 5*time.Second)
	if err != nil {
		t.Fatalf("expected the gate's SMS: %v", err)
	}
	code := regexp.MustCompile(`\d{6}`).FindString(pubs[len(pubs)-1].Message)
	a = e2eDo(t, c, "GET", u, nil, nil)
	a = e2eDo(t, c, "POST", u, url.Values{"_otp_step": {"verify"}, "_otp_csrf": {csrf(a)}, "otp": {code}}, nil)
	if a.status != http.StatusSeeOther {
		t.Fatalf("expected 303 after the right code, got %d %s", a.status, a.body)
	}
	return c
}

// TestDashboardInCaddy: behind basic_auth the dashboard needs the password (401 from
// basic_auth) and shows the page with it; without anything in front it is 403 whatever
// the client sends, a forged Authorization header and a valid gate session of the same
// realm (from /admin/) included; behind the gate the same session gets the page, which
// counts the gate's own SMS; behind a gate of another realm the session gets that gate's
// challenge, not the page.
func TestDashboardInCaddy(t *testing.T) {
	s := startSite(t)
	plain := &http.Client{Timeout: 10 * time.Second}

	if a := e2eDo(t, plain, "GET", s.base+"/otp-dashboard/", nil, nil); a.status != http.StatusUnauthorized {
		t.Errorf("expected basic_auth's 401 without credentials, got %d", a.status)
	}
	if a := e2eDo(t, plain, "GET", s.base+"/otp-dashboard/", nil, map[string]string{"Authorization": "Basic b3BzOndyb25n"}); a.status != http.StatusUnauthorized {
		t.Errorf("expected basic_auth's 401 with a wrong password, got %d", a.status)
	}
	withPassword := map[string]string{"Authorization": "Basic b3BzOm9wcy1wYXNzd29yZA=="} // ops:ops-password
	a := e2eDo(t, plain, "GET", s.base+"/otp-dashboard/", nil, withPassword)
	if a.status != http.StatusOK || !strings.Contains(a.body, "Template login") {
		t.Fatalf("expected the page with the password, got %d %.500s", a.status, a.body)
	}

	for name, h := range map[string]map[string]string{
		"nothing":              nil,
		"forged Authorization": withPassword,
		"identity header":      {"X-OTP-Mobile": e2eMobile},
	} {
		if a := e2eDo(t, plain, "GET", s.base+"/open-dashboard/?format=csv", nil, h); a.status != http.StatusForbidden {
			t.Errorf("%s: expected 403 at the open dashboard, got %d", name, a.status)
		}
	}

	gated := s.signIn(t, s.base+"/admin/")
	if a := e2eDo(t, gated, "GET", s.base+"/admin/", nil, nil); a.status != http.StatusOK || a.body != "upstream" {
		t.Fatalf("expected the session to pass the gate, got %d %s", a.status, a.body)
	}
	if a := e2eDo(t, gated, "GET", s.base+"/open-dashboard/", nil, nil); a.status != http.StatusForbidden {
		t.Errorf("expected 403 at the open dashboard with a gate session but no gate in front, got %d", a.status)
	}
	if a := e2eDo(t, gated, "GET", s.base+"/staff/", nil, nil); a.status != http.StatusUnauthorized || strings.Contains(a.body, "SMS dashboard") {
		t.Errorf("expected the staff gate's challenge for a session of realm login, got %d %.300s", a.status, a.body)
	}
	// The gate sends in the background: the ledger has the SMS a moment after the double.
	deadline := time.Now().Add(5 * time.Second)
	for {
		a = e2eDo(t, gated, "GET", s.base+"/ops/", nil, nil)
		if a.status != http.StatusOK {
			t.Fatalf("expected the page behind the gate, got %d %.500s", a.status, a.body)
		}
		if strings.Contains(a.body, "1 sent") || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, want := range []string{"1 sent", "1 verified", "+44•••••••456"} {
		if !strings.Contains(a.body, want) {
			t.Errorf("expected %q on the page (the gate's SMS), got %.3000s", want, a.body)
		}
	}
	if strings.Contains(a.body, "7400123456") {
		t.Errorf("expected no full mobile on the page")
	}
}
