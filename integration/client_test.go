package integration

import (
	"encoding/json"
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

	"github.com/caddyotp/caddyotp/internal/snsdouble"
)

// noRedirects is a client that shows every answer as it is, so each step's status can be
// checked. It keeps no cookies: tests send the ones they mean to.
var noRedirects = &http.Client{
	Timeout: 10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// answer is one HTTP answer, body read.
type answer struct {
	status int
	header http.Header
	body   string
}

// cookie returns the value of the named cookie the answer sets, or "".
func (a answer) cookie(name string) string {
	for _, c := range (&http.Response{Header: a.header}).Cookies() {
		if c.Name == name && c.MaxAge >= 0 {
			return c.Value
		}
	}
	return ""
}

var csrfPattern = regexp.MustCompile(`name="_otp_csrf" value="([0-9a-f]+)"`)

// csrf is the anti-CSRF token of a gate page.
func (a answer) csrf(t testing.TB) string {
	t.Helper()
	m := csrfPattern.FindStringSubmatch(a.body)
	if m == nil {
		t.Fatalf("expected an anti-CSRF token in the page, got %d %s", a.status, a.body)
	}
	return m[1]
}

// newJarClient is a client with a cookie jar, like a browser's, that does not follow
// redirects. The jar keys cookies by host, not port, as browsers do: instances on
// 127.0.0.1 share them as instances behind one load balancer would.
func newJarClient(t testing.TB) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: noRedirects.Timeout, CheckRedirect: noRedirects.CheckRedirect}
}

// request sends one request with noRedirects. form, when not nil, is posted as a form;
// jsonBody as JSON. cookies is sent as the Cookie header; headers are set as given.
func request(t testing.TB, method, u string, form url.Values, jsonBody any, cookies string, headers map[string]string) answer {
	t.Helper()
	return requestWith(t, noRedirects, method, u, form, jsonBody, cookies, headers)
}

// requestWith is request with the client c.
func requestWith(t testing.TB, c *http.Client, method, u string, form url.Values, jsonBody any, cookies string, headers map[string]string) answer {
	t.Helper()
	a, err := tryRequest(c, method, u, form, jsonBody, cookies, headers)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// tryRequest is requestWith that returns the error instead of failing the test, for
// goroutines other than the test's own.
func tryRequest(c *http.Client, method, u string, form url.Values, jsonBody any, cookies string, headers map[string]string) (answer, error) {
	var body io.Reader
	switch {
	case form != nil:
		body = strings.NewReader(form.Encode())
	case jsonBody != nil:
		b, err := json.Marshal(jsonBody)
		if err != nil {
			return answer{}, err
		}
		body = strings.NewReader(string(b))
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		return answer{}, err
	}
	switch {
	case form != nil:
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	case jsonBody != nil:
		req.Header.Set("Content-Type", "application/json")
	}
	if cookies != "" {
		req.Header.Set("Cookie", cookies)
	}
	for k, v := range headers {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return answer{}, fmt.Errorf("%s %s: %w", method, u, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, fmt.Errorf("%s %s: reading the body: %w", method, u, err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: html.UnescapeString(string(raw))}, nil
}

// htmlAccept is the Accept header of a browser.
var htmlAccept = map[string]string{"Accept": "text/html,application/xhtml+xml"}

var smsCode = regexp.MustCompile(`\b(\d{6})\b`)

// waitSMS waits for SMS number n (1-based) at the double and returns its code, checking
// that it went to mobile.
func waitSMS(t testing.TB, d *snsdouble.Double, n int, mobile string) string {
	t.Helper()
	pubs, err := d.WaitFor(n, 10*time.Second)
	if err != nil {
		t.Fatalf("expected SMS number %d to %s: %v", n, mobile, err)
	}
	p := pubs[n-1]
	if p.PhoneNumber != mobile {
		t.Fatalf("expected an SMS to %s, got one to %s", mobile, p.PhoneNumber)
	}
	m := smsCode.FindStringSubmatch(p.Message)
	if m == nil {
		t.Fatalf("expected a 6-digit code in the SMS, got %q", p.Message)
	}
	return m[1]
}

// gateSignIn runs the gate's form flow at u (a gated URL) for mobile with c, a client
// with a cookie jar, and returns the session cookie's value.
func gateSignIn(t testing.TB, c *http.Client, d *snsdouble.Double, u, mobile string) string {
	t.Helper()
	return gateSignInWith(t, c, d, u, mobile, nil).cookie("otp_session")
}

// gateSignInWith is gateSignIn with headers added to every request of the flow; it returns
// the answer to the right code (the 303 with the session cookie).
func gateSignInWith(t testing.TB, c *http.Client, d *snsdouble.Double, u, mobile string, headers map[string]string) answer {
	t.Helper()
	with := func(h map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range headers {
			out[k] = v
		}
		for k, v := range h {
			out[k] = v
		}
		return out
	}
	p := requestWith(t, c, "GET", u, nil, nil, "", with(htmlAccept))
	if p.status != http.StatusUnauthorized || !strings.Contains(p.body, `name="mobile"`) {
		t.Fatalf("expected 401 and the mobile step, got %d %s", p.status, p.body)
	}
	before := d.Count()
	p = requestWith(t, c, "POST", u, url.Values{"_otp_step": {"send"}, "_otp_csrf": {p.csrf(t)}, "mobile": {mobile}}, nil, "", with(nil))
	if p.status != http.StatusSeeOther {
		t.Fatalf("expected 303 after send, got %d %s", p.status, p.body)
	}
	code := waitSMS(t, d, before+1, mobile)
	p = requestWith(t, c, "GET", u, nil, nil, "", with(htmlAccept))
	if p.status != http.StatusUnauthorized || !strings.Contains(p.body, `autocomplete="one-time-code"`) {
		t.Fatalf("expected 401 and the code step, got %d %s", p.status, p.body)
	}
	p = requestWith(t, c, "POST", u, url.Values{"_otp_step": {"verify"}, "_otp_csrf": {p.csrf(t)}, "otp": {code}}, nil, "", with(nil))
	if p.status != http.StatusSeeOther {
		t.Fatalf("expected 303 after verify, got %d %s", p.status, p.body)
	}
	if p.cookie("otp_session") == "" {
		t.Fatalf("expected an otp_session cookie after verify, got Set-Cookie %q", p.header.Values("Set-Cookie"))
	}
	return p
}
