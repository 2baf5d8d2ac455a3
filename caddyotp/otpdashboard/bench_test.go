package otpdashboard

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/caddyotp"
)

// BenchmarkDashboardPage renders the whole page for two templates, each with 50 countries
// and 50 recent SMS, over the default 30 days and over 400 (two 400-day charts and their
// tables per template), from a fake that needs no store: what the page itself costs.
func BenchmarkDashboardPage(b *testing.B) {
	now := time.Now().UTC()
	entries := make([]caddyotp.LedgerEntry, pageRecent)
	for i := range entries {
		billed := 0.0458
		entries[i] = caddyotp.LedgerEntry{Time: now.Add(-time.Duration(i) * time.Minute), Template: "login", Provider: "sns",
			MessageID: "m", Mobile: "+44•••••••456", Country: "GB", Parts: 1, PriceUSD: 0.0463, Status: "delivered",
			BilledUSD: &billed, Carrier: "Vodafone UK"}
	}
	rd := &fakeReader{countries: 50, entries: map[string][]caddyotp.LedgerEntry{"login": entries, "signup": entries}}
	d := newTestDashboard(rd, "login", "signup")
	vars := map[string]string{"http.auth.user.id": "ops"}
	for _, days := range []int{30, 400} {
		b.Run(fmt.Sprintf("days=%d", days), func(b *testing.B) {
			target := fmt.Sprintf("/?days=%d", days)
			var w *httptest.ResponseRecorder
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if w = serve(b, d, "GET", target, vars, nil); w.Code != http.StatusOK {
					b.Fatalf("expected 200, got %d", w.Code)
				}
			}
			b.ReportMetric(float64(w.Body.Len()), "page-bytes")
		})
	}
}

// BenchmarkChart400Days draws one chart of 400 days of two series.
func BenchmarkChart400Days(b *testing.B) {
	labels := dates(400)
	a, v := make([]float64, 400), make([]float64, 400)
	for i := range a {
		a[i], v[i] = float64(i%37+1), float64(i%11+1)
	}
	c := barChart{ID: "c", Title: "Sent", Labels: labels, Integer: true,
		Series: []series{{Name: "Sent", Class: "s-sent", Values: a}, {Name: "Verified", Class: "s-verified", Values: v}}}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_ = c.svg()
	}
}
