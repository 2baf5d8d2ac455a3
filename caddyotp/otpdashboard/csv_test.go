package otpdashboard

import (
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/caddyotp"
)

// TestCSVShape: a header row, then one row per SMS of every template shown, newest first,
// as a download; a report's fields where one came, empty cells where none did.
func TestCSVShape(t *testing.T) {
	at := time.Date(2026, 12, 1, 14, 3, 22, 0, time.UTC)
	billed := 0.04581
	reported := at.Add(5 * time.Second)
	rd := &fakeReader{entries: map[string][]caddyotp.LedgerEntry{
		"login": {
			{Time: at, Template: "login", Provider: "eum", MessageID: "m-2", Mobile: "+44•••••••456", Country: "GB", Parts: 1,
				PriceUSD: 0.0463, Status: "delivered", BilledUSD: &billed, Carrier: "Vodafone UK", ReportedAt: &reported},
			{Time: at.Add(-2 * time.Minute), Template: "login", Provider: "sns", MessageID: "m-0", Mobile: "+1•••••••123", Country: "US",
				Parts: 2, PriceUSD: 0.0158, Status: "failed", Error: "=HYPERLINK(\"x\")"},
		},
		"signup": {
			{Time: at.Add(-time.Minute), Template: "signup", Provider: "sns", MessageID: "m-1", Mobile: "+44•••••••456", Country: "GB",
				Parts: 1, PriceUSD: 0.0463, Status: "sent", Carrier: "@carrier"},
		},
	}}
	d := newTestDashboard(rd, "login", "signup")
	w := serve(t, d, "GET", "/otp-dashboard/?format=csv", map[string]string{"http.auth.user.id": "ops"}, nil)
	if w.Code != 200 {
		t.Fatalf("expected 200, got %d %s", w.Code, w.Body)
	}
	expectSecurityHeaders(t, "csv", w.Header())
	if ct := w.Header().Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("expected text/csv, got %q", ct)
	}
	today := time.Now().UTC().Format("2006-01-02")
	if cd := w.Header().Get("Content-Disposition"); cd != `attachment; filename="otp-sms-`+today+`.csv"` {
		t.Errorf("expected an attachment named for today, got %q", cd)
	}
	records, err := csv.NewReader(strings.NewReader(w.Body.String())).ReadAll()
	if err != nil {
		t.Fatalf("expected valid CSV, got %v", err)
	}
	want := [][]string{
		csvHeader,
		{"2026-12-01T14:03:22Z", "login", "eum", "m-2", "+44•••••••456", "GB", "1", "0.0463", "0.04581", "delivered", "", "Vodafone UK", "2026-12-01T14:03:27Z"},
		{"2026-12-01T14:02:22Z", "signup", "sns", "m-1", "+44•••••••456", "GB", "1", "0.0463", "", "sent", "", "'@carrier", ""},
		{"2026-12-01T14:01:22Z", "login", "sns", "m-0", "+1•••••••123", "US", "2", "0.0158", "", "failed", "'=HYPERLINK(\"x\")", "", ""},
	}
	if len(records) != len(want) {
		t.Fatalf("expected %d records, got %d: %q", len(want), len(records), records)
	}
	for i := range want {
		if strings.Join(records[i], "|") != strings.Join(want[i], "|") {
			t.Errorf("record %d: expected %q, got %q", i, want[i], records[i])
		}
	}
	if got := strings.Join(rd.calls(), ", "); got != "recent login 1000, recent signup 1000" {
		t.Errorf("expected the newest 1000 of each template read, got %s", got)
	}
}

func TestCSVCell(t *testing.T) {
	for in, want := range map[string]string{"": "", "Vodafone": "Vodafone", "=1+1": "'=1+1", "+44": "'+44", "-2": "'-2",
		"@SUM(A1)": "'@SUM(A1)", "\tx": "'\tx", "a=b": "a=b"} {
		if got := cell(in); got != want {
			t.Errorf("cell(%q): expected %q, got %q", in, want, got)
		}
	}
}
