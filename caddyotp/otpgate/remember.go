package otpgate

import (
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/caddyotp/caddyotp/caddyotp/internal/phone"
	"github.com/caddyotp/caddyotp/caddyotp/session"
)

// Remember this device (`remember`): a right code with the box ticked records a device in
// the store and sets the device cookie; a request whose session has lapsed gets a new one
// from a device that is still on record, for a mobile this gate still lets in.

// rememberDevice records a device for user and mobile and sets its cookie. A store that
// cannot record it costs the visitor nothing but the remembering: the session stands.
func (g *Gate) rememberDevice(w http.ResponseWriter, r *http.Request, user, mobile string, now time.Time) {
	token, d, err := g.app.RememberDevice(r.Context(), g.tmpl.Name(), user, mobile, now, time.Duration(g.Remember))
	if err != nil {
		g.logger.Warn("gate could not remember a device", zap.String("mobile", phone.MaskString(mobile)), zap.Error(err))
		return
	}
	g.setDeviceCookie(w, r, token, d.Expires)
	g.logger.Info("gate remembered a device", zap.String("template", g.tmpl.Name()), zap.String("mobile", phone.MaskString(mobile)))
}

// openDevice returns r's device cookie when it is this realm's, unexpired, for a mobile
// (and user) this gate lets in now. It does not ask the store.
func (g *Gate) openDevice(r *http.Request, now time.Time) (session.Device, bool) {
	token := cookieValue(r, g.cookieName(r, deviceCookie))
	if token == "" {
		return session.Device{}, false
	}
	d, err := g.app.OpenDevice(token, g.tmpl.Name(), now)
	if err != nil {
		return session.Device{}, false
	}
	if !g.mayUse(r, session.Session{Realm: d.Realm, User: d.User, Mobile: d.Mobile}) {
		return session.Device{}, false
	}
	return d, true
}

// renewFromDevice mints a new session from r's device cookie when the device is still on
// record, and sets its cookie. The session carries no verification time: max_age never
// accepts it. It answers an error only when the store could not be asked.
func (g *Gate) renewFromDevice(w http.ResponseWriter, r *http.Request, now time.Time) (session.Session, bool, error) {
	d, ok := g.openDevice(r, now)
	if !ok {
		return session.Session{}, false, nil
	}
	if !g.app.SessionsHealthy(r.Context()) {
		return session.Session{}, false, errFeedDown
	}
	on, err := g.app.DeviceOnRecord(r.Context(), d, now)
	if err != nil {
		return session.Session{}, false, err
	}
	if !on {
		g.clearCookie(w, r, deviceCookie)
		return session.Session{}, false, nil
	}
	_, s, err := g.app.RenewSession(d, now, time.Duration(g.Session))
	if err != nil {
		return session.Session{}, false, err
	}
	if err := g.setSessionCookie(w, r, s); err != nil {
		return session.Session{}, false, err
	}
	g.logger.Info("gate session renewed by a remembered device", zap.String("template", g.tmpl.Name()),
		zap.String("mobile", phone.MaskString(d.Mobile)))
	return s, true, nil
}
