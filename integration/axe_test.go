package integration

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// The desktop size at which every page must pass axe, besides the phone's (viewportWidth).
const desktopWidth, desktopHeight = 1280, 900

// axeRun is what the pages are checked against: WCAG 2.0, 2.1 and 2.2 A and AA, and
// axe's best practices.
const axeRun = `axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']}})
	.then(r => r.violations.map(v => ({id: v.id, impact: v.impact || '', help: v.help,
		nodes: v.nodes.map(n => n.target.join(' ') + ': ' + (n.failureSummary || '').replace(/\s+/g, ' ') + ' in ' + n.html.slice(0, 160))})))`

// axeViolation is one rule a page breaks, with the elements that break it.
type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

var (
	axeOnce   sync.Once
	axeSource string
	axeErr    error
)

// axePath is where axe.min.js is: $CADDYOTP_AXE, or where ./test.sh installs it.
func axePath() string {
	if p := os.Getenv("CADDYOTP_AXE"); p != "" {
		return p
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "caddyotp-axe", "node_modules", "axe-core", "axe.min.js")
}

// loadAxe reads axe-core once. Its absence fails the test: an accessibility check that
// quietly does not run would pass every page.
func loadAxe(t *testing.T) string {
	t.Helper()
	axeOnce.Do(func() {
		var b []byte
		b, axeErr = os.ReadFile(axePath())
		axeSource = string(b)
	})
	if axeErr != nil {
		t.Fatalf("axe-core is missing (%v): run ./test.sh, which installs it with "+
			"`npm install --no-save --prefix ~/.cache/caddyotp-axe axe-core@4`, or set CADDYOTP_AXE to an axe.min.js", axeErr)
	}
	return axeSource
}

// setViewport sizes the page as a phone or a desktop would show it.
func (b *browser) setViewport(width, height int64) {
	b.t.Helper()
	if width <= viewportWidth {
		b.run(fmt.Sprintf("emulate a %dpx phone", width), chromedp.EmulateViewport(width, height, chromedp.EmulateMobile))
		return
	}
	b.run(fmt.Sprintf("emulate a %dpx desktop", width), chromedp.EmulateViewport(width, height))
}

// axeViolations injects axe-core into the page shown (through DevTools, so the page's CSP
// does not stop it) and returns what it finds.
func (b *browser) axeViolations(step string) []axeViolation {
	b.t.Helper()
	src := loadAxe(b.t)
	ctx, cancel := context.WithTimeout(b.ctx, actionTimeout)
	defer cancel()
	loaded, err := chromedp.Run(ctx, chromedp.EvaluateAsDevTools[bool](`typeof window.axe === 'object'`))
	if err != nil {
		b.t.Fatalf("%s: looking for axe: %v", step, err)
	}
	if !loaded {
		if _, err := chromedp.Run(ctx, chromedp.EvaluateAsDevTools[chromedp.Void](src)); err != nil {
			b.t.Fatalf("%s: injecting axe-core: %v", step, err)
		}
	}
	v, err := chromedp.Run(ctx, chromedp.EvaluateAsDevTools[[]axeViolation](axeRun, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("%s: running axe: %v", step, err)
	}
	return v
}

// expectAccessible runs axe on the page shown at phone and desktop width and fails the
// test for every violation; the phone viewport is left in place.
func (b *browser) expectAccessible(step string) {
	b.t.Helper()
	for _, size := range [][2]int64{{desktopWidth, desktopHeight}, {viewportWidth, viewportHeight}} {
		b.setViewport(size[0], size[1])
		for _, v := range b.axeViolations(step) {
			b.t.Errorf("%s at %dpx: expected no axe violation, got %s (%s): %s\n\t%s", step, size[0], v.ID, v.Impact, v.Help,
				strings.Join(v.Nodes, "\n\t"))
		}
	}
}

// TestAxeCatchesViolations: the checker itself fails a page that breaks the rules (an
// image without text, a field without a label, grey on grey, no main landmark) and passes
// a plain good one, so that a clean result on the real pages means something.
func TestAxeCatchesViolations(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if r.URL.Path == "/good" {
			fmt.Fprint(w, `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">`+
				`<title>Good</title></head><body><main><h1>Good</h1><p>Plain text.</p></main></body></html>`)
			return
		}
		fmt.Fprint(w, `<!doctype html><html><head><title>Bad</title></head><body>`+
			`<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="><input type="text">`+
			`<p style="color:#aaa;background:#bbb">low contrast</p></body></html>`)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	base := "http://" + ln.Addr().String()

	b := newBrowser(t)
	b.run("open the bad page", chromedp.Navigate(base+"/bad"), chromedp.WaitVisible(chromedp.CSS("input")))
	found := map[string]bool{}
	for _, v := range b.axeViolations("bad page") {
		found[v.ID] = true
	}
	for _, id := range []string{"image-alt", "label", "color-contrast", "html-has-lang", "landmark-one-main"} {
		if !found[id] {
			t.Errorf("expected axe to report %s on the bad page, got %v", id, found)
		}
	}
	b.run("open the good page", chromedp.Navigate(base+"/good"), chromedp.WaitVisible(chromedp.CSS("h1")))
	b.expectAccessible("good page")
}
