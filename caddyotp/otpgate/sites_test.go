package otpgate

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"golang.org/x/crypto/bcrypt"

	"github.com/caddyotp/caddyotp/internal/snsdouble"
	"github.com/caddyotp/caddyotp/internal/testcaddy"
	"github.com/caddyotp/caddyotp/internal/testnet"
)

// Helpers for the tests of the gate's version 2 (remember, step-up, mobile, languages,
// pages): a Caddy with the otp app and one site, reloads, cookies, and forms read off a page.

// loginTemplate is the template most tests use: no resend interval, and limits high enough
// for the sends of one test.
const loginTemplate = `template login {
			resend 0s
			limit mobile 100 1h
			limit ip 1000 1h
		}`

const (
	gbMobile = "+447400123456"
	usMobile = "+12025550123"
	gbMasked = "+44 •••• ••••56"
	usMasked = "+1 •••• ••••23"
)

// site is a Caddy with the otp app (secret gateSecret, the SNS double) and one site.
type site struct {
	base string
	sns  *snsdouble.Double
	up   *upstream
}

func newSite(t *testing.T) *site {
	t.Helper()
	snsdouble.OfflineAWS(t)
	return &site{base: testnet.Site(testnet.FreePort(t)), sns: snsdouble.New(t), up: newUpstream(t)}
}

// startSite starts Caddy with templates in the otp app and routes (the gates) in the site,
// which ends in a reverse_proxy to the upstream.
func startSite(t *testing.T, templates, routes string) *site {
	t.Helper()
	s := newSite(t)
	testcaddy.Start(t, s.caddyfile(templates, routes))
	return s
}

func (s *site) caddyfile(templates, routes string) string {
	return fmt.Sprintf(`{
	admin off
	otp {
		secret %s
		sender sns {
			region eu-west-2
			endpoint %s
		}
		%s
	}
}

%s {
	%s
	reverse_proxy %s
}
`, gateSecret, s.sns.URL(), templates, s.base, routes, s.up.srv.Listener.Addr())
}

// reload loads a new config over the one startSite started (same secret, same memory
// store state), as `caddy reload` would.
func (s *site) reload(t *testing.T, templates, routes string) {
	t.Helper()
	if err := loadCaddyfile(s.caddyfile(templates, routes)); err != nil {
		t.Fatalf("reloading: %v", err)
	}
	settle(t, s.base+"/")
}

// settle waits out a reload. caddy.Load returns once the old servers have begun to shut
// down, not once they have: for a moment a request on a new or kept-alive connection can
// meet a reset or a bare EOF (seen in CI on a busy machine, on this Caddy's own reload,
// not in the gate). A browser would retry; the tests instead wait until three requests in
// a row, each on a new connection, get an answer, and then drop every idle connection.
func settle(t *testing.T, probe string) {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	deadline := time.Now().Add(5 * time.Second)
	for ok := 0; ok < 3; {
		resp, err := c.Get(probe)
		if err != nil {
			if time.Now().After(deadline) {
				t.Fatalf("the reloaded Caddy gave no answer at %s within 5s: %v", probe, err)
			}
			ok = 0
			time.Sleep(10 * time.Millisecond)
			continue
		}
		resp.Body.Close()
		ok++
	}
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
}

// loadCaddyfile adapts and loads a Caddyfile, without the admin endpoint or persistence,
// and returns the adapter's or Caddy's error.
func loadCaddyfile(caddyfile string) error {
	out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), map[string]any{"filename": "Caddyfile"})
	if err != nil {
		return err
	}
	var cfg map[string]any
	if err := json.Unmarshal(out, &cfg); err != nil {
		return err
	}
	cfg["admin"] = map[string]any{"disabled": true, "config": map[string]any{"persist": false}}
	out, _ = json.Marshal(cfg)
	return caddy.Load(out, true)
}

// provisionError loads a config that must fail and returns its error; one that loads after
// all is stopped, and fails the test.
func provisionError(t *testing.T, caddyfile string) error {
	t.Helper()
	err := loadCaddyfile(caddyfile)
	if err == nil {
		caddy.Stop()
		t.Fatalf("expected the config to fail, it loaded:\n%s", caddyfile)
	}
	return err
}

func bcryptHash(t *testing.T, password string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// moveClock sets the gate's clock d ahead of the real time until the test ends.
func moveClock(t *testing.T, d time.Duration) {
	t.Helper()
	clock = func() time.Time { return time.Now().Add(d) }
	t.Cleanup(func() { clock = time.Now })
}

// setCookies are the cookies a response sets, by name.
func (p shown) setCookies() map[string]*http.Cookie {
	out := map[string]*http.Cookie{}
	for _, line := range p.header.Values("Set-Cookie") {
		if c, err := http.ParseSetCookie(line); err == nil {
			out[c.Name] = c
		}
	}
	return out
}

// cookie is the value of the cookie name in b's jar for u, "" when there is none.
func (b *browser) cookie(u, name string) string {
	site, _ := url.Parse(u)
	for _, c := range b.c.Jar.Cookies(site) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// browserWith is a new browser whose jar holds only the cookie name=value for u: what is
// left of a browser that was closed, when only a long-lived cookie survives.
func browserWith(t *testing.T, u, name, value string) *browser {
	t.Helper()
	b := newBrowser(t)
	site, _ := url.Parse(u)
	b.c.Jar.SetCookies(site, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
	return b
}

// noSMS waits for any background send to reach the double and checks that none did since
// before (publishes and attempts alike).
func noSMS(t *testing.T, sns *snsdouble.Double, before int, what string) {
	t.Helper()
	time.Sleep(300 * time.Millisecond)
	if got := sns.Attempts(); got != before {
		t.Errorf("%s: expected no SMS, got %d request(s) at SNS", what, got-before)
	}
}

// signInAt runs the challenge at u to a right code: the send step (typing mobile when the
// page asks for one) and the code step, with extra fields in the verify post. It returns
// the answer to the verify post.
func signInAt(t *testing.T, s *site, b *browser, u, mobile string, extra url.Values) shown {
	t.Helper()
	p := b.get(t, u)
	if p.status != 401 || !strings.Contains(p.body, `value="send"`) {
		t.Fatalf("expected 401 and a send form at %s, got %d %s", u, p.status, p.body)
	}
	form := url.Values{"_otp_step": {"send"}, "_otp_csrf": {p.csrf(t)}}
	if strings.Contains(p.body, `name="mobile"`) {
		form.Set("mobile", mobile)
	}
	before := s.sns.Count()
	if p = b.post(t, u, form); p.status != 303 {
		t.Fatalf("expected 303 after send, got %d %s", p.status, p.body)
	}
	code := waitCode(t, s.sns, mobile, before)
	p = b.get(t, u)
	if p.status != 401 || !strings.Contains(p.body, `autocomplete="one-time-code"`) {
		t.Fatalf("expected the code step, got %d %s", p.status, p.body)
	}
	form = url.Values{"_otp_step": {"verify"}, "_otp_csrf": {p.csrf(t)}, "otp": {code}}
	for k, v := range extra {
		form[k] = v
	}
	p = b.post(t, u, form)
	if p.status != 303 {
		t.Fatalf("expected 303 after a right code, got %d %s", p.status, p.body)
	}
	return p
}

// through checks that b gets u from the upstream as mobile.
func through(t *testing.T, b *browser, u, mobile string) shown {
	t.Helper()
	p := b.get(t, u)
	if p.status != 200 || !strings.Contains(p.body, "upstream: mobile="+mobile) {
		t.Fatalf("expected %s from the upstream as %s, got %d %s", u, mobile, p.status, p.body)
	}
	return p
}

// pageForm is one <form> of a page.
type pageForm struct {
	html   string     // its inner HTML
	hidden url.Values // its hidden inputs
}

var (
	formElement  = regexp.MustCompile(`(?s)<form[^>]*>(.*?)</form>`)
	inputElement = regexp.MustCompile(`<input\b[^>]*>`)
	attribute    = regexp.MustCompile(`([a-z-]+)="([^"]*)"`)
)

// forms reads the forms of a page.
func (p shown) forms() []pageForm {
	var out []pageForm
	for _, m := range formElement.FindAllStringSubmatch(p.body, -1) {
		f := pageForm{html: m[1], hidden: url.Values{}}
		for _, in := range f.inputs() {
			if in["type"] == "hidden" {
				f.hidden.Add(in["name"], in["value"])
			}
		}
		out = append(out, f)
	}
	return out
}

// inputs are the attributes of each <input> of the form.
func (f pageForm) inputs() []map[string]string {
	var out []map[string]string
	for _, in := range inputElement.FindAllString(f.html, -1) {
		attrs := map[string]string{}
		for _, a := range attribute.FindAllStringSubmatch(in, -1) {
			attrs[a[1]] = a[2]
		}
		out = append(out, attrs)
	}
	return out
}

// input is the name of the form's input whose attribute key is value, "" when none.
func (f pageForm) input(key, value string) string {
	for _, in := range f.inputs() {
		if in[key] == value {
			return in["name"]
		}
	}
	return ""
}

// form is the page's form whose inner HTML contains marker.
func (p shown) form(t *testing.T, marker string) pageForm {
	t.Helper()
	for _, f := range p.forms() {
		if strings.Contains(f.html, marker) {
			return f
		}
	}
	t.Fatalf("expected a form with %q, got %s", marker, p.body)
	return pageForm{}
}
