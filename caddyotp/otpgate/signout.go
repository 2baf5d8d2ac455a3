package otpgate

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/internal/httpx"
	"github.com/caddyotp/caddyotp/caddyotp/internal/phone"
	"github.com/caddyotp/caddyotp/caddyotp/session"
)

// The reserved path …/.otp/…: the sign-out page. POST ends the session on every instance;
// with `remember`, "Also forget this device" forgets this browser's device too, and "Sign
// out everywhere" ends every session and forgets every device of the mobile in this realm.

var errFeedDown = errors.New("session revocation feed is down")

// serveReserved handles …/.otp/…: only logout lives there.
func (g *Gate) serveReserved(w http.ResponseWriter, r *http.Request, now time.Time, base, rest string) error {
	if rest != "logout" {
		httpx.SetSecurityHeaders(w.Header())
		return httpx.WriteError(w, caddyotp.NewError(caddyotp.CodeNotFound, "no such page"))
	}
	c, err := g.app.CheckSession(cookieValue(r, g.cookieName(r, sessionCookie)), g.tmpl.Name(), now,
		time.Duration(g.Idle), time.Duration(g.Session))
	hasSession := err == nil
	d, hasDevice := g.openDevice(r, now)
	if hasSession && hasDevice && d.Mobile != c.Mobile {
		hasDevice = false
	}
	p := page{Step: "logout", Heading: "heading_logout", Device: g.Remember > 0 && hasDevice, Everywhere: g.Remember > 0 && hasSession}
	if hasSession {
		p.CSRF = c.LogoutToken()
	} else if hasDevice {
		p.CSRF = deviceLogoutToken(d)
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		return g.render(w, r, http.StatusOK, p, pageMsg{})
	case http.MethodPost:
		if crossOrigin.Check(r) != nil {
			return g.refuseCrossOrigin(w, r)
		}
		if hasSession || hasDevice {
			r.Body = http.MaxBytesReader(w, r.Body, httpx.MaxBodyBytes)
			if httpx.WithBodyDeadline(w, r.ParseForm) != nil || !hmac.Equal([]byte(r.PostForm.Get(fieldCSRF)), []byte(p.CSRF)) {
				return g.render(w, r, http.StatusForbidden, p, errorMsg("error_form_expired"))
			}
			if err := g.signOut(r, now, c, hasSession, d, hasDevice); err != nil {
				return g.unavailable(w, r, err)
			}
		}
		g.clearCookie(w, r, sessionCookie)
		g.clearCookie(w, r, challengeCookie)
		if hasDevice && (r.PostForm.Get(fieldForget) == "1" || r.PostForm.Get(fieldEverywhere) == "1") {
			g.clearCookie(w, r, deviceCookie)
		}
		httpx.SetSecurityHeaders(w.Header())
		w.Header().Set("Location", originalPrefix(r, base))
		w.WriteHeader(http.StatusSeeOther)
		return nil
	}
	w.Header().Set("Allow", "GET, HEAD, POST")
	httpx.SetSecurityHeaders(w.Header())
	return httpx.WriteError(w, caddyotp.NewError(caddyotp.CodeMethodNotAllowed, "sign-out takes GET or POST"))
}

// signOut does what the sign-out form asked: end the session, and forget this device or
// sign out everywhere.
func (g *Gate) signOut(r *http.Request, now time.Time, c session.Session, hasSession bool, d session.Device, hasDevice bool) error {
	mobile := c.Mobile
	if !hasSession {
		mobile = d.Mobile
	}
	if hasSession {
		if err := g.app.RevokeSession(r.Context(), c); err != nil {
			return err
		}
	}
	if g.Remember > 0 && hasSession && r.PostForm.Get(fieldEverywhere) == "1" {
		n, err := g.app.SignOutEverywhere(r.Context(), g.tmpl.Name(), mobile, now)
		if err != nil {
			return err
		}
		g.logger.Info("gate signed out everywhere", zap.String("template", g.tmpl.Name()),
			zap.String("mobile", phone.MaskString(mobile)), zap.Int("devices", n))
		return nil
	}
	// Without a session, "everywhere" can only mean this device: its cookie is cleared, so
	// its record must go too, or a copy of the cookie would still renew sessions.
	if hasDevice && (r.PostForm.Get(fieldForget) == "1" || r.PostForm.Get(fieldEverywhere) == "1") {
		if err := g.app.ForgetDevice(r.Context(), d); err != nil {
			return err
		}
		g.logger.Info("gate forgot a device", zap.String("template", g.tmpl.Name()), zap.String("mobile", phone.MaskString(mobile)))
	}
	if hasSession {
		g.logger.Info("gate session ended", zap.String("template", g.tmpl.Name()), zap.String("mobile", phone.MaskString(mobile)))
	}
	return nil
}

// deviceLogoutToken is the anti-CSRF token of the sign-out form of a browser with a
// remembered device and no session: only a page that knows the device can show it.
func deviceLogoutToken(d session.Device) string {
	sum := sha256.Sum256(append([]byte("caddyotp forget "), d.ID[:]...))
	return hex.EncodeToString(sum[:16])
}
