package otpdashboard

import (
	"crypto/sha256"
	"encoding/base64"
	"regexp"
	"strings"
	"testing"
)

// TestDashboardCSPAllowsExactlyItsStyle: the policy allows the page's one stylesheet by
// its hash and nothing else; the page has no script, no style attribute, no outside URL.
func TestDashboardCSPAllowsExactlyItsStyle(t *testing.T) {
	d := newTestDashboard(&fakeReader{countries: 5}, "login")
	w := serve(t, d, "GET", "/", map[string]string{"http.auth.user.id": "ops"}, nil)
	body := w.Body.String()
	m := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindAllStringSubmatch(body, -1)
	if len(m) != 1 {
		t.Fatalf("expected one <style>, got %d", len(m))
	}
	sum := sha256.Sum256([]byte(m[0][1]))
	want := "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
		"'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
	if got := w.Header().Get("Content-Security-Policy"); got != want {
		t.Errorf("expected the CSP %q, got %q", want, got)
	}
	for _, bad := range []string{"<script", "style=", "http://", "https://", "src=", "<img", "<link", "<form"} {
		if strings.Contains(body, bad) {
			t.Errorf("expected no %q in the page", bad)
		}
	}
}
