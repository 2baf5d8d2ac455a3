package otpgate

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddyotp/caddyotp/caddyotp/internal/apptest"
)

// TestGateStripsIdentityHeaderVariants looks at the request as the next handler gets it.
// Through reverse_proxy to a Go upstream the '_' spellings happen not to arrive anyway, but
// a FastCGI upstream reads X_OTP_Mobile and X-OTP-Mobile as the same HTTP_X_OTP_MOBILE
// (GHSA-7r4p-vjf4-gxv4), so the gate must remove every spelling itself.
func TestGateStripsIdentityHeaderVariants(t *testing.T) {
	g, app := newBenchGate(t)
	tok, _, _ := app.MintSession(g.tmpl.Name(), "", "+447400123456", time.Now(), time.Hour)
	spellings := []string{"X-Otp-Mobile", "x-otp-mobile", "X_OTP_Mobile", "x_otp_mobile", "X-OTP_Mobile", "X_Otp-Mobile"}
	for _, withSession := range []bool{false, true} {
		req := httptest.NewRequest("GET", "/admin/", nil)
		for _, k := range spellings {
			req.Header[k] = []string{"+449999999999"}
		}
		if withSession {
			req.Header["Cookie"] = []string{sessionCookie + "=" + tok + "; theme=dark"}
		}
		var seen http.Header
		next := okHandler
		capture := func(w http.ResponseWriter, r *http.Request) error {
			seen = r.Header.Clone()
			return next.ServeHTTP(w, r)
		}
		w := httptest.NewRecorder()
		if err := g.ServeHTTP(w, req, caddyhttp.HandlerFunc(capture)); err != nil {
			t.Fatal(err)
		}
		if !withSession {
			if seen != nil || w.Code != http.StatusUnauthorized {
				t.Fatalf("without a session: expected 401 and no next handler, got %d (next called: %v)", w.Code, seen != nil)
			}
			continue
		}
		if seen == nil {
			t.Fatalf("with a session: expected the next handler to run, got %d", w.Code)
		}
		for k, v := range seen {
			if normalizeHeaderName(k) == "x-otp-mobile" && (k != "X-Otp-Mobile" || len(v) != 1 || v[0] != "+447400123456") {
				t.Errorf("expected only X-Otp-Mobile: +447400123456, got %s: %v", k, v)
			}
		}
		if got := seen.Get("Cookie"); got != "theme=dark" {
			t.Errorf("expected the upstream's Cookie header to be theme=dark, got %q", got)
		}
	}
}

// TestGateValidateUserNameLength: a session carries the user name in a field of at most
// 255 bytes, so a longer name in mobiles fails at provision, naming the setting.
func TestGateValidateUserNameLength(t *testing.T) {
	_, app := newBenchGate(t)
	for _, n := range []int{255, 256, 4096} {
		g := &Gate{User: "{http.auth.user.id}", Mobiles: map[string]string{strings.Repeat("a", n): "+447400123456"}}
		g.setup(app)
		err := g.Validate()
		if n <= maxUserLen && err != nil {
			t.Errorf("a %d-byte user name: expected no error, got %v", n, err)
		}
		if n > maxUserLen && (err == nil || !strings.Contains(err.Error(), "mobiles")) {
			t.Errorf("a %d-byte user name: expected an error naming mobiles, got %v", n, err)
		}
	}
}

// TestGateSealFailureAnswers500: a claim that cannot be sealed (a field over 255 bytes,
// which Validate rules out) makes the request fail with 500, never a panic.
func TestGateSealFailureAnswers500(t *testing.T) {
	g, app := newBenchGate(t)
	long := strings.Repeat("a", 256)
	r := httptest.NewRequest("GET", "/admin/", nil)
	_, s, _ := app.MintSession(g.tmpl.Name(), "", "+447400123456", time.Now(), time.Hour)
	s.User = long
	if _, _, err := app.MintSession(g.tmpl.Name(), long, "+447400123456", time.Now(), time.Hour); err == nil {
		t.Error("expected minting a session with a 256-byte user to fail")
	}
	c := app.NewChallenge(g.tmpl.Name(), time.Now())
	c.Mobile = long
	for name, call := range map[string]func(http.ResponseWriter) error{
		"session cookie": func(w http.ResponseWriter) error { return g.setSessionCookie(w, r, s) },
		"challenge page": func(w http.ResponseWriter) error {
			return g.renderChallenge(w, r, http.StatusUnauthorized, c, time.Now(), pageMsg{})
		},
		"challenge redirect": func(w http.ResponseWriter) error { return g.seeOther(w, r, c) },
	} {
		w := httptest.NewRecorder()
		err := call(w)
		var he caddyhttp.HandlerError
		if !errors.As(err, &he) || he.StatusCode != http.StatusInternalServerError {
			t.Errorf("%s: expected a 500 handler error, got %v", name, err)
		}
		if len(w.Header()["Set-Cookie"]) != 0 {
			t.Errorf("%s: expected no cookie set, got %q", name, w.Header()["Set-Cookie"])
		}
	}
}

// TestGateSessionDefaults: a gate's session is 8h and idle 30m unless set, and longer ones
// than 12h and 30m fail at provision, naming the setting.
func TestGateSessionDefaults(t *testing.T) {
	app := apptest.Start(t, apptest.LogApp(nil))
	g := &Gate{AllowAny: true}
	g.setup(app)
	if time.Duration(g.Session) != 8*time.Hour || time.Duration(g.Idle) != 30*time.Minute {
		t.Errorf("expected session 8h and idle 30m by default, got %s and %s", time.Duration(g.Session), time.Duration(g.Idle))
	}
	for _, tt := range []struct {
		session, idle, remember, maxAge time.Duration
		lang                            string
		want                            string
	}{
		{session: 24*time.Hour + time.Second, want: "session 24h0m1s is outside 1m..24h"},
		{idle: time.Hour + time.Second, want: "idle 1h0m1s is outside 1m..1h"},
		{remember: 31 * 24 * time.Hour, want: "remember 744h0m0s is outside 1h..720h"},
		{remember: 30 * time.Minute, want: "remember 30m0s is outside 1h..720h"},
		{session: time.Hour, maxAge: time.Hour + time.Minute, want: "max_age 1h1m0s is outside 1m..1h0m0s (the session)"},
		{maxAge: 30 * time.Second, want: "max_age 30s is outside 1m..8h0m0s"},
		{lang: "da", want: `lang "da" is not one of the pages' languages: en, de, fr, es, pt, it, nl`},
		{session: 24 * time.Hour, idle: time.Hour, remember: 30 * 24 * time.Hour, maxAge: 24 * time.Hour, lang: "nl"}, // all at their bounds
	} {
		g := &Gate{AllowAny: true, Session: caddy.Duration(tt.session), Idle: caddy.Duration(tt.idle),
			Remember: caddy.Duration(tt.remember), MaxAge: caddy.Duration(tt.maxAge), Lang: tt.lang}
		if tt.want == "" {
			g.setup(app)
			if err := g.Validate(); err != nil {
				t.Errorf("expected settings at their bounds to pass, got %v", err)
			}
			continue
		}
		g.setup(app)
		if err := g.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("expected an error containing %q, got %v", tt.want, err)
		}
	}
}

// TestGateSetsMobilePlaceholder: the request the gate lets through carries the verified
// mobile in {http.otp.mobile}, which otp_dashboard takes as a vouch; a request it answers
// itself never reaches a handler that could read it.
func TestGateSetsMobilePlaceholder(t *testing.T) {
	g, app := newBenchGate(t)
	tok, _, _ := app.MintSession(g.tmpl.Name(), "", "+447400123456", time.Now(), time.Hour)
	for _, withSession := range []bool{false, true} {
		req := httptest.NewRequest("GET", "/admin/", nil)
		req.Header.Set("Accept", "text/html")
		repl := caddy.NewReplacer()
		req = req.WithContext(context.WithValue(req.Context(), caddy.ReplacerCtxKey, repl))
		if withSession {
			req.Header["Cookie"] = []string{sessionCookie + "=" + tok}
		}
		reached := false
		next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			reached = true
			if got := repl.ReplaceAll("{http.otp.mobile}", ""); got != "+447400123456" {
				t.Errorf("expected {http.otp.mobile} to be +447400123456, got %q", got)
			}
			return okHandler.ServeHTTP(w, r)
		})
		w := httptest.NewRecorder()
		if err := g.ServeHTTP(w, req, next); err != nil {
			t.Fatal(err)
		}
		if reached != withSession {
			t.Errorf("session=%v: expected the next handler reached=%v, got %v (status %d)", withSession, withSession, reached, w.Code)
		}
		if !withSession {
			if got, ok := repl.GetString("http.otp.mobile"); ok || got != "" {
				t.Errorf("expected no {http.otp.mobile} without a session, got %q", got)
			}
		}
	}
}
