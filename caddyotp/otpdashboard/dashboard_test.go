package otpdashboard

import (
	"context"
	"errors"
	"html"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/internal/apptest"
	"github.com/caddyotp/caddyotp/internal/testcaddy"
)

// TestDashboardRefusesWithoutVouch: 403, with the security headers and no data read,
// unless an earlier handler set {http.auth.user.id} or {http.otp.mobile}. What a client
// sends (an Authorization header, a gate cookie, an X-OTP-Mobile header) sets neither.
func TestDashboardRefusesWithoutVouch(t *testing.T) {
	tests := []struct {
		name    string
		vars    map[string]string
		headers map[string]string
	}{
		{"nothing", nil, nil},
		{"forged Authorization", nil, map[string]string{"Authorization": "Basic b3BzOnNlY3JldA=="}},
		{"forged Bearer", nil, map[string]string{"Authorization": "Bearer demo-template-key-change-me"}},
		{"gate cookie", nil, map[string]string{"Cookie": "otp_session=anything"}},
		{"identity header", nil, map[string]string{"X-OTP-Mobile": "+447400123456"}},
		{"empty user id", map[string]string{"http.auth.user.id": ""}, nil},
		{"empty mobile", map[string]string{"http.otp.mobile": ""}, nil},
		{"another placeholder", map[string]string{"http.auth.candidate.id": "ops"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rd := &fakeReader{}
			d := newTestDashboard(rd, "login")
			for _, target := range []string{"/otp-dashboard/", "/otp-dashboard/?format=csv"} {
				w := serve(t, d, "GET", target, tt.vars, tt.headers)
				if w.Code != http.StatusForbidden {
					t.Fatalf("%s: expected 403, got %d %s", target, w.Code, w.Body)
				}
				expectSecurityHeaders(t, target, w.Header())
				if !strings.Contains(w.Body.String(), "needs a signed-in operator") {
					t.Errorf("%s: expected the 403 to say why, got %q", target, w.Body)
				}
			}
			if calls := rd.calls(); len(calls) != 0 {
				t.Errorf("expected nothing read for a refused request, got %v", calls)
			}
		})
	}
	// Outside a Caddy route there is no replacer at all: refused too.
	r := httptest.NewRequest("GET", "/", nil)
	w := httptest.NewRecorder()
	if err := newTestDashboard(&fakeReader{}, "login").ServeHTTP(w, r, nil); err != nil || w.Code != http.StatusForbidden {
		t.Errorf("expected 403 without a replacer, got %d (%v)", w.Code, err)
	}
}

// TestDashboardServesWhenVouched: 200 and the page with a first factor's user, with the
// gate's mobile, and with `public`.
func TestDashboardServesWhenVouched(t *testing.T) {
	tests := []struct {
		name   string
		public bool
		vars   map[string]string
	}{
		{"basic_auth user", false, map[string]string{"http.auth.user.id": "ops"}},
		{"gate mobile", false, map[string]string{"http.otp.mobile": "+447400123456"}},
		{"public", true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newTestDashboard(&fakeReader{countries: 3}, "login")
			d.Public = tt.public
			w := serve(t, d, "GET", "/otp-dashboard/", tt.vars, nil)
			if w.Code != http.StatusOK {
				t.Fatalf("expected 200, got %d %s", w.Code, w.Body)
			}
			expectSecurityHeaders(t, "page", w.Header())
			if ct := w.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("expected an HTML page, got %q", ct)
			}
			for _, want := range []string{"<h2 id=\"t0\">Template login</h2>", "Sent and verified, last 30 days", "<svg class=\"chart\"", "Countries, last 30 days"} {
				if !strings.Contains(w.Body.String(), want) {
					t.Errorf("expected %q in the page, got %.2000s", want, w.Body)
				}
			}
		})
	}
}

// TestDashboardBadRequests: a bad range or format is 400, another method 405, HEAD is
// the page's headers without a body.
func TestDashboardBadRequests(t *testing.T) {
	vars := map[string]string{"http.auth.user.id": "ops"}
	d := newTestDashboard(&fakeReader{}, "login")
	for _, target := range []string{"/?days=0", "/?days=401", "/?days=x", "/?days=7.5", "/?format=json", "/?format=CSV"} {
		w := serve(t, d, "GET", target, vars, nil)
		if w.Code != http.StatusBadRequest {
			t.Errorf("%s: expected 400, got %d", target, w.Code)
		}
		expectSecurityHeaders(t, target, w.Header())
	}
	for _, method := range []string{"POST", "PUT", "DELETE"} {
		w := serve(t, d, method, "/", vars, nil)
		if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, HEAD" {
			t.Errorf("%s: expected 405 with Allow: GET, HEAD, got %d %q", method, w.Code, w.Header().Get("Allow"))
		}
	}
	for _, target := range []string{"/", "/?format=csv"} {
		w := serve(t, d, "HEAD", target, vars, nil)
		if w.Code != http.StatusOK || w.Body.Len() != 0 {
			t.Errorf("HEAD %s: expected 200 without a body, got %d with %d bytes", target, w.Code, w.Body.Len())
		}
	}
	w := serve(t, d, "GET", "/?days=400", vars, nil)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "last 400 days") {
		t.Errorf("expected 200 and the 400-day range, got %d", w.Code)
	}
}

// TestDashboardStoreDown: the store's outage is a 503, never a half page.
func TestDashboardStoreDown(t *testing.T) {
	d := newTestDashboard(&fakeReader{err: caddyotp.StoreError(errors.New("connection refused"))}, "login")
	for _, target := range []string{"/", "/?format=csv"} {
		w := serve(t, d, "GET", target, map[string]string{"http.auth.user.id": "ops"}, nil)
		if w.Code != http.StatusServiceUnavailable {
			t.Errorf("%s: expected 503, got %d", target, w.Code)
		}
		if strings.Contains(w.Body.String(), "connection refused") {
			t.Errorf("%s: expected the cause kept out of the answer, got %q", target, w.Body)
		}
	}
}

// TestDashboardNeverShowsFullMobile: a ledger entry with a whole number (a store that did
// not mask it) is masked on the page and in the CSV.
func TestDashboardNeverShowsFullMobile(t *testing.T) {
	now := time.Now().UTC()
	rd := &fakeReader{entries: map[string][]caddyotp.LedgerEntry{"login": {
		{Time: now, Template: "login", Mobile: "+447400123456", Country: "GB", Parts: 1, PriceUSD: 0.0463, Status: "sent"},
		{Time: now.Add(-time.Minute), Template: "login", Mobile: "+12025550123", Country: "US", Parts: 1, PriceUSD: 0.0079, Status: "delivered"},
	}}}
	d := newTestDashboard(rd, "login")
	for _, target := range []string{"/", "/?format=csv"} {
		body := html.UnescapeString(serve(t, d, "GET", target, map[string]string{"http.auth.user.id": "ops"}, nil).Body.String())
		for _, full := range []string{"7400123456", "2025550123"} {
			if strings.Contains(body, full) {
				t.Errorf("%s: expected no full mobile, found %s", target, full)
			}
		}
		for _, masked := range []string{"+44•••••••456", "+1•••••••123"} {
			if !strings.Contains(body, masked) {
				t.Errorf("%s: expected the masked mobile %s, got %.3000s", target, masked, body)
			}
		}
	}
}

// TestDashboardReadsThisMonth: a range shorter than the month so far reads the month too,
// for the month's card; a range that covers it reads once.
func TestDashboardReadsThisMonth(t *testing.T) {
	today := time.Date(2026, 12, 20, 10, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		days int
		want []string
	}{
		{7, []string{"stats login 7", "stats login 20", "blocks login", "recent login 50"}},
		{20, []string{"stats login 20", "blocks login", "recent login 50"}},
		{30, []string{"stats login 30", "blocks login", "recent login 50"}},
	} {
		rd := &fakeReader{today: today}
		v, err := newTestDashboard(rd, "login").load(context.Background(), tt.days, today)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(rd.calls(), ", "); got != strings.Join(tt.want, ", ") {
			t.Errorf("days %d: expected the calls %v, got %v", tt.days, tt.want, got)
		}
		// fakeStats: day i of n sends i%13+1; December 1..20 are the last 20 of the stats
		// the month was read from (the range's, or the month's own).
		n, want := max(tt.days, 20), int64(0)
		for i := n - 20; i < n; i++ {
			want += int64(i%13 + 1)
		}
		if got := v.Templates[0].Month.Sent; got != want {
			t.Errorf("days %d: expected %d sent this month, got %d", tt.days, want, got)
		}
		if v.Templates[0].MonthName != "December 2026" || len(v.Templates[0].Days) != tt.days {
			t.Errorf("days %d: expected December 2026 and %d days charted, got %q and %d", tt.days, tt.days, v.Templates[0].MonthName, len(v.Templates[0].Days))
		}
	}
}

// TestDashboardTemplates: by default every template of the app, sorted, `default`
// included; a name the app does not define, or one given twice, does not validate.
func TestDashboardTemplates(t *testing.T) {
	app := apptest.Provision(t, apptest.LogApp(map[string]*caddyotp.Template{"signup": nil, "login": nil}))
	d := &Dashboard{}
	d.setup(app)
	if got := strings.Join(d.Templates, " "); got != "default login signup" {
		t.Errorf("expected every template, got %q", got)
	}
	testcaddy.CheckErr(t, d.Validate(), "")
	for _, tt := range []struct {
		templates []string
		want      string
	}{
		{[]string{"login"}, ""},
		{[]string{"login", "default"}, ""},
		{[]string{"logon"}, `templates: "logon" is not defined in the otp app`},
		{[]string{"login", "login"}, `templates: "login" is given more than once`},
	} {
		d := &Dashboard{Templates: tt.templates}
		d.setup(app)
		testcaddy.CheckErr(t, d.Validate(), tt.want)
	}
}

// TestDashboardShowsGuardBlocks: the destinations the pumping guard blocks are listed per
// template, countries first, with when each block ends; none, no list.
func TestDashboardShowsGuardBlocks(t *testing.T) {
	rd := &fakeReader{countries: 2, blocks: map[string]map[string]time.Duration{
		"login": {"prefix:+4474001": 95 * time.Minute, "country:GB": 3 * time.Hour},
	}}
	d := newTestDashboard(rd, "login", "signup")
	w := serve(t, d, "GET", "/", map[string]string{"http.auth.user.id": "ops"}, nil)
	body := w.Body.String()
	if w.Code != 200 {
		t.Fatalf("expected 200, got %d", w.Code)
	}
	gb := strings.Index(body, "<th scope=\"row\">GB</th><td>in 3h</td>")
	prefix := strings.Index(body, "<th scope=\"row\">&#43;4474001</th><td>in 1h 35m</td>")
	if gb < 0 || prefix < gb {
		t.Errorf("expected the GB block and then the prefix block, got the page:\n%s", body)
	}
	if n := strings.Count(body, "Blocked by the pumping guard"); n != 1 {
		t.Errorf("expected one list of blocks (login's; signup has none), got %d", n)
	}
}
