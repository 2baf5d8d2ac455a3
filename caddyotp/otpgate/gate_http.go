package otpgate

import (
	"github.com/caddyotp/caddyotp/caddyotp/internal/httpx"
	"github.com/caddyotp/caddyotp/caddyotp/session"

	"github.com/caddyotp/caddyotp/caddyotp"

	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"html/template"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddyotp/caddyotp/caddyotp/internal/phone"
)

// Cookie names. On HTTPS the __Host- prefix makes the browser insist on Secure, Path=/ and
// no Domain, so no sibling subdomain can plant or widen the cookie.
const (
	sessionCookie   = "otp_session"
	challengeCookie = "otp_challenge"
	// The secure names, spelled out so the hot path does not build them per request.
	hostSessionCookie   = "__Host-" + sessionCookie
	hostChallengeCookie = "__Host-" + challengeCookie
)

// secureCookies decides whether the gate's cookies on this request are Secure and carry the
// __Host- prefix. Every cookie name and attribute comes from it, so the name a cookie is
// set under is the name it is read and cleared under.
func (g *Gate) secureCookies(r *http.Request) bool {
	if g.SecureCookies || r.TLS != nil {
		return true
	}
	trusted, _ := caddyhttp.GetVar(r.Context(), caddyhttp.TrustedProxyVarKey).(bool)
	return trusted && forwardedHTTPS(r.Header)
}

// forwardedHTTPS reports whether the right-most X-Forwarded-Proto value is https: the
// value the nearest proxy wrote. A proxy that appends would leave a client's own
// "https" to the left of its "http".
func forwardedHTTPS(h http.Header) bool {
	lines := h.Values("X-Forwarded-Proto")
	if len(lines) == 0 {
		return false
	}
	last := lines[len(lines)-1]
	if i := strings.LastIndexByte(last, ','); i >= 0 {
		last = last[i+1:]
	}
	return strings.EqualFold(strings.TrimSpace(last), "https")
}

// cookieName is the name the cookie base (sessionCookie or challengeCookie) has on r.
func (g *Gate) cookieName(r *http.Request, base string) string {
	if !g.secureCookies(r) {
		return base
	}
	switch base {
	case sessionCookie:
		return hostSessionCookie
	case challengeCookie:
		return hostChallengeCookie
	}
	return "__Host-" + base
}

// cookieValue finds a cookie without parsing all of them (this is on every gated request).
func cookieValue(r *http.Request, name string) string {
	for _, line := range r.Header["Cookie"] {
		for len(line) > 0 {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimSpace(part)
			if len(part) > len(name) && part[len(name)] == '=' && part[:len(name)] == name {
				return part[len(name)+1:]
			}
		}
	}
	return ""
}

// removeCookies drops the named cookies from the Cookie header the upstream sees.
func removeCookies(r *http.Request, names ...string) {
	lines := r.Header["Cookie"]
	if len(lines) == 0 {
		return
	}
	var kept []string
	changed := false
	for _, line := range lines {
		for len(line) > 0 {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimSpace(part)
			drop := false
			for _, n := range names {
				if strings.HasPrefix(part, n+"=") {
					drop = true
					break
				}
			}
			if drop {
				changed = true
			} else if part != "" {
				kept = append(kept, part)
			}
		}
	}
	if !changed {
		return
	}
	if len(kept) == 0 {
		r.Header.Del("Cookie")
		return
	}
	r.Header["Cookie"] = []string{strings.Join(kept, "; ")}
}

// setCookie sets the gate cookie base (sessionCookie or challengeCookie) with the
// attributes every gate cookie has; a negative maxAge clears it.
func (g *Gate) setCookie(w http.ResponseWriter, r *http.Request, base, value string, maxAge int) {
	secure := g.secureCookies(r)
	name := base
	if secure {
		name = "__Host-" + base
	}
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: secure,
		SameSite: http.SameSiteLaxMode, MaxAge: maxAge})
}

func (g *Gate) setSessionCookie(w http.ResponseWriter, r *http.Request, c session.Session) error {
	token, err := g.app.SealSession(c)
	if err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	g.setCookie(w, r, sessionCookie, token, int(c.Expires-time.Now().Unix()))
	return nil
}

func (g *Gate) setChallengeCookie(w http.ResponseWriter, r *http.Request, c session.Challenge) error {
	token, err := g.app.SealChallenge(c)
	if err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	g.setCookie(w, r, challengeCookie, token, int(caddyotp.ChallengeLife/time.Second))
	return nil
}

// clearCookie removes the gate cookie base (sessionCookie or challengeCookie).
func (g *Gate) clearCookie(w http.ResponseWriter, r *http.Request, base string) {
	g.setCookie(w, r, base, "", -1)
}

// selfURL is where the browser goes back to: the path and query it asked for, as Caddy
// received them before any rewrite. Nothing a client sends in headers or parameters is
// used; a leading "//" is collapsed so the target can never leave the site.
func selfURL(r *http.Request) string {
	u := r.URL
	if orig, ok := r.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request); ok && orig.URL != nil {
		u = orig.URL
	}
	target := "/" + strings.TrimLeft(u.EscapedPath(), "/\\")
	if u.RawQuery != "" {
		target += "?" + u.RawQuery
	}
	return target
}

// originalPrefix maps the path before /.otp/ of the (possibly rewritten) request to the
// path the browser used.
func originalPrefix(r *http.Request, base string) string {
	// base is unescaped: sent back raw, a %09 or %0a in the request would become a tab or
	// newline that browsers strip, so "/%09/evil.example/../../admin/%2eotp/logout" would
	// redirect to "//evil.example/…", another host.
	base = (&url.URL{Path: base}).EscapedPath()
	if orig, ok := r.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request); ok && orig.URL != nil {
		p := orig.URL.EscapedPath()
		if i := strings.Index(p, reservedSegment); i >= 0 {
			base = p[:i+1]
		}
	}
	return "/" + strings.TrimLeft(base, "/\\")
}

func (g *Gate) redirectToSelf(w http.ResponseWriter, r *http.Request) error {
	httpx.SetSecurityHeaders(w.Header())
	w.Header().Set("Location", selfURL(r))
	w.WriteHeader(http.StatusSeeOther)
	return nil
}

// seeOther stores the challenge and sends the browser back to the same URL (post, redirect,
// get: a reload never posts again).
func (g *Gate) seeOther(w http.ResponseWriter, r *http.Request, c session.Challenge) error {
	if err := g.setChallengeCookie(w, r, c); err != nil {
		return err
	}
	return g.redirectToSelf(w, r)
}

func isForm(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && (mt == "application/x-www-form-urlencoded")
}

func acceptsHTML(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

var headerNamePattern = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)

// normalizeHeaderName lower-cases a header name and reads '_' as '-'.
func normalizeHeaderName(s string) string {
	return strings.ToLower(strings.ReplaceAll(s, "_", "-"))
}

//go:embed pages/page.html pages/page.css
var pageFiles embed.FS

var (
	pageTemplate = template.Must(template.ParseFS(pageFiles, "pages/page.html"))
	pageCSS      = func() string { b, _ := pageFiles.ReadFile("pages/page.css"); return string(b) }()
	// pageCSP allows exactly the inline stylesheet, by its hash, and posts to this site.
	pageCSP = func() string {
		sum := sha256.Sum256([]byte(pageCSS))
		return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
			"'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
	}()
)

// page is what the page template shows.
type page struct {
	Step      string // mobile, identity, code, logout, unavailable
	Title     string
	Heading   string
	Error     string
	Notice    string
	CSRF      string
	Mobile    string
	Masked    string
	Length    int
	CanResend bool
	ResendIn  int
	Identity  bool
	CSS       template.CSS
}

// renderChallenge stores the challenge and shows its current step.
func (g *Gate) renderChallenge(w http.ResponseWriter, r *http.Request, status int, c session.Challenge, now time.Time, msg pageMsg) error {
	if err := g.setChallengeCookie(w, r, c); err != nil {
		return err
	}
	p := page{Title: g.Title, Error: msg.Error, Notice: msg.Notice, CSRF: c.CSRF(), Mobile: msg.Mobile,
		Length: g.tmpl.Length, Identity: g.User != ""}
	switch {
	case c.Mobile != "":
		p.Step, p.Heading = "code", "Enter your code"
		p.Masked = maskForPage(c.Mobile)
		p.ResendIn = g.resendWait(c, now)
		p.CanResend = p.ResendIn == 0
	case g.User != "":
		p.Step, p.Heading = "identity", "Confirm it's you"
		mobile := g.Mobiles[g.currentUser(r)]
		if mobile == "" {
			mobile = g.app.DecoyMobile(g.currentUser(r))
		}
		p.Masked = maskForPage(mobile)
	default:
		p.Step, p.Heading = "mobile", "Sign in with your phone"
	}
	return g.render(w, r, status, p)
}

func maskForPage(e164 string) string {
	n, err := phone.Parse(e164)
	if err != nil {
		return "+•• •••• ••••"
	}
	return n.MaskForPage()
}

func (g *Gate) render(w http.ResponseWriter, r *http.Request, status int, p page) error {
	p.CSS = template.CSS(pageCSS)
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, p); err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	h := w.Header()
	httpx.SetSecurityHeaders(h)
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return nil
	}
	_, err := w.Write(buf.Bytes())
	return err
}
