package otpgate

import (
	"crypto/hmac"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/internal/httpx"
	"github.com/caddyotp/caddyotp/caddyotp/internal/otpcode"
	"github.com/caddyotp/caddyotp/caddyotp/internal/phone"
	"github.com/caddyotp/caddyotp/caddyotp/session"
)

// The sign-in challenge: the pages and form posts of a request without a valid session
// (or whose session needs a step-up).

// challenge answers a request without a valid session.
func (g *Gate) challenge(w http.ResponseWriter, r *http.Request, now time.Time) error {
	if r.Method == http.MethodPost && isForm(r) {
		r.Body = http.MaxBytesReader(w, r.Body, httpx.MaxBodyBytes)
		if err := httpx.WithBodyDeadline(w, r.ParseForm); err == nil && r.PostForm.Get(fieldStep) != "" {
			return g.serveStep(w, r, now)
		}
		if r.PostForm == nil || r.PostForm.Get(fieldStep) == "" {
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

// pageMsg is what a page says besides its form: catalogue keys with their arguments.
type pageMsg struct {
	err    string // a key of the catalogue
	args   []any
	notice string // a key of the catalogue
	mobile string // the number typed, shown again after an error
}

func errorMsg(key string, args ...any) pageMsg { return pageMsg{err: key, args: args} }

// The kinds of subject a challenge can have: who the code is for.
const (
	subjectTyped    = "mobile"   // the visitor types the mobile
	subjectIdentity = "identity" // the mobile comes from `user` + `mobiles`, or from `mobile`
	subjectStepUp   = "stepup"   // a valid session whose verification is older than max_age
	subjectNone     = "nomobile" // `mobile` gave no valid mobile: nothing can be sent
)

// subject decides who a new code on r is for: the kind of subject and, except for a typed
// one, the mobile. A mobile with no entry in `mobiles` gets a decoy, so its page and store
// steps are those of any other.
func (g *Gate) subject(r *http.Request, now time.Time) (kind, mobile string, s session.Session) {
	if s, ok := g.staleSession(r, now); ok {
		return subjectStepUp, s.Mobile, s
	}
	switch {
	case g.User != "":
		mobile = g.Mobiles[g.currentUser(r)]
		if mobile == "" {
			mobile = g.app.DecoyMobile(g.currentUser(r))
		}
		return subjectIdentity, mobile, session.Session{}
	case g.Mobile != "":
		if mobile = g.placeholderMobile(r); mobile == "" {
			return subjectNone, "", session.Session{}
		}
		return subjectIdentity, mobile, session.Session{}
	}
	return subjectTyped, "", session.Session{}
}

// renewedSessionKey is the context key of a session a remembered device renewed on this
// request, whose cookie the request does not carry yet.
type renewedSessionKey struct{}

// staleSession returns r's session when it is valid for this gate but needs a step-up.
func (g *Gate) staleSession(r *http.Request, now time.Time) (session.Session, bool) {
	if g.MaxAge == 0 {
		return session.Session{}, false
	}
	if c, ok := r.Context().Value(renewedSessionKey{}).(session.Session); ok {
		return c, g.needsStepUp(c, now)
	}
	c, err := g.app.CheckSession(cookieValue(r, g.cookieName(r, sessionCookie)), g.tmpl.Name(), now,
		time.Duration(g.Idle), time.Duration(g.Session))
	if err != nil || !g.mayUse(r, c) || !g.needsStepUp(c, now) {
		return session.Session{}, false
	}
	return c, true
}

// serveStep handles the challenge's form posts.
func (g *Gate) serveStep(w http.ResponseWriter, r *http.Request, now time.Time) error {
	if crossOrigin.Check(r) != nil {
		return g.refuseCrossOrigin(w, r)
	}
	c, err := g.app.OpenChallenge(cookieValue(r, g.cookieName(r, challengeCookie)), g.tmpl.Name(), now)
	if err != nil || !hmac.Equal([]byte(r.PostForm.Get(fieldCSRF)), []byte(c.CSRF())) {
		fresh := g.app.NewChallenge(g.tmpl.Name(), now)
		return g.renderChallenge(w, r, http.StatusForbidden, fresh, now, errorMsg("error_form_expired"))
	}
	switch r.PostForm.Get(fieldStep) {
	case "send":
		return g.stepSend(w, r, c, now)
	case "resend":
		if c.Mobile == "" {
			return g.renderChallenge(w, r, http.StatusUnauthorized, c, now, pageMsg{})
		}
		if wait := g.resendWait(c, now); wait > 0 {
			return g.renderChallenge(w, r, http.StatusUnauthorized, c, now, errorMsg("error_resend_wait", wait))
		}
		return g.sendAndShow(w, r, c, c.Mobile, now)
	case "verify":
		return g.stepVerify(w, r, c, now)
	case "restart":
		if kind, _, _ := g.subject(r, now); kind != subjectTyped {
			return g.renderChallenge(w, r, http.StatusUnauthorized, c, now, pageMsg{})
		}
		return g.renderChallenge(w, r, http.StatusUnauthorized, g.app.NewChallenge(g.tmpl.Name(), now), now, pageMsg{})
	}
	return g.renderChallenge(w, r, http.StatusBadRequest, c, now, errorMsg("error_unknown_step"))
}

// stepSend takes the mobile (typed, the user's, the first factor's or the session's) and
// sends a code if it may.
func (g *Gate) stepSend(w http.ResponseWriter, r *http.Request, c session.Challenge, now time.Time) error {
	kind, mobile, _ := g.subject(r, now)
	switch kind {
	case subjectNone:
		c.Mobile = ""
		return g.renderChallenge(w, r, http.StatusUnauthorized, c, now, pageMsg{})
	case subjectTyped:
		typed := strings.TrimSpace(r.PostForm.Get(fieldMobile))
		num, err := phone.Parse(typed)
		if err != nil {
			fresh := c
			fresh.Mobile = ""
			msg := errorMsg("error_mobile_format")
			msg.mobile = typed
			return g.renderChallenge(w, r, http.StatusUnauthorized, fresh, now, msg)
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
// same time. The SMS is in the page's language when the template has a message in it.
func (g *Gate) sendAndShow(w http.ResponseWriter, r *http.Request, c session.Challenge, mobile string, now time.Time) error {
	req := caddyotp.SendRequest{Template: g.tmpl, Mobile: mobile, ClientIP: httpx.ClientIP(r), Decoy: !g.maySignIn(r, mobile),
		Locale: g.pageLanguage(r).lang}
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
	if g.Mobile != "" && g.placeholderMobile(r) != mobile {
		return false
	}
	return g.AllowAny || g.allow[mobile]
}

// stepVerify checks a code with the store, for every mobile: one that may not sign in
// holds a decoy code (sendAndShow), so its answers are the store's as for any other. Only
// a mobile that may sign in gets a session (and, when asked, a remembered device).
func (g *Gate) stepVerify(w http.ResponseWriter, r *http.Request, c session.Challenge, now time.Time) error {
	if c.Mobile == "" {
		return g.renderChallenge(w, r, http.StatusUnauthorized, c, now, pageMsg{})
	}
	code := strings.TrimSpace(r.PostForm.Get(fieldCode))
	if len(code) != g.tmpl.Length || !otpcode.Valid(code) {
		return g.renderChallenge(w, r, http.StatusUnauthorized, c, now, errorMsg("error_code_format", g.tmpl.Length))
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
		if g.Remember > 0 && r.PostForm.Get(fieldRemember) == "1" {
			g.rememberDevice(w, r, user, mobile, now)
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
		msg := errorMsg("error_code_wrong_many", e.AttemptsLeft)
		if e.AttemptsLeft == 1 {
			msg = errorMsg("error_code_wrong_one")
		}
		return g.renderChallenge(w, r, http.StatusUnauthorized, c, now, msg)
	case caddyotp.CodeTooManyAttempts:
		return g.renderChallenge(w, r, http.StatusUnauthorized, c, now, errorMsg("error_too_many"))
	case caddyotp.CodeOTPExpired:
		return g.renderChallenge(w, r, http.StatusUnauthorized, c, now, errorMsg("error_expired"))
	case caddyotp.CodeLocked:
		return g.renderChallenge(w, r, http.StatusUnauthorized, c, now, errorMsg("error_locked", (e.RetryAfterSeconds()+59)/60))
	default:
		return g.renderChallenge(w, r, http.StatusUnauthorized, c, now, errorMsg("error_code_wrong"))
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
