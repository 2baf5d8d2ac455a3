package otpgate

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/internal/httpx"
	"github.com/caddyotp/caddyotp/caddyotp/internal/phone"
	"github.com/caddyotp/caddyotp/caddyotp/session"
)

// The names of the form fields a page posts back; a page of your own (`page`) must use them.
const (
	fieldStep       = "_otp_step"  // send, resend, verify or restart
	fieldCSRF       = "_otp_csrf"  // the page's CSRF value, in every form
	fieldMobile     = "mobile"     // the typed mobile (step "mobile")
	fieldCode       = "otp"        // the code (step "code")
	fieldRemember   = "remember"   // "1" to remember this device (step "code", with `remember`)
	fieldForget     = "forget"     // "1" to also forget this device (step "logout")
	fieldEverywhere = "everywhere" // "1" to sign out everywhere (step "logout")
)

// Fields are the form field names, given to every page as .Fields.
type Fields struct {
	Step, CSRF, Mobile, Code, Remember, Forget, Everywhere string
}

var formFields = Fields{fieldStep, fieldCSRF, fieldMobile, fieldCode, fieldRemember, fieldForget, fieldEverywhere}

// PageData is what a page template is given; README, "Your own page", is its manual.
type PageData struct {
	Lang    string // the page's language: en, de, fr, es, pt, it or nl
	Title   string // the gate's `title`
	Heading string // what this step asks, in the page's language
	// Step is one of: mobile (type a mobile), identity (a known mobile, masked, and a send
	// button), stepup (the same, for a session that needs a fresh code), nomobile (the first
	// factor gave no mobile: no form), code (type the code), logout (sign out), unavailable
	// (the store is down: no form), refused (a cross-site post: no form).
	Step         string
	Error        string        // an error to show, in the page's language; "" when none
	AttemptsLeft int           // after a wrong code, the attempts left; else 0
	Lead         template.HTML // the step's opening sentence (identity, stepup, nomobile, unavailable), masked mobile in <strong>
	Masked       string        // the mobile, masked: +44 •••• ••••56
	Mobile       string        // the mobile typed, to show again after an error
	Length       int           // digits in a code
	CodeLabel    template.HTML // the code input's label, the masked mobile kept on one line
	Remember     string        // the remember-this-device checkbox's label; "" when `remember` is off
	CanResend    bool          // a new code may be asked for now
	ResendText   string        // else, when it may
	CanRestart   bool          // the visitor typed the mobile and may type another
	Device       bool          // logout: this browser has a remembered device to forget
	Everywhere   bool          // logout: "sign out everywhere" is offered
	CSRF         string        // post it back in every form as .Fields.CSRF
	Fields       Fields        // the form field names
	T            map[string]string
	CSS          template.CSS // the built-in stylesheet; allowed in a <style> element
}

//go:embed pages/page.html pages/page.css
var pageFiles embed.FS

var pageCSS = func() string { b, _ := pageFiles.ReadFile("pages/page.css"); return string(b) }()

// pageTemplate is a page and its Content-Security-Policy.
type pageTemplate struct {
	tmpl *template.Template
	csp  string
}

var builtinPage = &pageTemplate{
	tmpl: template.Must(template.ParseFS(pageFiles, "pages/page.html")),
	csp:  pageCSP(),
}

// pageCSP allows the built-in stylesheet and the static styles given, by their hashes, and
// posts to this site.
func pageCSP(styles ...string) string {
	hashes := []string{styleHash(pageCSS)}
	for _, s := range styles {
		hashes = append(hashes, styleHash(s))
	}
	return "default-src 'none'; style-src " + strings.Join(hashes, " ") +
		"; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
}

func styleHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// styleElement finds <style> elements and their content.
var styleElement = regexp.MustCompile(`(?is)<style[^>]*>(.*?)</style>`)

// sampleSteps are the steps a page of one's own is tried with at load.
var sampleSteps = []string{"mobile", "identity", "stepup", "nomobile", "code", "logout", "unavailable", "refused"}

// loadPage parses a page of one's own; an error names the file (and the line, from
// html/template). It is executed once per step with sample data, so that a field it
// names that does not exist fails at start, not on a visitor. The <style> elements of
// those renderings are allowed by hash: the rendered text, since html/template drops
// comments from CSS, and a template comment may itself mention "<style>".
func loadPage(path string) (*pageTemplate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("page: %w", err)
	}
	t, err := template.New(filepath.Base(path)).Option("missingkey=error").Parse(string(b))
	if err != nil {
		return nil, fmt.Errorf("page %s: %w", path, err)
	}
	seen := map[string]bool{pageCSS: true}
	var styles []string
	for _, step := range sampleSteps {
		sample := PageData{Lang: "en", Step: step, Fields: formFields, T: catalogues["en"].texts, Length: 6,
			CSS: template.CSS(pageCSS)}
		var out bytes.Buffer
		if err := t.Execute(&out, sample); err != nil {
			return nil, fmt.Errorf("page %s: %w", path, err)
		}
		for _, m := range styleElement.FindAllStringSubmatch(out.String(), -1) {
			if !seen[m[1]] {
				seen[m[1]] = true
				styles = append(styles, m[1])
			}
		}
	}
	return &pageTemplate{tmpl: t, csp: pageCSP(styles...)}, nil
}

// renderChallenge stores the challenge and shows its current step.
func (g *Gate) renderChallenge(w http.ResponseWriter, r *http.Request, status int, c session.Challenge, now time.Time, msg pageMsg) error {
	if err := g.setChallengeCookie(w, r, c); err != nil {
		return err
	}
	cat := g.pageLanguage(r)
	p := page{CSRF: c.CSRF()}
	if c.Mobile != "" {
		p.Step, p.Heading = "code", "heading_code"
		p.Masked = maskForPage(c.Mobile)
		p.ResendIn = g.resendWait(c, now)
		p.CanResend = p.ResendIn == 0
		kind, _, _ := g.subject(r, now)
		p.CanRestart = kind == subjectTyped
		return g.render(w, r, status, p, msg)
	}
	kind, mobile, _ := g.subject(r, now)
	p.Step, p.Heading = kind, "heading_"+kind
	switch kind {
	case subjectStepUp:
		p.Masked = maskForPage(mobile)
		p.Lead = withMobile(cat.t("stepup_text", mobileMark), p.Masked, "strong")
	case subjectIdentity:
		p.Masked = maskForPage(mobile)
		p.Lead = withMobile(cat.t("identity_text", mobileMark), p.Masked, "strong")
	case subjectNone:
		p.Heading = "heading_identity"
		p.Lead = template.HTML(template.HTMLEscapeString(cat.t("no_mobile_text")))
	}
	return g.render(w, r, status, p, msg)
}

// mobileMark stands for the masked mobile in a text until withMobile puts it in.
const mobileMark = "\x00"

// withMobile escapes text and puts the masked mobile where mobileMark is, in an element
// (strong or span) that keeps it on one line.
func withMobile(text, masked, element string) template.HTML {
	before, after, _ := strings.Cut(text, mobileMark)
	return template.HTML(template.HTMLEscapeString(before) + "<" + element + ` class="nowrap">` +
		template.HTMLEscapeString(masked) + "</" + element + ">" + template.HTMLEscapeString(after))
}

func maskForPage(e164 string) string {
	n, err := phone.Parse(e164)
	if err != nil {
		return "+•• •••• ••••"
	}
	return n.MaskForPage()
}

// page is what a handler decides to show; render makes the PageData in the page's language.
type page struct {
	Step, Heading         string // Heading is a catalogue key
	CSRF, Masked          string
	Lead                  template.HTML
	ResendIn              int
	CanResend, CanRestart bool
	Device, Everywhere    bool
}

func (g *Gate) render(w http.ResponseWriter, r *http.Request, status int, p page, msg pageMsg) error {
	cat := g.pageLanguage(r)
	d := PageData{Lang: cat.lang, Title: g.Title, Heading: cat.t(p.Heading), Step: p.Step, Lead: p.Lead, Masked: p.Masked,
		Mobile: msg.mobile, Length: g.tmpl.Length, CanResend: p.CanResend, CanRestart: p.CanRestart,
		Device: p.Device, Everywhere: p.Everywhere, CSRF: p.CSRF, Fields: formFields, T: cat.texts, CSS: template.CSS(pageCSS)}
	if msg.err != "" {
		d.Error = cat.t(msg.err, msg.args...)
		if msg.err == "error_code_wrong_many" {
			d.AttemptsLeft = msg.args[0].(int)
		} else if msg.err == "error_code_wrong_one" {
			d.AttemptsLeft = 1
		}
	}
	if p.Step == "code" {
		d.CodeLabel = withMobile(cat.t("code_label", g.tmpl.Length, mobileMark), p.Masked, "span")
		if g.Remember > 0 {
			d.Remember = cat.t("remember", cat.duration(time.Duration(g.Remember)))
		}
		if !p.CanResend {
			d.ResendText = cat.t("resend_in", p.ResendIn)
		}
	}
	if p.Step == "unavailable" {
		d.Lead = template.HTML(template.HTMLEscapeString(cat.t("unavailable_text")))
	}
	var buf bytes.Buffer
	if err := g.page.tmpl.Execute(&buf, d); err != nil {
		g.logger.Error("gate page failed", zap.String("page", g.Page), zap.Error(err))
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	h := w.Header()
	httpx.SetSecurityHeaders(h)
	h.Set("Content-Security-Policy", g.page.csp)
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Language", cat.lang)
	h.Add("Vary", "Accept-Language")
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return nil
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// crossOrigin tells a form post another site made a browser send (Sec-Fetch-Site, or an
// Origin that is not the Host); requests from non-browser clients carry neither and pass.
var crossOrigin = http.NewCrossOriginProtection()

// refuseCrossOrigin answers a cross-site form post: 403, and no cookie is set or cleared,
// so another site can neither sign a visitor out nor reset a challenge in progress.
func (g *Gate) refuseCrossOrigin(w http.ResponseWriter, r *http.Request) error {
	return g.render(w, r, http.StatusForbidden, page{Step: "refused", Heading: "heading_mobile"}, errorMsg("error_cross_site"))
}

func (g *Gate) unavailable(w http.ResponseWriter, r *http.Request, cause error) error {
	g.logger.Error("gate cannot check sessions or codes", zap.Error(cause))
	if acceptsHTML(r) {
		return g.render(w, r, http.StatusServiceUnavailable, page{Step: "unavailable", Heading: "heading_unavailable"}, pageMsg{})
	}
	httpx.SetSecurityHeaders(w.Header())
	return httpx.WriteError(w, caddyotp.StoreError(cause))
}
