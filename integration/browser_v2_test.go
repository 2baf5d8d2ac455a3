package integration

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// One mobile per flow, so that signing out everywhere in one flow ends nothing of another.
const (
	v2MobileRemember   = "+447400123461"
	v2MobileForget     = "+447400123462"
	v2MobileEverywhere = "+447400123463"
	v2MobileFrench     = "+447400123464"
	v2MobileCustom     = "+447400123465"
	v2MobileIdentity   = "+447400123466"
)

// TestV2BrowserFlows drives headless Chromium through the gate's version 2 on one built
// Caddy (memory store, codes from the log): remember this device and come back without an
// SMS, forget it, sign out everywhere, the French page and SMS, a page of one's own, and
// the first-factor mobile. Each new page state is screenshotted to screenshots/v2-*.png.
// It runs in parallel with TestV2BrowserStepUp, which mostly waits.
func TestV2BrowserFlows(t *testing.T) {
	t.Parallel()
	custom, err := filepath.Abs(filepath.Join("..", "examples", "otp-page.html"))
	if err != nil {
		t.Fatal(err)
	}
	s := startV2Site(t, "store memory", fmt.Sprintf(`	route {
		otp_gate /app/* login {
			allow %s %s %s %s
			remember 30d
			title "Acme admin"
		}
		otp_gate /brand/* login {
			allow %s
			remember 30d
			page %s
			title "Acme"
		}
		otp_gate /id/* login {
			mobile {http.request.header.X-Auth-Phone}
			allow %s
			title "Acme admin"
		}
		%s
	}`, v2MobileRemember, v2MobileForget, v2MobileEverywhere, v2MobileFrench, v2MobileCustom, custom, v2MobileIdentity, v2Upstream))
	app := s.base + "/app/"
	started := time.Now()
	chromium := newChromium(t)

	t.Run("RememberThenBackWithoutSMS", func(t *testing.T) {
		first := chromium.newContext(t)
		code := s.toCodeStep(first, app, v2MobileRemember, englishSMS)
		if got := first.text("label[for=remember]"); got != "Remember this device for 30 days" {
			t.Errorf("expected the code step to offer %q, got %q", "Remember this device for 30 days", got)
		}
		first.shot("code-remember")
		first.expectClean("code step with remember", app)
		s.verify(first, app, v2MobileRemember, code, true)
		device := first.cookie(s.base, "otp_device")
		if !device.HTTPOnly || device.SameSite != network.CookieSameSiteLax || device.Path != "/" || device.Session {
			t.Errorf("expected otp_device HttpOnly, SameSite=Lax, Path=/, persistent, got HttpOnly=%v SameSite=%q Path=%q session=%v",
				device.HTTPOnly, device.SameSite, device.Path, device.Session)
		}
		if left := time.Until(time.Unix(int64(device.Expires), 0)); left < 29*24*time.Hour || left > 30*24*time.Hour+time.Minute {
			t.Errorf("expected otp_device to last 30 days, got %s", left.Round(time.Minute))
		}
		first.stop()

		// The browser again, with nothing but the device cookie.
		sent := s.smsCount()
		again := chromium.newContext(t)
		again.setCookies(s.base, device)
		if got := again.cookies(s.base); len(got) != 1 {
			t.Fatalf("expected the reopened browser to hold only otp_device, got %d cookies", len(got))
		}
		again.run("come back", chromedp.Navigate(app), chromedp.WaitVisible(chromedp.CSS("#mobile")))
		again.expectSignedIn(app, v2MobileRemember)
		again.expectSessionCookie(s.base)
		if n := s.smsCount(); n != sent {
			t.Errorf("expected no SMS for a remembered device, got %d", n-sent)
		}
		again.expectClean("back in", app)
	})

	t.Run("ForgetThisDevice", func(t *testing.T) {
		a := chromium.newContext(t)
		s.signIn(a, app, v2MobileForget, true)
		device := a.cookie(s.base, "otp_device")
		logout := app + ".otp/logout"
		a.run("open the sign-out page", chromedp.Navigate(logout), chromedp.WaitVisible(chromedp.CSS("input[name=forget]")))
		a.expectDocument(200, logout)
		if got := a.text("label[for=forget]"); got != "Also forget this device" {
			t.Errorf("expected the forget box labelled %q, got %q", "Also forget this device", got)
		}
		if got := a.text("form:has(input[name=everywhere]) button"); got != "Sign out everywhere" {
			t.Errorf("expected a %q button, got %q", "Sign out everywhere", got)
		}
		a.shot("sign-out-device")
		a.expectClean("sign-out page", app)
		sent := s.smsCount()
		a.run("forget this device and sign out",
			chromedp.Click(chromedp.CSS("input[name=forget]")),
			chromedp.Click(chromedp.CSS("form:has(input[name=forget]) button[type=submit]")),
			chromedp.WaitVisible(chromedp.CSS("input[name=mobile]")))
		a.expectDocument(401, app)
		if _, ok := a.cookies(s.base)["otp_device"]; ok {
			t.Errorf("expected the device cookie cleared after forgetting the device")
		}

		// A copy of the old device cookie is refused too: the store forgot the device.
		c := chromium.newContext(t)
		c.setCookies(s.base, device)
		c.expectChallenge("come back with the forgotten device", app)
		if _, ok := c.cookies(s.base)["otp_device"]; ok {
			t.Errorf("expected the gate to clear a forgotten device's cookie")
		}
		if n := s.smsCount(); n != sent {
			t.Errorf("expected no SMS, got %d", n-sent)
		}
		c.expectClean("forgotten device", app)
	})

	t.Run("SignOutEverywhere", func(t *testing.T) {
		a := chromium.newContext(t)
		s.signIn(a, app, v2MobileEverywhere, true)
		other := chromium.newContext(t)
		s.signIn(other, app, v2MobileEverywhere, true)
		otherSession, otherDevice := other.cookie(s.base, "otp_session"), other.cookie(s.base, "otp_device")
		sent := s.smsCount()

		logout := app + ".otp/logout"
		a.run("open the sign-out page", chromedp.Navigate(logout),
			chromedp.WaitVisible(chromedp.CSS("form:has(input[name=everywhere]) button")))
		a.run("sign out everywhere",
			chromedp.Click(chromedp.CSS("form:has(input[name=everywhere]) button")),
			chromedp.WaitVisible(chromedp.CSS("input[name=mobile]")))
		a.expectDocument(401, app)

		// Browser B's session alone, its device alone, then B as it was: all refused.
		onlySession := chromium.newContext(t)
		onlySession.setCookies(s.base, otherSession)
		onlySession.expectChallenge("browser B's session", app)
		onlyDevice := chromium.newContext(t)
		onlyDevice.setCookies(s.base, otherDevice)
		onlyDevice.expectChallenge("browser B's device", app)
		other.expectChallenge("browser B", app)
		if n := s.smsCount(); n != sent {
			t.Errorf("expected no SMS, got %d", n-sent)
		}
		other.expectClean("browser B", app)
	})

	t.Run("FrenchPageAndSMS", func(t *testing.T) {
		f := chromium.newContext(t)
		f.setHeaders(map[string]string{"Accept-Language": "fr-CH, fr;q=0.9, en;q=0.5"})
		f.expectChallenge("open the page in French", app)
		if got := f.pageLang(); got != "fr" {
			t.Errorf("expected <html lang=fr>, got %q", got)
		}
		for sel, want := range map[string]string{
			"h2":                  "Connectez-vous avec votre téléphone",
			"label[for=mobile]":   "Numéro de mobile",
			"button[type=submit]": "Envoyer le code",
		} {
			if got := f.text(sel); got != want {
				t.Errorf("expected %s to read %q, got %q", sel, want, got)
			}
		}
		f.shot("french")
		f.expectClean("French page", app)
		code := s.toCodeStep(f, app, v2MobileFrench, frenchSMS)
		if got := f.text("label[for=remember]"); got != "Mémoriser cet appareil pendant 30 jours" {
			t.Errorf("expected the French remember box, got %q", got)
		}
		f.shot("french-code")
		s.verify(f, app, v2MobileFrench, code, false)
	})

	t.Run("CustomPage", func(t *testing.T) {
		c := chromium.newContext(t)
		brand := s.base + "/brand/"
		c.run("open the custom page", chromedp.Navigate(brand), chromedp.WaitVisible(chromedp.CSS("main.card input[name=mobile]")))
		c.expectDocument(401, brand)
		if got := evalIn[string](c, "document.querySelector('.brand').textContent"); got != "Acme" {
			t.Errorf("expected the custom page's brand line to read Acme, got %q", got)
		}
		// Its own <style> applies: the page's CSP allows it by hash.
		if got := evalIn[string](c, "getComputedStyle(document.body).backgroundColor"); got != "rgb(15, 61, 62)" {
			t.Errorf("expected the custom page's own background, got %s", got)
		}
		c.shot("custom-page")
		c.expectClean("custom page", brand)
		c.expectAccessible("custom page")
		code := s.toCodeStep(c, brand, v2MobileCustom, englishSMS)
		if !c.present("main.card input[name=remember]") {
			t.Errorf("expected the custom code step to offer remember this device")
		}
		c.shot("custom-code")
		c.expectAccessible("custom code step")
		s.verify(c, brand, v2MobileCustom, code, true)

		// Its sign-out page posts back what the gate needs too.
		logout := brand + ".otp/logout"
		c.run("open the custom sign-out page", chromedp.Navigate(logout), chromedp.WaitVisible(chromedp.CSS("main.card input[name=forget]")))
		c.expectDocument(200, logout)
		c.run("forget and sign out",
			chromedp.Click(chromedp.CSS("input[name=forget]")),
			chromedp.Click(chromedp.CSS("form:has(input[name=forget]) button[type=submit]")),
			chromedp.WaitVisible(chromedp.CSS("main.card input[name=mobile]")))
		c.expectDocument(401, brand)
		if _, ok := c.cookies(s.base)["otp_device"]; ok {
			t.Errorf("expected the custom sign-out page to forget the device")
		}
		c.expectClean("custom sign-out", brand)
	})

	t.Run("MobileFromFirstFactor", func(t *testing.T) {
		c := chromium.newContext(t)
		id := s.base + "/id/"
		c.run("open without a first-factor mobile", chromedp.Navigate(id), chromedp.WaitVisible(chromedp.CSS("h2")))
		c.expectDocument(401, id)
		if c.present("form") {
			t.Errorf("expected no form when the first factor gave no mobile")
		}
		if got := c.text("main"); !strings.Contains(got, "did not give a mobile number") {
			t.Errorf("expected the page to say no mobile was given, got %q", got)
		}
		c.shot("nomobile")
		c.expectClean("no mobile", id)

		c.setHeaders(map[string]string{"X-Auth-Phone": v2MobileIdentity})
		c.run("open with the first factor's mobile", chromedp.Navigate(id), chromedp.WaitVisible(chromedp.CSS("button[type=submit]")))
		c.expectDocument(401, id)
		if c.present("input[name=mobile]") {
			t.Errorf("expected no mobile input when the first factor gives the mobile")
		}
		if got := c.text("main p strong"); got != "+44 •••• ••••66" {
			t.Errorf("expected the masked mobile +44 •••• ••••66, got %q", got)
		}
		c.shot("identity")
		logged := len(s.proc.output())
		c.run("send the code",
			chromedp.Click(chromedp.CSS("button[type=submit]")),
			chromedp.WaitVisible(chromedp.CSS("input[name=otp]")))
		if c.present("input[value=restart]") || strings.Contains(c.text("main"), "Use a different number") {
			t.Errorf("expected no way to type another number on the first factor's mobile")
		}
		code := s.code(v2MobileIdentity, logged, englishSMS)
		s.verify(c, id, v2MobileIdentity, code, false)
		c.expectClean("first-factor mobile", id)
	})
	t.Logf("v2 browser flows took %s", time.Since(started).Round(time.Millisecond))
}
