package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

const v2MobileStepUp = "+447400123467"

// stepUpWait is how long after a verification the step-up test looks again: past the
// gate's `max_age 1m`, in real time (the gate's clock is the built Caddy's).
const stepUpWait = 61 * time.Second

// TestV2BrowserStepUp: `max_age 1m` on /app/admin/ inside a gate on /app/, in real time.
// A minute after the code, /app/ still lets the browser in while /app/admin/ asks for a
// fresh code for the same mobile (masked, a send button, no input); the code lets it in
// again. A remembered device lets a browser into /app/ without an SMS, never into
// /app/admin/. It signs in first and only then lets the other v2 tests (all parallel) run,
// so that its wait overlaps them.
func TestV2BrowserStepUp(t *testing.T) {
	s := startV2Site(t, "store memory", fmt.Sprintf(`	route {
		otp_gate /app/admin/* login {
			allow %[1]s
			remember 30d
			max_age 1m
			title "Acme admin"
		}
		otp_gate /app/* login {
			allow %[1]s
			remember 30d
			title "Acme admin"
		}
		%[2]s
	}`, v2MobileStepUp, v2Upstream))
	app, admin := s.base+"/app/", s.base+"/app/admin/"

	chromium := newChromium(t)
	first := chromium.newContext(t)
	s.signIn(first, admin, v2MobileStepUp, true)
	verified := time.Now()
	first.run("open the other path", chromedp.Navigate(app), chromedp.WaitVisible(chromedp.CSS("#mobile")))
	first.expectSignedIn(app, v2MobileStepUp)
	session, device := first.cookie(s.base, "otp_session"), first.cookie(s.base, "otp_device")
	first.stop()

	// The minute runs from here: the other tests run while this one waits.
	t.Parallel()

	// After the wait, a browser with the same session cookie.
	time.Sleep(time.Until(verified.Add(stepUpWait)))
	b := chromium.newContext(t)
	b.setCookies(s.base, session)
	b.run("open the other path after a minute", chromedp.Navigate(app), chromedp.WaitVisible(chromedp.CSS("#mobile")))
	b.expectSignedIn(app, v2MobileStepUp)

	b.run("open the step-up path after a minute", chromedp.Navigate(admin), chromedp.WaitVisible(chromedp.CSS("button[type=submit]")))
	b.expectDocument(401, admin)
	if b.present("input[name=mobile]") {
		t.Errorf("expected no mobile input on the step-up page")
	}
	if got := b.text("h2"); got != "Confirm it's still you" {
		t.Errorf("expected the step-up heading, got %q", got)
	}
	if got := b.text("main p strong"); got != "+44 •••• ••••67" {
		t.Errorf("expected the masked mobile +44 •••• ••••67, got %q", got)
	}
	b.shot("stepup")
	b.expectClean("step-up page", admin)

	logged := len(s.proc.output())
	b.run("send a fresh code",
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("input[name=otp]")))
	b.expectDocument(401, admin)
	if b.present("input[value=restart]") {
		t.Errorf("expected no way to type another number on the step-up code step")
	}
	code := s.code(v2MobileStepUp, logged, englishSMS)
	s.verify(b, admin, v2MobileStepUp, code, false)
	b.run("open the other path again", chromedp.Navigate(app), chromedp.WaitVisible(chromedp.CSS("#mobile")))
	b.expectSignedIn(app, v2MobileStepUp)
	b.expectClean("after the step-up", admin)

	// A browser with only the device: a new session for /app/ without an SMS, but straight
	// to the step-up page on /app/admin/, on its first visit there too.
	sent := s.smsCount()
	d := chromium.newContext(t)
	d.setCookies(s.base, device)
	d.run("open the step-up path with only the device", chromedp.Navigate(admin), chromedp.WaitVisible(chromedp.CSS("button[type=submit]")))
	d.expectDocument(401, admin)
	if got := d.text("h2"); got != "Confirm it's still you" {
		t.Errorf("expected the step-up page for a remembered device, got %q", got)
	}
	d.run("open the other path with the device's session", chromedp.Navigate(app), chromedp.WaitVisible(chromedp.CSS("#mobile")))
	d.expectSignedIn(app, v2MobileStepUp)
	if n := s.smsCount(); n != sent {
		t.Errorf("expected no SMS for a remembered device, got %d", n-sent)
	}
	d.expectClean("remembered device", admin)
}
