package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/caddyotp/caddyotp/internal/testnet"
)

// v2Languages are the languages of the gate's pages (SPEC, "The gate, version 2").
var v2Languages = []string{"en", "de", "fr", "es", "pt", "it", "nl"}

const v2MobileAxe = "+447400123468"

// axeState is one page state of the gate, reached by a URL and the cookies it is sent with.
type axeState struct {
	name    string
	url     string
	cookies []*network.Cookie
	headers map[string]string // besides Accept-Language
	wait    string            // a selector the state shows
	status  int64
	then    func(b *browser) // what to do once it shows, to reach the state; nil for nothing
}

// TestV2AxeEveryPageState runs axe-core on every page state the gate's version 2 added,
// in each of the seven languages (by Accept-Language), at phone and desktop width: the
// mobile step, the code step with "remember this device", the code step with an error,
// step-up, the first factor's mobile, no mobile from the first factor, sign-out with the
// device and "everywhere", and the store being down. The states come from cookies taken
// once, so one browser does it all
// and the languages need no SMS.
func TestV2AxeEveryPageState(t *testing.T) {
	t.Parallel()
	s := startV2Site(t, "store memory", fmt.Sprintf(`	route {
		otp_gate /typed/* login {
			allow %[1]s
			remember 30d
			title "Acme admin"
		}
		otp_gate /step/* login {
			allow %[1]s
			remember 30d
			max_age 1m
			title "Acme admin"
		}
		otp_gate /id/* login {
			mobile {http.request.header.X-Auth-Phone}
			allow %[1]s
			title "Acme admin"
		}
		%[2]s
	}`, v2MobileAxe, v2Upstream))
	// The same realm and secret on a Redis nobody listens at: every session gets 503.
	down := startV2Site(t, fmt.Sprintf("store redis {\n\t\t\taddress 127.0.0.1:%d\n\t\t}", testnet.FreePort(t)), fmt.Sprintf(`	route {
		otp_gate /typed/* login {
			allow %s
			remember 30d
			title "Acme admin"
		}
		%s
	}`, v2MobileAxe, v2Upstream))
	typed := s.base + "/typed/"

	// The cookies: a challenge at the code step, a remembered device, and a session that
	// device renewed (no verification time, so /step/ asks for a fresh code).
	started := time.Now()
	b := newChromium(t).newContext(t)
	code := s.toCodeStep(b, typed, v2MobileAxe, englishSMS)
	challenge := b.cookie(s.base, "otp_challenge")
	s.verify(b, typed, v2MobileAxe, code, true)
	device := b.cookie(s.base, "otp_device")
	b.clearCookies()
	b.setCookies(s.base, device)
	b.run("renew a session from the device", chromedp.Navigate(typed), chromedp.WaitVisible(chromedp.CSS("#mobile")))
	renewed := b.cookie(s.base, "otp_session")

	wrongCode := func(b *browser) {
		b.run("type a code too short", chromedp.SendKeys(chromedp.CSS("input[name=otp]"), "12"))
		b.run("verify", chromedp.Click(chromedp.CSS("form:has(input[name=otp]) button[type=submit]")),
			chromedp.WaitVisible(chromedp.CSS("#error")))
	}
	states := []axeState{
		{name: "mobile", url: typed, wait: "input[name=mobile]", status: 401},
		{name: "code with remember", url: typed, cookies: []*network.Cookie{challenge}, wait: "input[name=remember]", status: 401},
		{name: "code with an error", url: typed, cookies: []*network.Cookie{challenge}, wait: "input[name=otp]", status: 401, then: wrongCode},
		{name: "stepup", url: s.base + "/step/", cookies: []*network.Cookie{renewed}, wait: "main p strong", status: 401},
		{name: "identity", url: s.base + "/id/", headers: map[string]string{"X-Auth-Phone": v2MobileAxe}, wait: "main p strong", status: 401},
		{name: "nomobile", url: s.base + "/id/", wait: "main p", status: 401},
		{name: "logout with device and everywhere", url: typed + ".otp/logout", cookies: []*network.Cookie{renewed, device},
			wait: "form:has(input[name=everywhere]) button", status: 200},
		{name: "unavailable", url: down.base + "/typed/", cookies: []*network.Cookie{renewed}, wait: "main p", status: 503},
	}
	for _, lang := range v2Languages {
		for _, st := range states {
			step := lang + " " + st.name
			b.clearCookies()
			if len(st.cookies) > 0 {
				b.setCookies(s.base, st.cookies...)
			}
			headers := map[string]string{"Accept-Language": lang}
			for k, v := range st.headers {
				headers[k] = v
			}
			b.setHeaders(headers)
			b.run("open "+step, chromedp.Navigate(st.url), chromedp.WaitVisible(chromedp.CSS(st.wait)))
			if st.then != nil {
				st.then(b)
			}
			b.expectDocument(st.status, st.url)
			if got := b.pageLang(); got != lang {
				t.Errorf("%s: expected <html lang=%s>, got %q", step, lang, got)
			}
			b.expectAccessible(step)
		}
	}
	t.Logf("axe on %d states in %d languages took %s", len(states), len(v2Languages), time.Since(started).Round(time.Millisecond))
}
