package otpgate

import (
	"github.com/caddyotp/caddyotp/caddyotp/internal/httpx"
	"github.com/caddyotp/caddyotp/caddyotp/session"

	"github.com/caddyotp/caddyotp/caddyotp"

	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// Cookie names. On HTTPS the __Host- prefix makes the browser insist on Secure, Path=/ and
// no Domain, so no sibling subdomain can plant or widen the cookie.
const (
	sessionCookie   = "otp_session"
	challengeCookie = "otp_challenge"
	deviceCookie    = "otp_device" // a remembered device (`remember`)
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

// passedCookiesVar is the request variable in which a gate that lets a request through
// keeps the Cookie header as the browser sent it, before it removed the gate's cookies for
// the upstream: a later otp_gate on the same request (a stricter one on a sub-path, as in
// Caddyfile.example) reads its cookies there. It holds tokens; only gates read it.
const passedCookiesVar = "otp_gate_cookies"

// cookieValue finds a cookie without parsing all of them (this is on every gated request):
// in the Cookie header, else where a gate before this one kept it.
func cookieValue(r *http.Request, name string) string {
	if v, ok := findCookie(r.Header["Cookie"], name); ok {
		return v
	}
	if lines, ok := caddyhttp.GetVar(r.Context(), passedCookiesVar).([]string); ok {
		v, _ := findCookie(lines, name)
		return v
	}
	return ""
}

func findCookie(lines []string, name string) (string, bool) {
	for _, line := range lines {
		for len(line) > 0 {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimSpace(part)
			if len(part) > len(name) && part[len(name)] == '=' && part[:len(name)] == name {
				return part[len(name)+1:], true
			}
		}
	}
	return "", false
}

// removeCookies drops the named cookies from the Cookie header the upstream sees, and
// reports whether there were any.
func removeCookies(r *http.Request, names ...string) bool {
	lines := r.Header["Cookie"]
	if len(lines) == 0 {
		return false
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
		return false
	}
	if len(kept) == 0 {
		r.Header.Del("Cookie")
		return true
	}
	r.Header["Cookie"] = []string{strings.Join(kept, "; ")}
	return true
}

// setCookie sets the gate cookie base (sessionCookie, challengeCookie or deviceCookie) with the
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

func (g *Gate) setDeviceCookie(w http.ResponseWriter, r *http.Request, token string, expires int64) {
	g.setCookie(w, r, deviceCookie, token, int(expires-time.Now().Unix()))
}

// clearCookie removes the gate cookie base (sessionCookie, challengeCookie or deviceCookie).
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
