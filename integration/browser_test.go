package integration

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/caddyotp/caddyotp/internal/redistest"
	"github.com/caddyotp/caddyotp/internal/snsdouble"
	"github.com/caddyotp/caddyotp/internal/testnet"
)

// updateDocs makes TestBrowserGateFlow copy its challenge-page screenshot to
// docs/challenge.png and TestBrowserDashboard its desktop screenshot to docs/dashboard.png,
// the pictures the README shows. Off by default, so a plain test run never changes a
// committed file: go test ./integration/ -run Browser -update-docs
var updateDocs = flag.Bool("update-docs", false, "write the screenshots the README shows to docs/")

const (
	chromiumPath = "/usr/bin/chromium"
	// A phone-sized window: the pages are meant to work there first.
	viewportWidth, viewportHeight = 420, 760
	// Bounds for the browser: the whole flow, and each action in it.
	browserFlowTimeout = 60 * time.Second
	actionTimeout      = 10 * time.Second
)

// cspProbe runs in every document before the page's own content (injected by DevTools, so
// the page's CSP does not stop it) and records every CSP violation the page meets.
const cspProbe = `window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', e => {
	window.__cspViolations.push(e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') + ' at ' + e.sourceFile + ':' + e.lineNumber);
});`

// browser is a headless Chromium tab with what it saw recorded.
type browser struct {
	t   *testing.T
	ctx context.Context

	mu       sync.Mutex
	console  []chromedp.ConsoleMessage
	docs     []*network.Response // main-document responses, in order
	shotsDir string
	shotN    int
}

// launchChromium starts a headless Chromium that lives at most life (each action has its
// own deadline too) and stops when t ends; its output is logged if t failed.
func launchChromium(t *testing.T, life time.Duration) (context.Context, *syncBuffer) {
	t.Helper()
	path := chromiumPath
	if _, err := os.Stat(path); err != nil {
		if p, lerr := exec.LookPath("chromium"); lerr == nil {
			path = p
		} else {
			t.Fatalf("chromium is not installed at %s nor on PATH (%v): run ./test.sh, which installs it", chromiumPath, err)
		}
	}
	chromeOut := new(syncBuffer)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(viewportWidth, viewportHeight),
		chromedp.CombinedOutput(chromeOut),
	}
	parent, cancelParent := context.WithTimeout(context.Background(), life)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(parent, opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc() // waits for the browser to exit, before t.TempDir is removed
		cancelParent()
		if t.Failed() {
			out := chromeOut.String()
			if len(out) > 4000 {
				out = "…" + out[len(out)-4000:]
			}
			t.Logf("chromium output:\n%s", out)
		}
	})
	return ctx, chromeOut
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	ctx, chromeOut := launchChromium(t, browserFlowTimeout)
	b := &browser{t: t, ctx: ctx, shotsDir: "screenshots"}

	// Start the browser and the tab; subscribe before anything loads.
	b.record(chromeOut)
	if err := os.MkdirAll(b.shotsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	return b
}

// record starts the tab of b.ctx, keeps its documents and console messages, injects the
// CSP probe into every page and emulates a phone's viewport.
func (b *browser) record(chromeOut *syncBuffer) {
	b.t.Helper()
	messages := chromedp.Console(b.ctx)
	if err := chromedp.Listen(b.ctx, func(ev any) {
		if ev, ok := ev.(*network.EventResponseReceived); ok && ev.Type == network.ResourceTypeDocument {
			b.mu.Lock()
			b.docs = append(b.docs, ev.Response)
			b.mu.Unlock()
		}
	}); err != nil {
		b.t.Fatalf("starting a browser tab: %v\n%s", err, chromeOut.String())
	}
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.console = append(b.console, m)
			b.mu.Unlock()
		}
	}()
	b.run("inject the CSP probe", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspProbe})
		return err
	}))
	// Headless windows are at least 500px wide; emulate the phone's viewport instead.
	b.run("emulate a phone viewport", chromedp.EmulateViewport(viewportWidth, viewportHeight, chromedp.EmulateMobile))
}

// run runs the actions, bounded by actionTimeout, and fails the test on error.
func (b *browser) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, actionTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		lctx, lcancel := context.WithTimeout(b.ctx, time.Second)
		defer lcancel()
		loc, _ := chromedp.Run(lctx, chromedp.Location())
		b.t.Fatalf("%s: %v (page %s)", what, err, loc)
	}
}

// text is the visible text of the first element matching sel.
func (b *browser) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, actionTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible))
	if err != nil {
		b.t.Fatalf("reading %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// location is the current URL.
func (b *browser) location() string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, actionTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		b.t.Fatalf("reading the location: %v", err)
	}
	return s
}

// lastDocument is the status and URL of the last main-document response.
func (b *browser) lastDocument() (int64, string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.docs) == 0 {
		return 0, ""
	}
	r := b.docs[len(b.docs)-1]
	return r.Status, r.URL
}

// expectDocument checks the status and URL of the page now shown.
func (b *browser) expectDocument(status int64, url string) {
	b.t.Helper()
	if s, u := b.lastDocument(); s != status || u != url {
		b.t.Fatalf("expected the page %s with status %d, got %s with %d", url, status, u, s)
	}
}

// screenshot writes a full-page PNG of the page to screenshots/NN-name.png and returns it.
func (b *browser) screenshot(name string) []byte {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, actionTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	b.shotN++
	path := filepath.Join(b.shotsDir, fmt.Sprintf("%02d-%s.png", b.shotN, name))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	return png
}

// expectClean fails the test for any console error or warning, uncaught exception or CSP
// violation seen so far, except the expected: the challenge's own 401 at a URL under
// gated, which Chromium logs as a failed resource.
func (b *browser) expectClean(step, gated string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, actionTimeout)
	defer cancel()
	violations, err := chromedp.Run(ctx, chromedp.EvaluateAsDevTools[[]string](`window.__cspViolations || []`))
	if err != nil {
		b.t.Fatalf("%s: reading CSP violations: %v", step, err)
	}
	for _, v := range violations {
		b.t.Errorf("%s: expected no CSP violation, got %s", step, v)
	}
	b.mu.Lock()
	msgs := b.console
	b.console = nil
	b.mu.Unlock()
	for _, m := range msgs {
		switch {
		case m.Type != chromedp.ConsoleError && m.Type != chromedp.ConsoleException && m.Type != chromedp.ConsoleWarning:
		case m.Source == "network" && strings.Contains(m.Text, "status of 401") && strings.HasPrefix(m.URL, gated):
			b.t.Logf("%s: expected console entry: %s (%s)", step, m, m.URL)
		default:
			b.t.Errorf("%s: expected no console errors, got [%s] %s (%s)", step, m.Source, m, m.URL)
		}
	}
}

// TestBrowserGateFlow drives a real headless Chromium through the gate of a built Caddy
// with real Redis and the SNS double: challenge, mobile, code, the upstream, a reload, the
// sign-out page, and the challenge again. Each step is screenshotted to screenshots/; the
// challenge, the code step and the signed-out page must pass axe at phone and desktop width.
func TestBrowserGateFlow(t *testing.T) {
	rds := redistest.Start(t)
	sns := snsdouble.New(t)
	gatePort, upstreamPort := testnet.FreePort(t), testnet.FreePort(t)
	startCaddy(t, fmt.Sprintf(`{
	otp {
		secret %s
		store redis {
			address %s
		}
		sender sns {
			region eu-west-2
			endpoint %s
		}
		template login {
			resend 60s
		}
	}
}

%s {
	otp_gate /admin/* login {
		allow %s
		title "Acme admin"
	}
	handle /admin/* {
		reverse_proxy 127.0.0.1:%d
	}
	handle {
		respond "not gated"
	}
}

%s {
	header Content-Type "text/html; charset=utf-8"
	respond `+"`"+`<!doctype html><meta name="viewport" content="width=device-width"><title>Admin</title>
<h1>Admin area</h1><p>Signed in as <strong id="mobile">{http.request.header.X-OTP-Mobile}</strong>.</p>
<p><a href="/admin/.otp/logout">Sign out</a></p>`+"`"+`
}
`, sharedSecret, rds.Addr(), sns.URL(), testnet.Site(gatePort), gateMobile, upstreamPort, testnet.Site(upstreamPort)))
	base := testnet.Site(gatePort)
	admin := base + "/admin/"

	b := newBrowser(t)
	started := time.Now()

	// 1. The challenge: mobile step, 401.
	b.run("open /admin/", chromedp.Navigate(admin), chromedp.WaitVisible(chromedp.CSS("input[name=mobile]")))
	b.expectDocument(401, admin)
	challenge := b.screenshot("challenge")
	b.expectClean("challenge", admin)
	b.expectAccessible("challenge")
	if *updateDocs {
		if err := os.MkdirAll(filepath.Join("..", "docs"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("..", "docs", "challenge.png"), challenge, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote docs/challenge.png")
	}

	// 2. Type the mobile and send.
	b.run("type the mobile", chromedp.SendKeys(chromedp.CSS("input[name=mobile]"), gateMobile))
	b.screenshot("mobile-typed")
	before := sns.Count()
	b.run("send the code",
		chromedp.Click(chromedp.CSS("form:has(input[name=mobile]) button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("input[name=otp]")))
	b.expectDocument(401, admin)
	b.screenshot("code-step")
	b.expectClean("code step", admin)
	b.expectAccessible("code step")
	if got := b.text("label[for=otp]"); !strings.Contains(got, "••56") {
		t.Errorf("expected the code step to show the masked mobile, got %q", got)
	}

	// 3. The code from the SNS double.
	code := waitSMS(t, sns, before+1, gateMobile)
	b.run("type the code", chromedp.SendKeys(chromedp.CSS("input[name=otp]"), code))
	b.screenshot("code-typed")
	b.run("verify",
		chromedp.Click(chromedp.CSS("form:has(input[name=otp]) button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#mobile")))

	// 4. The upstream, with the verified mobile.
	b.expectDocument(200, admin)
	if got := b.text("#mobile"); got != gateMobile {
		t.Fatalf("expected the upstream to show %s, got %q", gateMobile, got)
	}
	b.screenshot("signed-in")
	b.expectClean("signed in", admin)
	b.expectSessionCookie(base)

	// 5. A reload stays in.
	b.run("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#mobile")))
	b.expectDocument(200, admin)
	if got := b.text("#mobile"); got != gateMobile {
		t.Fatalf("expected the upstream to show %s after a reload, got %q", gateMobile, got)
	}
	b.screenshot("reloaded")

	// 6. The sign-out page, and its button.
	b.run("open the sign-out page", chromedp.Navigate(admin+".otp/logout"), chromedp.WaitVisible(chromedp.CSS("button[type=submit]")))
	b.expectDocument(200, admin+".otp/logout")
	if got := b.text("button[type=submit]"); got != "Sign out" {
		t.Fatalf("expected a Sign out button, got %q", got)
	}
	b.screenshot("sign-out")
	b.expectClean("sign-out page", admin)
	b.run("sign out",
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("input[name=mobile]")))

	// 7. Back to the challenge on /admin/.
	b.expectDocument(401, admin)
	if got := b.location(); got != admin {
		t.Fatalf("expected to land on %s after signing out, got %s", admin, got)
	}
	b.screenshot("signed-out")
	b.expectClean("signed out", admin)
	b.expectAccessible("signed out")
	t.Logf("browser flow took %s", time.Since(started).Round(time.Millisecond))
}

// expectSessionCookie checks the session cookie the browser holds for base.
func (b *browser) expectSessionCookie(base string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, actionTimeout)
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{base + "/"}})
	if err != nil {
		b.t.Fatalf("reading cookies: %v", err)
	}
	for _, c := range res.Cookies {
		if c.Name != "otp_session" {
			continue
		}
		if !c.HTTPOnly || c.SameSite != network.CookieSameSiteLax || c.Path != "/" || c.Domain != "127.0.0.1" {
			b.t.Errorf("expected otp_session HttpOnly, SameSite=Lax, Path=/, host-only, got HttpOnly=%v SameSite=%q Path=%q Domain=%q",
				c.HTTPOnly, c.SameSite, c.Path, c.Domain)
		}
		return
	}
	b.t.Errorf("expected an otp_session cookie in the browser, got %d other cookies", len(res.Cookies))
}

// syncBuffer is a bytes buffer safe for the browser's output goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
