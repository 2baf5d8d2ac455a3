package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/caddyotp/caddyotp/internal/testnet"
)

// Helpers for the browser tests of the gate's version 2 (remember this device, step-up,
// languages, own pages): one Caddy with the memory store and `sender log`, whose log
// gives the codes, and browser contexts that carry only the cookies a test gives them.

// v2Template is the otp app every v2 test runs: codes to the log, no resend interval
// and wide limits (the tests sign the same mobiles in again and again from 127.0.0.1),
// and a French SMS.
const v2Template = `{
	otp {
		secret %s
		%s
		sender log
		template login {
			resend 0s
			limit mobile 100 1h
			limit ip 1000 1h
			limit prefix 1000 1h
			message fr "{code} est votre code. Il expire dans {minutes} minutes."
		}
	}
}
`

// v2Upstream is what a gated route answers once the gate lets a request through: the
// verified mobile as the gate passed it on.
const v2Upstream = `header Content-Type "text/html; charset=utf-8"
		respond ` + "`" + `<!doctype html><html lang="en"><meta name="viewport" content="width=device-width"><title>Signed in</title>
<main><h1>Signed in</h1><p>As <strong id="mobile">{http.request.header.X-OTP-Mobile}</strong> on <span id="path">{http.request.uri.path}</span>.</p></main>` + "`"

// frenchSMS is the text `message fr` makes, with the code in it.
var frenchSMS = regexp.MustCompile(`^(\d{6}) est votre code\. Il expire dans 5 minutes\.$`)

// englishSMS is the template's default text, with the code in it.
var englishSMS = regexp.MustCompile(`^Your verification code is (\d{6})\. It expires in 5 minutes\.$`)

// smsLine matches every SMS the log sender writes.
var smsLine = regexp.MustCompile(`"logger":"otp\.senders\.log"[^\n]*"msg":"sms"`)

// v2Site is a Caddy running v2Template and the sites a test gives it.
type v2Site struct {
	t    *testing.T
	proc *caddyProc
	base string
}

// startV2Site runs a Caddy with the v2 otp app (store is its `store` line) and one site
// on a free port whose block is site (a Caddyfile fragment).
func startV2Site(t *testing.T, store, site string) *v2Site {
	t.Helper()
	base := testnet.Site(testnet.FreePort(t))
	cfg := fmt.Sprintf(v2Template, sharedSecret, store) + "\n" + base + " {\n" + site + "\n}\n"
	return &v2Site{t: t, proc: startCaddy(t, cfg), base: base}
}

// smsCount is how many SMS the log sender has written so far.
func (s *v2Site) smsCount() int {
	return len(smsLine.FindAllString(s.proc.output(), -1))
}

// sms waits for the SMS to mobile written after skip bytes of the log and returns its text.
func (s *v2Site) sms(mobile string, skip int) string {
	s.t.Helper()
	re := regexp.MustCompile(`"logger":"otp\.senders\.log"[^\n]*"msg":"sms"[^\n]*"to":"` + regexp.QuoteMeta(mobile) + `","text":"([^"]*)"`)
	return s.proc.waitOutput(re, skip, 5*time.Second)
}

// code waits for the SMS to mobile written after skip bytes of the log and returns the
// code in it, checking the text against want.
func (s *v2Site) code(mobile string, skip int, want *regexp.Regexp) string {
	s.t.Helper()
	text := s.sms(mobile, skip)
	m := want.FindStringSubmatch(text)
	if m == nil {
		s.t.Fatalf("expected the SMS to %s to match %s, got %q", mobile, want, text)
	}
	return m[1]
}

// toCodeStep opens url in b, types mobile, sends, and returns the code the SMS carried
// (checked against want) once the code step shows.
func (s *v2Site) toCodeStep(b *browser, url, mobile string, want *regexp.Regexp) string {
	s.t.Helper()
	b.run("open "+url, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS("input[name=mobile]")))
	b.expectDocument(401, url)
	b.run("type the mobile", chromedp.SendKeys(chromedp.CSS("input[name=mobile]"), mobile))
	logged := len(s.proc.output())
	b.run("send the code",
		chromedp.Click(chromedp.CSS("form:has(input[name=mobile]) button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("input[name=otp]")))
	b.expectDocument(401, url)
	return s.code(mobile, logged, want)
}

// verify types code on the code step shown in b, ticks "remember this device" when
// remember, and checks that the upstream then shows mobile at url.
func (s *v2Site) verify(b *browser, url, mobile, code string, remember bool) {
	s.t.Helper()
	b.run("type the code", chromedp.SendKeys(chromedp.CSS("input[name=otp]"), code))
	if remember {
		b.run("tick remember this device", chromedp.Click(chromedp.CSS("input[name=remember]")))
	}
	b.run("verify",
		chromedp.Click(chromedp.CSS("form:has(input[name=otp]) button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#mobile")))
	b.expectSignedIn(url, mobile)
}

// signIn goes through the challenge at url with mobile (English SMS).
func (s *v2Site) signIn(b *browser, url, mobile string, remember bool) {
	s.t.Helper()
	code := s.toCodeStep(b, url, mobile, englishSMS)
	s.verify(b, url, mobile, code, remember)
}

// expectSignedIn checks that b shows the upstream at url, with mobile passed on.
func (b *browser) expectSignedIn(url, mobile string) {
	b.t.Helper()
	b.expectDocument(200, url)
	if got := b.text("#mobile"); got != mobile {
		b.t.Fatalf("expected the upstream at %s to show %s, got %q", url, mobile, got)
	}
}

// expectChallenge opens url in b and checks that it gets the mobile step, 401.
func (b *browser) expectChallenge(what, url string) {
	b.t.Helper()
	b.run(what, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS("input[name=mobile]")))
	b.expectDocument(401, url)
}

// v2ChromiumLife bounds the life of the Chromium a v2 test starts: one serves the whole
// test (a minute's wait included, for step-up), through a browser context per visitor.
const v2ChromiumLife = 3 * time.Minute

// newChromium starts a headless Chromium, as newBrowser does, that lives until the test
// ends (at most v2ChromiumLife). Drive it through newContext.
func newChromium(t *testing.T) *browser {
	t.Helper()
	ctx, chromeOut := launchChromium(t, v2ChromiumLife)
	// The first action on ctx itself, not on a child with a deadline: the browser lives
	// as long as the context it starts with.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting chromium: %v\n%s", err, chromeOut.String())
	}
	b := &browser{t: t, ctx: ctx, shotsDir: "screenshots"}
	if err := os.MkdirAll(b.shotsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	return b
}

// newContext opens a browser context in b's Chromium for t: cookies, cache and storage of
// its own, as a second browser, or the same one closed and opened again, would have. It
// records what newBrowser records, and closes when t ends (or at stop).
func (b *browser) newContext(t *testing.T) *browser {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	nb := &browser{t: t, ctx: ctx, shotsDir: b.shotsDir}
	nb.record(new(syncBuffer))
	return nb
}

// cookies are the cookies b holds for base, by name.
func (b *browser) cookies(base string) map[string]*network.Cookie {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, actionTimeout)
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{base + "/"}})
	if err != nil {
		b.t.Fatalf("reading cookies: %v", err)
	}
	out := make(map[string]*network.Cookie, len(res.Cookies))
	for _, c := range res.Cookies {
		out[c.Name] = c
	}
	return out
}

// cookie is the named cookie b holds for base; the test fails when there is none.
func (b *browser) cookie(base, name string) *network.Cookie {
	b.t.Helper()
	c, ok := b.cookies(base)[name]
	if !ok {
		b.t.Fatalf("expected the browser to hold a %s cookie, got none", name)
	}
	return c
}

// setCookies gives b copies of cs, as the site at base had set them.
func (b *browser) setCookies(base string, cs ...*network.Cookie) {
	b.t.Helper()
	params := make([]*network.CookieParam, len(cs))
	for i, c := range cs {
		params[i] = &network.CookieParam{Name: c.Name, Value: c.Value, URL: base + "/", Path: c.Path,
			HTTPOnly: c.HTTPOnly, Secure: c.Secure, SameSite: c.SameSite}
		if !c.Session {
			params[i].Expires = cdp.TimeSinceEpoch(c.Expires)
		}
	}
	b.run("copy cookies in", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Call(ctx, network.SetCookies, network.SetCookiesParams{Cookies: params})
		return err
	}))
}

// clearCookies removes every cookie of b's browser context.
func (b *browser) clearCookies() {
	b.t.Helper()
	b.run("clear cookies", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Call(ctx, network.ClearBrowserCookies, cdp.Empty{})
		return err
	}))
}

// setHeaders makes b send headers with every request from now on, in place of the last set.
func (b *browser) setHeaders(headers map[string]string) {
	b.t.Helper()
	h := network.Headers{}
	for k, v := range headers {
		h[k] = v
	}
	b.run("set extra headers", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: h})
		return err
	}))
}

// shot writes a full-page PNG of the page shown to screenshots/v2-name.png.
func (b *browser) shot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, actionTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(b.shotsDir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.shotsDir, "v2-"+name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// evalIn evaluates a JavaScript expression in the page shown.
func evalIn[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, actionTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// present reports whether an element matches sel in the page shown.
func (b *browser) present(sel string) bool {
	b.t.Helper()
	return evalIn[bool](b, fmt.Sprintf("document.querySelector(%q) !== null", sel))
}

// pageLang is the lang attribute of the page shown.
func (b *browser) pageLang() string {
	b.t.Helper()
	return strings.TrimSpace(evalIn[string](b, "document.documentElement.lang"))
}

// stop closes b's browser context before the test ends.
func (b *browser) stop() {
	b.t.Helper()
	if err := chromedp.Cancel(b.ctx); err != nil {
		b.t.Logf("closing the browser: %v", err)
	}
}
