package otpdashboard

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/caddyotp/caddyotp/caddyotp"
)

// fakeReader stands in for the otp app: made-up stats of as many countries as asked,
// ending today, and the ledger entries given. It records what it was asked.
type fakeReader struct {
	countries int
	today     time.Time
	entries   map[string][]caddyotp.LedgerEntry
	blocks    map[string]map[string]time.Duration // by template
	err       error

	mu    sync.Mutex
	asked []string
	made  map[int]caddyotp.Stats // by days, so a benchmark measures the page, not the fake
}

func (f *fakeReader) Stats(_ context.Context, template string, days int) (caddyotp.Stats, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, fmt.Sprintf("stats %s %d", template, days))
	if f.err != nil {
		return caddyotp.Stats{}, f.err
	}
	st, ok := f.made[days]
	if !ok {
		st = fakeStats(f.today, days, f.countries)
		if f.made == nil {
			f.made = map[int]caddyotp.Stats{}
		}
		f.made[days] = st
	}
	st.Template = template
	return st, nil
}

func (f *fakeReader) RecentSMS(_ context.Context, template string, n int) ([]caddyotp.LedgerEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, fmt.Sprintf("recent %s %d", template, n))
	if f.err != nil {
		return nil, f.err
	}
	e := f.entries[template]
	return e[:min(n, len(e))], nil
}

func (f *fakeReader) GuardBlocks(_ context.Context, template string) (map[string]time.Duration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, "blocks "+template)
	return f.blocks[template], nil
}

func (f *fakeReader) calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.asked...)
}

// fakeStats are days of counts ending today (day i: i%13+1 sent, about three in four
// verified, 4.63 cents each, a report for most) and the countries given.
func fakeStats(today time.Time, days, countries int) caddyotp.Stats {
	if today.IsZero() {
		today = time.Now().UTC()
	}
	st := caddyotp.Stats{Days: make([]caddyotp.DayStats, days), Countries: []caddyotp.CountryStats{},
		Budget: caddyotp.BudgetStats{DailyUSD: 25, DailySpentUSD: 0.55, MonthlyUSD: 300, MonthlySpentUSD: 3.1}}
	for i := range days {
		sent := int64(i%13 + 1)
		st.Days[i] = caddyotp.DayStats{Date: today.AddDate(0, 0, i-days+1).Format("2006-01-02"), Sent: sent, Verified: sent * 3 / 4,
			Delivered: sent - 1, Failed: 1, EstimatedUSD: float64(sent) * 0.0463, BilledUSD: float64(sent-1) * 0.0458}
	}
	for i := range countries {
		code := string([]byte{'A' + byte(i/26), 'A' + byte(i%26)})
		sent := int64(1000 - i*7)
		st.Countries = append(st.Countries, caddyotp.CountryStats{Country: code, Sent: sent, Verified: sent / 2, Conversion: 0.5,
			EstimatedUSD: float64(sent) * 0.0463, BilledUSD: float64(sent) * 0.045, Blocked: i%10 == 9})
	}
	return st
}

// newTestDashboard is a dashboard over rd, outside a running Caddy.
func newTestDashboard(rd reader, templates ...string) *Dashboard {
	return &Dashboard{Templates: templates, reader: rd, logger: zap.NewNop()}
}

// serve sends one request to d, with a Caddy replacer holding vars, as an earlier handler
// (basic_auth, otp_gate) would have left them; headers are set on the request.
func serve(t testing.TB, d *Dashboard, method, target string, vars, headers map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	repl := caddy.NewReplacer()
	for k, v := range vars {
		repl.Set(k, v)
	}
	r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, repl))
	for k, v := range headers {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	if err := d.ServeHTTP(w, r, nil); err != nil {
		t.Fatalf("%s %s: expected no handler error, got %v", method, target, err)
	}
	return w
}

// expectSecurityHeaders checks what every answer of the dashboard carries.
func expectSecurityHeaders(t *testing.T, what string, h http.Header) {
	t.Helper()
	for k, v := range map[string]string{"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"} {
		if got := h.Get(k); got != v {
			t.Errorf("%s: expected %s: %s, got %q", what, k, v, got)
		}
	}
	if csp := h.Get("Content-Security-Policy"); csp == "" {
		t.Errorf("%s: expected a Content-Security-Policy", what)
	}
}
