package otpgate

import (
	"context"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/internal/snsdouble"
)

// waitSMS waits for the SMS the gate sends in the background and returns it.
func waitSMS(t *testing.T, d *snsdouble.Double, mobile string, before int) snsdouble.Publish {
	t.Helper()
	pubs, err := d.WaitFor(before+1, 5*time.Second)
	if err != nil {
		t.Fatalf("expected an SMS to %s: %v", mobile, err)
	}
	p := pubs[len(pubs)-1]
	if p.PhoneNumber != mobile {
		t.Fatalf("expected an SMS to %s, got one to %s", mobile, p.PhoneNumber)
	}
	return p
}

// TestLanguages: the page follows Accept-Language, and so does the SMS when the template
// has a message in that language; `lang` forces one whatever the browser asks.
func TestLanguages(t *testing.T) {
	s := startSite(t, `template login {
			resend 0s
			message "Code {code}, for {minutes} minutes."
			message fr "{code} est votre code. Il expire dans {minutes} minutes."
			message de "{code} ist Ihr Code. Er läuft in {minutes} Minuten ab."
		}`, `otp_gate /admin/* login {
		allow +447400123456
	}
	otp_gate /de/* login {
		allow +447400123456
		lang de
	}`)
	for _, tt := range []struct {
		path, accept, lang, heading, codeHeading string
		sms                                      *regexp.Regexp
	}{
		{"/admin/", "fr-CH, fr;q=0.9, en;q=0.8", "fr", "Connectez-vous avec votre téléphone", "Saisissez votre code",
			regexp.MustCompile(`^\d{6} est votre code\. Il expire dans 5 minutes\.$`)},
		{"/admin/", "", "en", "Sign in with your phone", "Enter your code",
			regexp.MustCompile(`^Code \d{6}, for 5 minutes\.$`)},
		{"/admin/", "it", "it", "Accedi con il tuo telefono", "Inserisci il codice",
			regexp.MustCompile(`^Code \d{6}, for 5 minutes\.$`)}, // no Italian message: the plain one
		{"/de/", "fr", "de", "Mit Ihrem Handy anmelden", "Code eingeben",
			regexp.MustCompile(`^\d{6} ist Ihr Code\. Er läuft in 5 Minuten ab\.$`)},
	} {
		b := newBrowser(t)
		if tt.accept != "" {
			b.header = map[string]string{"Accept-Language": tt.accept}
		}
		u := s.base + tt.path
		p := b.get(t, u)
		checkLanguage(t, p, tt.lang, tt.path+" "+tt.accept)
		if !strings.Contains(p.body, tt.heading) {
			t.Errorf("%s %q: expected the heading %q, got %s", tt.path, tt.accept, tt.heading, p.body)
		}
		before := s.sns.Count()
		b.post(t, u, url.Values{"_otp_step": {"send"}, "_otp_csrf": {p.csrf(t)}, "mobile": {gbMobile}})
		sms := waitSMS(t, s.sns, gbMobile, before)
		if !tt.sms.MatchString(sms.Message) {
			t.Errorf("%s %q: expected an SMS matching %s, got %q", tt.path, tt.accept, tt.sms, sms.Message)
		}
		p = b.get(t, u)
		checkLanguage(t, p, tt.lang, tt.path+" "+tt.accept+" code step")
		if !strings.Contains(p.body, tt.codeHeading) {
			t.Errorf("%s %q: expected the heading %q, got %s", tt.path, tt.accept, tt.codeHeading, p.body)
		}
		p = b.post(t, u, url.Values{"_otp_step": {"verify"}, "_otp_csrf": {p.csrf(t)}, "otp": {gateCode.FindString(sms.Message)}})
		if p.status != 303 {
			t.Fatalf("expected 303 after the right code, got %d %s", p.status, p.body)
		}
	}
}

// checkLanguage checks a page's language: the html element, Content-Language and Vary.
func checkLanguage(t *testing.T, p shown, lang, what string) {
	t.Helper()
	if !strings.Contains(p.body, `<html lang="`+lang+`">`) {
		t.Errorf("%s: expected <html lang=%q>, got %.200s", what, lang, p.body)
	}
	if got := p.header.Get("Content-Language"); got != lang {
		t.Errorf("%s: expected Content-Language %s, got %q", what, lang, got)
	}
	if !strings.Contains(strings.Join(p.header.Values("Vary"), ","), "Accept-Language") {
		t.Errorf("%s: expected Vary: Accept-Language, got %q", what, p.header.Values("Vary"))
	}
}

// TestEveryStepInEveryLanguage renders each step of the pages in each language, and checks
// that the page is in that language and shows no fmt error and no catalogue key.
func TestEveryStepInEveryLanguage(t *testing.T) {
	_, app := newBenchGate(t)
	typed := stepGate(t, app, &Gate{AllowAny: true, Remember: caddy.Duration(30 * 24 * time.Hour), MaxAge: caddy.Duration(5 * time.Minute)})
	fromHeader := stepGate(t, app, &Gate{AllowAny: true, Mobile: "{http.request.header.X-Auth-Phone}"})
	realm := typed.tmpl.Name()
	now := time.Now()

	atCode := app.NewChallenge(realm, now)
	atCode.Mobile, atCode.SentAt = gbMobile, now.Unix()
	codeTok, _ := app.SealChallenge(atCode)
	fresh, _, _ := app.MintSession(realm, "", gbMobile, now, time.Hour)
	stale, _, _ := app.MintSession(realm, "", gbMobile, now.Add(-6*time.Minute), time.Hour)
	device, _, err := app.RememberDevice(context.Background(), realm, "", gbMobile, now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	steps := []struct {
		step, heading string
		status        int
		g             *Gate
		req           func() *http.Request
	}{
		{"mobile", "heading_mobile", 401, typed, func() *http.Request { return pageRequest("GET", "/", "", nil) }},
		{"code", "heading_code", 401, typed, func() *http.Request {
			return pageRequest("GET", "/", challengeCookie+"="+codeTok, nil)
		}},
		{"code with an error", "error_code_format", 401, typed, func() *http.Request {
			form := url.Values{fieldStep: {"verify"}, fieldCSRF: {atCode.CSRF()}, fieldCode: {"12"}}
			return pageRequest("POST", "/", challengeCookie+"="+codeTok, form)
		}},
		{"stepup", "heading_stepup", 401, typed, func() *http.Request {
			return pageRequest("GET", "/", sessionCookie+"="+stale, nil)
		}},
		{"identity", "heading_identity", 401, fromHeader, func() *http.Request {
			r := pageRequest("GET", "/", "", nil)
			r.Header.Set("X-Auth-Phone", gbMobile)
			return r
		}},
		{"nomobile", "no_mobile_text", 401, fromHeader, func() *http.Request { return pageRequest("GET", "/", "", nil) }},
		{"logout", "everywhere_hint", 200, typed, func() *http.Request {
			return pageRequest("GET", "/.otp/logout", sessionCookie+"="+fresh+"; "+deviceCookie+"="+device, nil)
		}},
		{"refused", "error_cross_site", 403, typed, func() *http.Request {
			r := pageRequest("POST", "/", "", url.Values{fieldStep: {"send"}})
			r.Header.Set("Sec-Fetch-Site", "cross-site")
			return r
		}},
	}
	for _, lang := range Languages {
		cat := catalogues[lang]
		for _, st := range steps {
			r := st.req()
			r.Header.Set("Accept-Language", lang+";q=0.9, ja;q=0.5")
			w := httptest.NewRecorder()
			if err := st.g.ServeHTTP(w, r, okHandler); err != nil {
				t.Fatalf("%s %s: %v", lang, st.step, err)
			}
			raw := w.Body.String()
			p := shown{status: w.Code, header: w.Header(), body: html.UnescapeString(raw)}
			what := lang + " " + st.step
			if p.status != st.status {
				t.Errorf("%s: expected %d, got %d", what, st.status, p.status)
			}
			checkLanguage(t, p, lang, what)
			want := cat.t(st.heading)
			if st.heading == "error_code_format" {
				want = cat.t(st.heading, typed.tmpl.Length)
			}
			text := visibleText(raw)
			if !strings.Contains(text, want) {
				t.Errorf("%s: expected %q on the page, got %s", what, want, text)
			}
			for _, bad := range []string{"%!", "<no value>", "MISSING", "EXTRA"} {
				if strings.Contains(p.body, bad) {
					t.Errorf("%s: expected no %q on the page, got %s", what, bad, p.body)
				}
			}
			for key := range catalogues["en"].texts {
				if regexp.MustCompile(`\b` + key + `\b`).MatchString(text) {
					t.Errorf("%s: expected no catalogue key on the page, found %q in %s", what, key, text)
				}
			}
		}
	}
}

// stepGate sets up g over app as Provision would.
func stepGate(t *testing.T, app *caddyotp.App, g *Gate) *Gate {
	t.Helper()
	g.logger = zap.NewNop()
	g.setup(app)
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	return g
}

// pageRequest is a browser's request to a gate outside Caddy, with Caddy's replacer.
func pageRequest(method, target, cookie string, form url.Values) *http.Request {
	var r *http.Request
	if form != nil {
		r = httptest.NewRequest(method, target, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		r = httptest.NewRequest(method, target, nil)
	}
	r.Header.Set("Accept", "text/html")
	if cookie != "" {
		r.Header.Set("Cookie", cookie)
	}
	caddyhttp.NewTestReplacer(r)
	return r
}

var (
	styleOrScript = regexp.MustCompile(`(?is)<(style|script)[^>]*>.*?</(style|script)>`)
	tag           = regexp.MustCompile(`<[^>]*>`)
	blanks        = regexp.MustCompile(`\s+`)
)

// visibleText is what a page shows: its text without tags, entities decoded.
func visibleText(page string) string {
	s := styleOrScript.ReplaceAllString(page, " ")
	s = tag.ReplaceAllString(s, " ")
	return strings.TrimSpace(blanks.ReplaceAllString(html.UnescapeString(s), " "))
}
