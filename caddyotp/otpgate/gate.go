// Package otpgate is the `otp_gate` handler (http.handlers.otp_gate): an SMS code in front
// of any route, with challenge pages and signed sessions, over the app's exported API only.
package otpgate

import (
	"github.com/caddyotp/caddyotp/caddyotp/internal/httpx"
	"github.com/caddyotp/caddyotp/caddyotp/session"

	"github.com/caddyotp/caddyotp/caddyotp"

	"crypto/hmac"
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

	"github.com/caddyotp/caddyotp/caddyotp/internal/otpcode"
	"github.com/caddyotp/caddyotp/caddyotp/internal/phone"
)

func init() {
	caddy.RegisterModule(Gate{})
}

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

	// The absolute lifetime of a session, 1m to 12h. Default: 8h
	Session caddy.Duration `json:"session,omitempty"`

	// How long a session may go unused, 1m to 30m. Default: 30m
	Idle caddy.Duration `json:"idle,omitempty"`

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
	return nil
}

// setup fills in defaults and binds the gate to app.
func (g *Gate) setup(app *caddyotp.App) {
	g.app = app
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
	if !headerNamePattern.MatchString(g.Header) {
		return fmt.Errorf("header %q is not a valid header name", g.Header)
	}
	if (g.User == "") != (len(g.Mobiles) == 0) {
		return errors.New("user and mobiles go together: `user {http.auth.user.id}` with `mobiles { <user> <mobile> … }`")
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
	now := time.Now()

	if i := strings.Index(r.URL.Path, reservedSegment); i >= 0 {
		return g.serveReserved(w, r, now, r.URL.Path[:i+1], r.URL.Path[i+len(reservedSegment):])
	}

	token := cookieValue(r, g.cookieName(r, sessionCookie))
	if token != "" {
		if !g.app.SessionsHealthy() {
			return g.unavailable(w, r, errors.New("session revocation feed is down"))
		}
		c, err := g.app.CheckSession(token, g.tmpl.Name(), now, time.Duration(g.Idle), time.Duration(g.Session))
		if err == nil && g.mayUse(r, c) {
			if now.Unix()-c.Seen >= int64(caddyotp.SeenRefresh/time.Second) {
				c.Seen = now.Unix()
				if err := g.setSessionCookie(w, r, c); err != nil {
					return err
				}
			}
			removeCookies(r, g.cookieName(r, sessionCookie), g.cookieName(r, challengeCookie))
			g.stripIdentityTrailers(r)
			r.Header[g.header] = []string{c.Mobile}
			if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
				repl.Set(mobilePlaceholder, c.Mobile)
			}
			return next.ServeHTTP(w, r)
		}
	}
	return g.challenge(w, r, now)
}

// mayUse checks a valid token against this gate: the mobile must still be allowed, and in
// identity-bound mode the session must be the request's user's.
func (g *Gate) mayUse(r *http.Request, c session.Session) bool {
	if g.User != "" {
		user := g.currentUser(r)
		return user != "" && c.User == user && g.Mobiles[user] == c.Mobile
	}
	return g.AllowAny || g.allow[c.Mobile]
}

func (g *Gate) currentUser(r *http.Request) string {
	repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if repl == nil {
		return ""
	}
	return repl.ReplaceAll(g.User, "")
}

// challenge answers a request without a valid session.
func (g *Gate) challenge(w http.ResponseWriter, r *http.Request, now time.Time) error {
	if r.Method == http.MethodPost && isForm(r) {
		r.Body = http.MaxBytesReader(w, r.Body, httpx.MaxBodyBytes)
		if err := httpx.WithBodyDeadline(w, r.ParseForm); err == nil && r.PostForm.Get("_otp_step") != "" {
			return g.serveStep(w, r, now)
		}
		if r.PostForm == nil || r.PostForm.Get("_otp_step") == "" {
			return g.otpRequired(w)
		}
	}
	if (r.Method == http.MethodGet || r.Method == http.MethodHead) && acceptsHTML(r) {
		c, err := g.app.OpenChallenge(cookieValue(r, g.cookieName(r, challengeCookie)), g.tmpl.Name(), now)
		if err != nil {
			c = g.app.NewChallenge(g.tmpl.Name(), now)
		}
		return g.renderChallenge(w, r, http.StatusUnauthorized, c, now, pageMsg{})
	}
	return g.otpRequired(w)
}

func (g *Gate) otpRequired(w http.ResponseWriter) error {
	httpx.SetSecurityHeaders(w.Header())
	return httpx.WriteError(w, caddyotp.NewError(caddyotp.CodeOTPRequired, "this resource needs a verified one-time password session"))
}

// pageMsg is what a page says besides its form.
type pageMsg struct {
	Error, Notice string
	Mobile        string // the number typed, shown again after an error
}

// serveStep handles the challenge's form posts.
func (g *Gate) serveStep(w http.ResponseWriter, r *http.Request, now time.Time) error {
	if crossOrigin.Check(r) != nil {
		return g.refuseCrossOrigin(w, r)
	}
	c, err := g.app.OpenChallenge(cookieValue(r, g.cookieName(r, challengeCookie)), g.tmpl.Name(), now)
	if err != nil || !hmac.Equal([]byte(r.PostForm.Get("_otp_csrf")), []byte(c.CSRF())) {
		fresh := g.app.NewChallenge(g.tmpl.Name(), now)
		return g.renderChallenge(w, r, http.StatusForbidden, fresh, now,
			pageMsg{Error: "This form has expired or did not come from this site. Please try again."})
	}
	switch r.PostForm.Get("_otp_step") {
	case "send":
		return g.stepSend(w, r, c, now)
	case "resend":
		if c.Mobile == "" {
			return g.renderChallenge(w, r, http.StatusUnauthorized, c, now, pageMsg{})
		}
		if wait := g.resendWait(c, now); wait > 0 {
			return g.renderChallenge(w, r, http.StatusUnauthorized, c, now,
				pageMsg{Error: fmt.Sprintf("Please wait %d seconds before asking for a new code.", wait)})
		}
		return g.sendAndShow(w, r, c, c.Mobile, now)
	case "verify":
		return g.stepVerify(w, r, c, now)
	case "restart":
		if g.User != "" {
			return g.renderChallenge(w, r, http.StatusUnauthorized, c, now, pageMsg{})
		}
		return g.renderChallenge(w, r, http.StatusUnauthorized, g.app.NewChallenge(g.tmpl.Name(), now), now, pageMsg{})
	}
	return g.renderChallenge(w, r, http.StatusBadRequest, c, now, pageMsg{Error: "Unknown step."})
}

// stepSend takes the mobile (typed, or the user's) and sends a code if it may.
func (g *Gate) stepSend(w http.ResponseWriter, r *http.Request, c session.Challenge, now time.Time) error {
	var mobile string
	if g.User != "" {
		mobile = g.Mobiles[g.currentUser(r)] // may be empty: the same page, no SMS
		if mobile == "" {
			mobile = g.app.DecoyMobile(g.currentUser(r))
		}
	} else {
		typed := strings.TrimSpace(r.PostForm.Get("mobile"))
		num, err := phone.Parse(typed)
		if err != nil {
			fresh := c
			fresh.Mobile = ""
			return g.renderChallenge(w, r, http.StatusUnauthorized, fresh, now,
				pageMsg{Error: "Enter a mobile number in international format, starting with +, such as +447400123456.", Mobile: typed})
		}
		mobile = num.E164
	}
	if c.Mobile == mobile && g.resendWait(c, now) > 0 {
		// A reload of the send form: show the code step without sending again.
		return g.seeOther(w, r, c)
	}
	return g.sendAndShow(w, r, c, mobile, now)
}

// sendAndShow sends in the background, for a mobile that may not sign in a Decoy send
// (every store step, no SMS), then moves the challenge to the code step and redirects to
// the same URL. The page waits for neither, so an allowed and a refused mobile take the
// same time.
func (g *Gate) sendAndShow(w http.ResponseWriter, r *http.Request, c session.Challenge, mobile string, now time.Time) error {
	req := caddyotp.SendRequest{Template: g.tmpl, Mobile: mobile, ClientIP: httpx.ClientIP(r), Decoy: !g.maySignIn(r, mobile)}
	logger := g.logger
	g.app.SendInBackground(req, func(_ caddyotp.SendResult, err error) {
		if err != nil {
			var e *caddyotp.Error
			if errors.As(err, &e) {
				logger.Warn("gate send refused", zap.String("code", e.Code), zap.String("mobile", phone.MaskString(mobile)),
					zap.Bool("decoy", req.Decoy))
			}
		}
	})
	c.Mobile, c.SentAt = mobile, now.Unix()
	return g.seeOther(w, r, c)
}

// maySignIn reports whether mobile gets an SMS from this gate.
func (g *Gate) maySignIn(r *http.Request, mobile string) bool {
	if g.User != "" {
		user := g.currentUser(r)
		return user != "" && g.Mobiles[user] == mobile
	}
	return g.AllowAny || g.allow[mobile]
}

// stepVerify checks a code with the store, for every mobile: one that may not sign in
// holds a decoy code (sendAndShow), so its answers are the store's as for any other. Only
// a mobile that may sign in gets a session.
func (g *Gate) stepVerify(w http.ResponseWriter, r *http.Request, c session.Challenge, now time.Time) error {
	if c.Mobile == "" {
		return g.renderChallenge(w, r, http.StatusUnauthorized, c, now, pageMsg{})
	}
	code := strings.TrimSpace(r.PostForm.Get("otp"))
	if len(code) != g.tmpl.Length || !otpcode.Valid(code) {
		return g.renderChallenge(w, r, http.StatusUnauthorized, c, now,
			pageMsg{Error: fmt.Sprintf("Enter the %d-digit code from the SMS.", g.tmpl.Length)})
	}
	allowed := g.maySignIn(r, c.Mobile)
	mobile, err := g.app.Verify(r.Context(), caddyotp.VerifyRequest{Template: g.tmpl, Mobile: c.Mobile, Code: code})
	if err == nil && allowed {
		user := ""
		if g.User != "" {
			user = g.currentUser(r)
		}
		_, s, err := g.app.MintSession(g.tmpl.Name(), user, mobile, now, time.Duration(g.Session))
		if err != nil {
			return caddyhttp.Error(http.StatusInternalServerError, err)
		}
		if err := g.setSessionCookie(w, r, s); err != nil {
			return err
		}
		g.clearCookie(w, r, challengeCookie)
		g.logger.Info("gate session started", zap.String("template", g.tmpl.Name()), zap.String("mobile", phone.MaskString(mobile)))
		return g.redirectToSelf(w, r)
	}
	var e *caddyotp.Error
	if !errors.As(err, &e) {
		// A right code for a mobile this gate does not let in (one sent by the API, or
		// before a config change): no session, and no count to show.
		e = &caddyotp.Error{}
	}
	switch e.Code {
	case caddyotp.CodeStoreUnavailable:
		return g.unavailable(w, r, e)
	case caddyotp.CodeOTPIncorrect:
		msg := fmt.Sprintf("That code is not right. %d attempts left.", e.AttemptsLeft)
		if e.AttemptsLeft == 1 {
			msg = "That code is not right. 1 attempt left."
		}
		return g.renderChallenge(w, r, http.StatusUnauthorized, c, now, pageMsg{Error: msg})
	case caddyotp.CodeTooManyAttempts:
		return g.renderChallenge(w, r, http.StatusUnauthorized, c, now, pageMsg{Error: "Too many wrong codes: this code no longer works. Ask for a new code."})
	case caddyotp.CodeOTPExpired:
		return g.renderChallenge(w, r, http.StatusUnauthorized, c, now, pageMsg{Error: "This code has expired or was already used. Ask for a new code."})
	case caddyotp.CodeLocked:
		return g.renderChallenge(w, r, http.StatusUnauthorized, c, now,
			pageMsg{Error: fmt.Sprintf("Too many wrong codes for this number. Try again in %d minutes.", (e.RetryAfterSeconds()+59)/60)})
	default:
		return g.renderChallenge(w, r, http.StatusUnauthorized, c, now, pageMsg{Error: "That code is not right."})
	}
}

// resendWait is how many seconds are left before the challenge's mobile may get a new code.
func (g *Gate) resendWait(c session.Challenge, now time.Time) int {
	if c.SentAt == 0 {
		return 0
	}
	left := c.SentAt + int64(time.Duration(*g.tmpl.Resend)/time.Second) - now.Unix()
	if left < 0 {
		return 0
	}
	return int(left)
}

// serveReserved handles …/.otp/…: only logout lives there.
func (g *Gate) serveReserved(w http.ResponseWriter, r *http.Request, now time.Time, base, rest string) error {
	if rest != "logout" {
		httpx.SetSecurityHeaders(w.Header())
		return httpx.WriteError(w, caddyotp.NewError(caddyotp.CodeNotFound, "no such page"))
	}
	c, err := g.app.CheckSession(cookieValue(r, g.cookieName(r, sessionCookie)), g.tmpl.Name(), now,
		time.Duration(g.Idle), time.Duration(g.Session))
	hasSession := err == nil
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		p := page{Step: "logout", Heading: "Sign out", Title: g.Title}
		if hasSession {
			p.CSRF = c.LogoutToken()
		}
		return g.render(w, r, http.StatusOK, p)
	case http.MethodPost:
		if crossOrigin.Check(r) != nil {
			return g.refuseCrossOrigin(w, r)
		}
		if hasSession {
			r.Body = http.MaxBytesReader(w, r.Body, httpx.MaxBodyBytes)
			if httpx.WithBodyDeadline(w, r.ParseForm) != nil || !hmac.Equal([]byte(r.PostForm.Get("_otp_csrf")), []byte(c.LogoutToken())) {
				return g.render(w, r, http.StatusForbidden, page{Step: "logout", Heading: "Sign out", Title: g.Title,
					Error: "This form has expired or did not come from this site. Please try again.", CSRF: c.LogoutToken()})
			}
			if err := g.app.RevokeSession(r.Context(), c); err != nil {
				return g.unavailable(w, r, err)
			}
			g.logger.Info("gate session ended", zap.String("template", g.tmpl.Name()), zap.String("mobile", phone.MaskString(c.Mobile)))
		}
		g.clearCookie(w, r, sessionCookie)
		g.clearCookie(w, r, challengeCookie)
		httpx.SetSecurityHeaders(w.Header())
		w.Header().Set("Location", originalPrefix(r, base))
		w.WriteHeader(http.StatusSeeOther)
		return nil
	}
	w.Header().Set("Allow", "GET, HEAD, POST")
	httpx.SetSecurityHeaders(w.Header())
	return httpx.WriteError(w, caddyotp.NewError(caddyotp.CodeMethodNotAllowed, "sign-out takes GET or POST"))
}

// crossOrigin tells a form post another site made a browser send (Sec-Fetch-Site, or an
// Origin that is not the Host); requests from non-browser clients carry neither and pass.
var crossOrigin = http.NewCrossOriginProtection()

// refuseCrossOrigin answers a cross-site form post: 403, and no cookie is set or cleared,
// so another site can neither sign a visitor out nor reset a challenge in progress.
func (g *Gate) refuseCrossOrigin(w http.ResponseWriter, r *http.Request) error {
	return g.render(w, r, http.StatusForbidden, page{Heading: "Sign in", Title: g.Title,
		Error: "This form did not come from this site."})
}

func (g *Gate) unavailable(w http.ResponseWriter, r *http.Request, cause error) error {
	g.logger.Error("gate cannot check sessions or codes", zap.Error(cause))
	if acceptsHTML(r) {
		return g.render(w, r, http.StatusServiceUnavailable, page{Step: "unavailable", Heading: "Sign-in is unavailable", Title: g.Title})
	}
	httpx.SetSecurityHeaders(w.Header())
	return httpx.WriteError(w, caddyotp.StoreError(cause))
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
