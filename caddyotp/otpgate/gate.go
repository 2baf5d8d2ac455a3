// Package otpgate is the `otp_gate` handler (http.handlers.otp_gate): an SMS code in front
// of any route, with challenge pages and signed sessions, over the app's exported API only.
package otpgate

import (
	"github.com/caddyotp/caddyotp/caddyotp/session"

	"github.com/caddyotp/caddyotp/caddyotp"

	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddyotp/caddyotp/caddyotp/internal/phone"
)

func init() {
	caddy.RegisterModule(Gate{})
}

// clock is time.Now; tests move it.
var clock = time.Now

// reservedSegment is the path segment the gate keeps for itself inside what it protects.
const reservedSegment = "/.otp/"

// mobilePlaceholder is set to the verified mobile on every request the gate lets through,
// so that handlers after it (otp_dashboard) know a second factor vouched for the request.
const mobilePlaceholder = "http.otp.mobile"

// Gate is the `otp_gate` handler: requests without a verified session never reach the next
// handler. It answers:
//
//   - 401 with an HTML challenge page at the same URL, for GET/HEAD that accept text/html:
//     a mobile step (or, with `user`, the masked mobile and a send button), then a code step.
//   - 303 See Other to the same path and query, with the session cookie, after a right code.
//   - 401 `{"error":{"code":"otp_required",…}}` for every other request without a session.
//   - 403 with the challenge page again when a form's anti-CSRF token is missing or wrong;
//     403 without touching any cookie for a form post (sign-out too) that a browser marks as
//     sent from another site (`Sec-Fetch-Site`, or an `Origin` other than the Host).
//   - 503 when the store, or the revocation feed that sessions rely on, is down.
//   - `…/.otp/logout`: GET shows a sign-out button; POST ends the session on every instance
//     and answers 303 to the path before `/.otp/`.
//
// With a valid session the request goes on with the header named by Header set to the
// verified mobile, and the placeholder `{http.otp.mobile}` too (otp_dashboard reads it);
// client copies of that header (any case, `_` for `-`) are removed first, and the session
// cookie is removed from the Cookie header. A mobile that is not allowed
// gets the same pages and status as an allowed one, and no SMS: it goes through the same
// store steps (a code nobody is told is stored, see SendRequest.Decoy), so attempts left,
// the lock and a store outage read the same; codes are sent in the background, so the page
// does not wait for the provider either way.
type Gate struct {
	// The otp template for codes sent by this gate; its name is also the session's realm:
	// a session is good for every gate that uses the same template. Default: `default`
	Template string `json:"template,omitempty"`

	// The mobiles, in E.164, that may sign in. Default: none
	Allow []string `json:"allow,omitempty"`

	// Lets every valid mobile sign in (Caddyfile: `allow any`). Default: false
	AllowAny bool `json:"allow_any,omitempty"`

	// Binds the second factor to a first factor's user, as a placeholder such as
	// `{http.auth.user.id}` (set by basic_auth or forward_auth). The mobile then comes from
	// Mobiles, is shown masked and is never typed in; a session is valid only for the same
	// user. Default: none (the visitor types the mobile)
	User string `json:"user,omitempty"`

	// The mobile of each user, with User. A user without one gets the same page and no SMS.
	// Default: none
	Mobiles map[string]string `json:"mobiles,omitempty"`

	// Takes the mobile from a first factor, as a placeholder such as
	// `{http.request.header.X-Auth-Phone}` (set by forward_auth's `copy_headers`): the page
	// shows it masked with a send button, never an input; an empty or invalid value gets
	// the page without a send button. A session is valid only for the same mobile. `allow`
	// still applies (`allow any` accepts whatever mobile the first factor gives): only use
	// a placeholder that clients cannot set themselves. Default: none (the visitor types it)
	Mobile string `json:"mobile,omitempty"`

	// The absolute lifetime of a session, 1m to 24h (NIST SP 800-63B-4, AAL2). Default: 8h
	Session caddy.Duration `json:"session,omitempty"`

	// How long a session may go unused, 1m to 1h. Default: 30m
	Idle caddy.Duration `json:"idle,omitempty"`

	// Offers "Remember this device" on the code step, for this long, 1h to 30d. Ticked, a
	// right code also sets a device cookie (`otp_device`) bound to the realm, the mobile
	// and the user; when the session has lapsed, the device gets a new one without an SMS
	// while it is on record in the store and the mobile is still allowed. The sign-out page
	// then offers "Also forget this device" and "Sign out everywhere". Default: 0 (off)
	Remember caddy.Duration `json:"remember,omitempty"`

	// Step-up: a request whose session's code was verified longer ago than this gets the
	// code step again (same mobile, masked, with a send button); a right code refreshes the
	// verification time. A session a remembered device renewed never satisfies it. 1m up to
	// `session`. Default: 0 (off)
	MaxAge caddy.Duration `json:"max_age,omitempty"`

	// Forces the pages' language: en, de, fr, es, pt, it or nl. The page's language also
	// picks the template's `message <lang>` for the SMS. Default: the best match for the
	// browser's Accept-Language, else en
	Lang string `json:"lang,omitempty"`

	// A file to use instead of the built-in page, parsed as Go's html/template at start
	// (README, "Your own page", lists the fields it is given and what it must post back).
	// Static <style> elements in it are allowed by the page's Content-Security-Policy by
	// their hash. Default: the built-in page
	Page string `json:"page,omitempty"`

	// The request header that carries the verified mobile to the upstream. Default: `X-OTP-Mobile`
	Header string `json:"header,omitempty"`

	// The name shown on the pages. Default: the template's name
	Title string `json:"title,omitempty"`

	// Makes the gate's cookies Secure with the `__Host-` prefix on every request, for a
	// site that browsers only ever reach over HTTPS. Without it they are secure when the
	// request came over TLS, or from one of the server's `trusted_proxies` whose
	// right-most `X-Forwarded-Proto` is `https` (a TLS-terminating load balancer).
	// Default: false
	SecureCookies bool `json:"secure_cookies,omitempty"`

	app      *caddyotp.App
	tmpl     *caddyotp.Template
	allow    map[string]bool
	header   string
	headerLC string
	page     *pageTemplate
	logger   *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (Gate) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.otp_gate",
		New: func() caddy.Module { return new(Gate) },
	}
}

// Provision gets the otp app and fills in defaults.
func (g *Gate) Provision(ctx caddy.Context) error {
	g.logger = ctx.Logger()
	app, err := ctx.App("otp")
	if err != nil {
		return fmt.Errorf("loading the otp app: %w", err)
	}
	g.setup(app.(*caddyotp.App))
	if g.Page != "" {
		p, err := loadPage(g.Page)
		if err != nil {
			return err
		}
		g.page = p
	}
	return nil
}

// setup fills in defaults and binds the gate to app.
func (g *Gate) setup(app *caddyotp.App) {
	g.app = app
	g.page = builtinPage
	if g.Template == "" {
		g.Template = caddyotp.DefaultTemplate
	}
	g.tmpl = g.app.Template(g.Template)
	if g.Session == 0 {
		g.Session = caddy.Duration(caddyotp.DefaultSessionLife)
	}
	if g.Idle == 0 {
		g.Idle = caddy.Duration(caddyotp.DefaultIdle)
	}
	if g.Header == "" {
		g.Header = "X-OTP-Mobile"
	}
	g.header = http.CanonicalHeaderKey(g.Header)
	g.headerLC = normalizeHeaderName(g.Header)
	if g.Title == "" {
		g.Title = g.Template
	}
	repl := caddy.NewReplacer()
	g.allow = make(map[string]bool, len(g.Allow))
	for _, m := range g.Allow {
		g.allow[repl.ReplaceKnown(m, "")] = true
	}
	for u, m := range g.Mobiles {
		g.Mobiles[u] = repl.ReplaceKnown(m, "")
	}
}

// Validate checks the gate's settings; every message names the setting.
func (g *Gate) Validate() error {
	if g.tmpl == nil {
		return fmt.Errorf("template %q is not defined in the otp app", g.Template)
	}
	if s := time.Duration(g.Session); s < time.Minute || s > caddyotp.MaxSessionLife {
		return fmt.Errorf("session %s is outside 1m..%s", s, caddyotp.MaxSessionLife)
	}
	if i := time.Duration(g.Idle); i < time.Minute || i > caddyotp.MaxIdle {
		return fmt.Errorf("idle %s is outside 1m..%s", i, caddyotp.MaxIdle)
	}
	if r := time.Duration(g.Remember); r != 0 && (r < time.Hour || r > caddyotp.MaxRemember) {
		return fmt.Errorf("remember %s is outside 1h..%s", r, caddyotp.MaxRemember)
	}
	if a := time.Duration(g.MaxAge); a != 0 && (a < time.Minute || a > time.Duration(g.Session)) {
		return fmt.Errorf("max_age %s is outside 1m..%s (the session)", a, time.Duration(g.Session))
	}
	if g.Lang != "" && !isLanguage(g.Lang) {
		return fmt.Errorf("lang %q is not one of the pages' languages: %s", g.Lang, strings.Join(Languages, ", "))
	}
	if !headerNamePattern.MatchString(g.Header) {
		return fmt.Errorf("header %q is not a valid header name", g.Header)
	}
	if (g.User == "") != (len(g.Mobiles) == 0) {
		return errors.New("user and mobiles go together: `user {http.auth.user.id}` with `mobiles { <user> <mobile> … }`")
	}
	if g.Mobile != "" && g.User != "" {
		return errors.New("mobile does not go with user: the mobile comes either from a placeholder or from mobiles")
	}
	if g.Mobile != "" && !strings.Contains(g.Mobile, "{") {
		return fmt.Errorf("mobile %q is not a placeholder such as {http.request.header.X-Auth-Phone}", g.Mobile)
	}
	if g.User == "" && !g.AllowAny && len(g.allow) == 0 {
		return errors.New("nobody may sign in: add `allow <mobile…>`, `allow any`, or `user` with `mobiles`")
	}
	if g.User != "" && (g.AllowAny || len(g.allow) > 0) {
		return errors.New("allow does not go with user: in identity-bound mode mobiles is the list of who may sign in")
	}
	for m := range g.allow {
		if _, err := phone.Parse(m); err != nil {
			return fmt.Errorf("allow %q: %w", m, err)
		}
	}
	users := make([]string, 0, len(g.Mobiles))
	for u := range g.Mobiles {
		users = append(users, u)
	}
	sort.Strings(users)
	for _, u := range users {
		if len(u) > maxUserLen {
			return fmt.Errorf("mobiles: user name %.32q… is %d bytes, longer than %d", u, len(u), maxUserLen)
		}
		if _, err := phone.Parse(g.Mobiles[u]); err != nil {
			return fmt.Errorf("mobiles: %s %q: %w", u, g.Mobiles[u], err)
		}
	}
	return nil
}

// maxUserLen is the longest user name a session can carry.
const maxUserLen = 255

// ServeHTTP lets a request with a valid session through and answers every other one.
func (g *Gate) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	g.stripIdentityHeaders(r)
	now := clock()

	if i := strings.Index(r.URL.Path, reservedSegment); i >= 0 {
		return g.serveReserved(w, r, now, r.URL.Path[:i+1], r.URL.Path[i+len(reservedSegment):])
	}

	token := cookieValue(r, g.cookieName(r, sessionCookie))
	if token != "" {
		if !g.app.SessionsHealthy(r.Context()) {
			return g.unavailable(w, r, errors.New("session revocation feed is down"))
		}
		c, err := g.app.CheckSession(token, g.tmpl.Name(), now, time.Duration(g.Idle), time.Duration(g.Session))
		if err == nil && g.mayUse(r, c) {
			if g.needsStepUp(c, now) {
				return g.challenge(w, r, now)
			}
			if now.Unix()-c.Seen >= int64(caddyotp.SeenRefresh/time.Second) {
				c.Seen = now.Unix()
				if err := g.setSessionCookie(w, r, c); err != nil {
					return err
				}
			}
			return g.pass(w, r, c, next)
		}
	}
	if g.Remember > 0 {
		c, ok, err := g.renewFromDevice(w, r, now)
		if err != nil {
			return g.unavailable(w, r, err)
		}
		if ok {
			if g.needsStepUp(c, now) {
				// The request still carries the lapsed cookie: the page is the step-up
				// of the session just renewed.
				return g.challenge(w, r.WithContext(context.WithValue(r.Context(), renewedSessionKey{}, c)), now)
			}
			return g.pass(w, r, c, next)
		}
	}
	return g.challenge(w, r, now)
}

// pass sends a request with the valid session c on to next, with the identity header and
// placeholder set and the gate's cookies removed.
func (g *Gate) pass(w http.ResponseWriter, r *http.Request, c session.Session, next caddyhttp.Handler) error {
	sent := r.Header["Cookie"]
	if removeCookies(r, g.cookieName(r, sessionCookie), g.cookieName(r, challengeCookie), g.cookieName(r, deviceCookie)) {
		caddyhttp.SetVar(r.Context(), passedCookiesVar, sent)
	}
	g.stripIdentityTrailers(r)
	r.Header[g.header] = []string{c.Mobile}
	if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
		repl.Set(mobilePlaceholder, c.Mobile)
	}
	return next.ServeHTTP(w, r)
}

// needsStepUp reports whether c's code was verified too long ago for this gate's max_age;
// a session a remembered device renewed (Verified 0) always needs one.
func (g *Gate) needsStepUp(c session.Session, now time.Time) bool {
	return g.MaxAge > 0 && (c.Verified == 0 || c.Verified < now.Unix()-int64(time.Duration(g.MaxAge)/time.Second))
}

// mayUse checks a valid token against this gate: the mobile must still be allowed, in
// identity-bound mode the session must be the request's user's, and with `mobile` the
// first factor's mobile.
func (g *Gate) mayUse(r *http.Request, c session.Session) bool {
	if g.User != "" {
		user := g.currentUser(r)
		return user != "" && c.User == user && g.Mobiles[user] == c.Mobile
	}
	if g.Mobile != "" {
		// Most first factors give the mobile in E.164 already: no parse on the hot path.
		if raw := strings.TrimSpace(g.expand(r, g.Mobile)); raw != c.Mobile && g.placeholderMobile(r) != c.Mobile {
			return false
		}
	}
	return g.AllowAny || g.allow[c.Mobile]
}

func (g *Gate) currentUser(r *http.Request) string {
	return g.expand(r, g.User)
}

// placeholderMobile is the first factor's mobile in E.164 (`mobile`), "" when it gave none
// or one that is not a valid number.
func (g *Gate) placeholderMobile(r *http.Request) string {
	raw := strings.TrimSpace(g.expand(r, g.Mobile))
	if raw == "" {
		return ""
	}
	n, err := phone.Parse(raw)
	if err != nil {
		return ""
	}
	return n.E164
}

func (g *Gate) expand(r *http.Request, placeholder string) string {
	repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if repl == nil {
		return ""
	}
	return repl.ReplaceAll(placeholder, "")
}

// stripIdentityHeaders removes every client copy of the identity header, whatever its case
// and with '_' for '-' (GHSA-7r4p-vjf4-gxv4).
func (g *Gate) stripIdentityHeaders(r *http.Request) {
	for name := range r.Header {
		if headerNameIs(name, g.headerLC) {
			delete(r.Header, name)
		}
	}
}

// stripIdentityTrailers keeps the identity header, in any spelling, out of the request's
// trailers: it drops the names the Trailer header declared, and wraps the body so that
// trailers arriving with the end of the body are removed before a reader of the body
// sees EOF (reverse_proxy copies the trailers to the upstream request at that moment).
func (g *Gate) stripIdentityTrailers(r *http.Request) {
	for name := range r.Trailer {
		if headerNameIs(name, g.headerLC) {
			delete(r.Trailer, name)
		}
	}
	if lines, ok := r.Header["Trailer"]; ok {
		var kept []string
		for _, line := range lines {
			for _, name := range strings.Split(line, ",") {
				if name = strings.TrimSpace(name); name != "" && !headerNameIs(name, g.headerLC) {
					kept = append(kept, name)
				}
			}
		}
		if len(kept) == 0 {
			delete(r.Header, "Trailer")
		} else {
			r.Header["Trailer"] = []string{strings.Join(kept, ", ")}
		}
	}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = &trailerStripper{ReadCloser: r.Body, r: r, lc: g.headerLC}
	}
}

// trailerStripper removes the identity header from r.Trailer when the body ends: net/http
// fills the trailers in during the Read that returns EOF.
type trailerStripper struct {
	io.ReadCloser
	r  *http.Request
	lc string
}

func (b *trailerStripper) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		for name := range b.r.Trailer {
			if headerNameIs(name, b.lc) {
				delete(b.r.Trailer, name)
			}
		}
	}
	return n, err
}

// headerNameIs reports whether name is lc (a normalizeHeaderName result) in any case and
// with '_' for '-'. It runs on every header of every request, so it does not allocate.
func headerNameIs(name, lc string) bool {
	if len(name) != len(lc) {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		} else if c == '_' {
			c = '-'
		}
		if c != lc[i] {
			return false
		}
	}
	return true
}

// Interface guards
var (
	_ caddyhttp.MiddlewareHandler = (*Gate)(nil)
	_ caddy.Provisioner           = (*Gate)(nil)
	_ caddy.Validator             = (*Gate)(nil)
)
