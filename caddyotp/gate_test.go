package caddyotp

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestGateStripsIdentityHeaderVariants looks at the request as the next handler gets it.
// Through reverse_proxy to a Go upstream the '_' spellings happen not to arrive anyway, but
// a FastCGI upstream reads X_OTP_Mobile and X-OTP-Mobile as the same HTTP_X_OTP_MOBILE
// (GHSA-7r4p-vjf4-gxv4), so the gate must remove every spelling itself.
func TestGateStripsIdentityHeaderVariants(t *testing.T) {
	g, app := newBenchGate(t)
	tok, _ := app.sessions.mintSession(g.tmpl.name, "", "+447400123456", time.Now(), time.Hour)
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
		if err := g.ServeHTTP(w, req, handlerFunc(capture)); err != nil {
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

type handlerFunc func(http.ResponseWriter, *http.Request) error

func (f handlerFunc) ServeHTTP(w http.ResponseWriter, r *http.Request) error { return f(w, r) }
