package otpgate

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestGateCookiesOnHTTPS: on HTTPS both cookies carry the __Host- prefix, Secure, HttpOnly,
// SameSite=Lax, Path=/ and no Domain; on HTTP the same without the prefix and Secure.
func TestGateCookiesOnHTTPS(t *testing.T) {
	g, app := newBenchGate(t)
	for _, https := range []bool{true, false} {
		r := httptest.NewRequest("GET", "/admin/", nil)
		r.Header.Set("Accept", "text/html")
		if https {
			r.TLS = &tls.ConnectionState{}
		} else {
			r.TLS = nil
		}
		w := httptest.NewRecorder()
		if err := g.ServeHTTP(w, r, okHandler); err != nil {
			t.Fatal(err)
		}
		_, c, _ := app.MintSession(g.tmpl.Name(), "", "+447400123456", time.Now(), time.Hour)
		w2 := httptest.NewRecorder()
		if err := g.setSessionCookie(w2, r, c); err != nil {
			t.Fatal(err)
		}
		prefix := ""
		if https {
			prefix = "__Host-"
		}
		got := map[string]*http.Cookie{}
		for _, ck := range append(w.Result().Cookies(), w2.Result().Cookies()...) {
			got[ck.Name] = ck
		}
		for _, name := range []string{prefix + challengeCookie, prefix + sessionCookie} {
			ck := got[name]
			if ck == nil {
				t.Fatalf("https=%v: expected a cookie %s, got %v", https, name, w.Header()["Set-Cookie"])
			}
			if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Domain != "" || ck.Secure != https {
				t.Errorf("https=%v: expected %s HttpOnly, SameSite=Lax, Path=/, no Domain, Secure=%v, got %+v", https, name, https, ck)
			}
		}
	}
}

// TestForwardedHTTPS: only the right-most X-Forwarded-Proto value, the one the nearest
// proxy wrote, counts.
func TestForwardedHTTPS(t *testing.T) {
	tests := []struct {
		lines []string
		want  bool
	}{
		{nil, false},
		{[]string{"https"}, true},
		{[]string{"HTTPS"}, true},
		{[]string{" https "}, true},
		{[]string{"http"}, false},
		{[]string{"https, http"}, false},
		{[]string{"http, https"}, true},
		{[]string{"https", "http"}, false},
		{[]string{"http", "https"}, true},
		{[]string{"https,"}, false},
		{[]string{"wss"}, false},
	}
	for _, tt := range tests {
		h := http.Header{"X-Forwarded-Proto": tt.lines}
		if got := forwardedHTTPS(h); got != tt.want {
			t.Errorf("%q: expected %v, got %v", tt.lines, tt.want, got)
		}
	}
}
