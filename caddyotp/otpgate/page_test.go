package otpgate

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// examplePage is the repo's example of one's own page.
func examplePage(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs("../../examples/otp-page.html")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestOwnPage signs in, remembers the device and signs out through examples/otp-page.html,
// posting back only what its forms hold; the CSP allows its <style> by hash.
func TestOwnPage(t *testing.T) {
	path := examplePage(t)
	s := startSite(t, loginTemplate, fmt.Sprintf(`otp_gate /admin/* login {
		allow +447400123456
		remember 30d
		title "Acme Ops"
		page %s
	}`, path))
	u := s.base + "/admin/"
	b := newBrowser(t)
	b.header = map[string]string{"Accept-Language": "nl"}

	p := b.get(t, u)
	if p.status != 401 || !strings.Contains(p.body, `<main class="card">`) || !strings.Contains(p.body, `<p class="brand">Acme Ops</p>`) {
		t.Fatalf("expected 401 and the example page, got %d %s", p.status, p.body)
	}
	// The browser hashes the style element as served (html/template drops CSS comments).
	style := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindStringSubmatch(p.body)
	if style == nil || !strings.Contains(style[1], "font:17px/1.5 Georgia") {
		t.Fatalf("expected the example page's <style> element, got %s", p.body)
	}
	sum := sha256.Sum256([]byte(style[1]))
	styleHash := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	checkLanguage(t, p, "nl", "the example page")
	if !strings.Contains(p.body, "Inloggen met je telefoon") {
		t.Errorf("expected the Dutch heading, got %s", p.body)
	}
	csp := p.header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "style-src ") || !strings.Contains(csp, styleHash) || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("expected a CSP with the page's style hash %s, got %q", styleHash, csp)
	}
	for _, h := range []string{"X-Content-Type-Options", "Referrer-Policy", "Cache-Control"} {
		if p.header.Get(h) == "" {
			t.Errorf("expected the gate's %s header on one's own page", h)
		}
	}

	// Send: the form's hidden fields and its tel input.
	f := p.form(t, `type="tel"`)
	form := f.hidden
	form.Set(f.input("type", "tel"), gbMobile)
	before := s.sns.Count()
	if p = b.post(t, u, form); p.status != 303 {
		t.Fatalf("expected 303 after the page's send form, got %d %s", p.status, p.body)
	}
	code := waitCode(t, s.sns, gbMobile, before)

	// Verify: the hidden fields, the code input and the remember checkbox.
	p = b.get(t, u)
	f = p.form(t, `autocomplete="one-time-code"`)
	form = f.hidden
	form.Set(f.input("autocomplete", "one-time-code"), code)
	remember := f.input("type", "checkbox")
	if remember == "" {
		t.Fatalf("expected the remember checkbox in the example page, got %s", p.body)
	}
	form.Set(remember, "1")
	p = b.post(t, u, form)
	if p.status != 303 {
		t.Fatalf("expected 303 after the page's verify form, got %d %s", p.status, p.body)
	}
	if _, ok := p.setCookies()[deviceCookie]; !ok {
		t.Errorf("expected the device cookie from the page's checkbox, got %q", p.header.Values("Set-Cookie"))
	}
	through(t, b, u, gbMobile)

	// Sign out through the page: the plain form, then the everywhere form.
	p = b.get(t, s.base+"/admin/.otp/logout")
	if p.status != 200 || !strings.Contains(p.body, `<main class="card">`) || !strings.Contains(p.header.Get("Content-Security-Policy"), styleHash) {
		t.Fatalf("expected the example page's sign-out, got %d %s", p.status, p.body)
	}
	f = p.form(t, `type="checkbox"`)
	form = f.hidden
	form.Set(f.input("type", "checkbox"), "1")
	if p = b.post(t, s.base+"/admin/.otp/logout", form); p.status != 303 {
		t.Fatalf("expected 303 after the page's sign-out form, got %d %s", p.status, p.body)
	}
	challenged(t, s, b, u, "signed out and forgotten through one's own page")
}

// TestOwnPageErrors: a page that does not parse, names a field that does not exist, or is
// missing, fails at provision, naming the setting, the file and the line.
func TestOwnPageErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	syntax := write("syntax.html", "<!doctype html>\n<title>{{.Title}}</title>\n<p>{{if}}x{{end}}</p>\n")
	unknown := write("unknown.html", "<!doctype html>\n<title>{{.Title}}</title>\n\n<p>{{.Nope}}</p>\n")
	stepOnly := write("step.html", "<!doctype html>\n{{if eq .Step \"stepup\"}}{{.Fields.Nope}}{{end}}\n")
	for _, tt := range []struct {
		name string
		path string
		want []string
	}{
		{"syntax error", syntax, []string{"page " + syntax, "syntax.html:3", "missing value for if"}},
		{"unknown field", unknown, []string{"page " + unknown, "unknown.html:4", "Nope"}},
		{"unknown field in one step", stepOnly, []string{"page " + stepOnly, "step.html:2", "Nope"}},
		{"missing file", filepath.Join(dir, "absent.html"), []string{"page: ", "absent.html", "no such file"}},
	} {
		s := newSite(t)
		err := provisionError(t, s.caddyfile(loginTemplate, fmt.Sprintf(`otp_gate /admin/* login {
		allow +447400123456
		page %s
	}`, tt.path)))
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: expected an error with %q, got %v", tt.name, w, err)
			}
		}
	}
	// The example page itself loads.
	if _, err := loadPage(examplePage(t)); err != nil {
		t.Errorf("expected the example page to load, got %v", err)
	}
}

// TestOwnPageStyleHash: the CSP hashes each <style> element as the page serves it: after
// html/template dropped its CSS comments, and not fooled by a template comment that
// mentions <style>.
func TestOwnPageStyleHash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "page.html")
	src := "{{/* the <style> below is allowed by hash */}}<!doctype html>\n<style>/* brand */ body{color:#123} // x\n</style>\n" +
		"{{if eq .Step \"logout\"}}<style>p{margin:0}</style>{{end}}<h1>{{.Heading}}</h1>\n"
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := loadPage(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []string{"mobile", "logout"} {
		var out strings.Builder
		if err := p.tmpl.Execute(&out, PageData{Step: step, Fields: formFields, T: catalogues["en"].texts}); err != nil {
			t.Fatal(err)
		}
		for _, m := range styleElement.FindAllStringSubmatch(out.String(), -1) {
			if h := styleHash(m[1]); !strings.Contains(p.csp, h) {
				t.Errorf("%s: expected the CSP to allow the served style %q (%s), got %q", step, m[1], h, p.csp)
			}
		}
	}
	if strings.Count(p.csp, "'sha256-") != 3 {
		t.Errorf("expected the built-in style and the page's two, got %q", p.csp)
	}
}
