package otpdashboard

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/caddyotp"
)

func TestUSD(t *testing.T) {
	for in, want := range map[float64]string{0: "$0.00", 0.0463: "$0.0463", 0.55: "$0.55", 0.5: "$0.50", 3.1: "$3.10",
		12.3456: "$12.3456", 25: "$25.00", 123.456: "$123.46", 0.00001: "$0.00", -0.0012: "−$0.0012"} {
		if got := usd(in); got != want {
			t.Errorf("usd(%v): expected %q, got %q", in, want, got)
		}
	}
}

func TestMaskedMobile(t *testing.T) {
	for in, want := range map[string]string{
		"+44•••••••456":   "+44•••••••456", // as the ledger keeps it
		"+447400123456":   "+44•••••••456",
		"+12025550123":    "+1•••••••123",
		"447400123456":    "•••••••••456",
		"+44 7400 123456": "••••••••••••456",
		"":                "",
	} {
		if got := maskedMobile(in); got != want {
			t.Errorf("maskedMobile(%q): expected %q, got %q", in, want, got)
		}
	}
}

// TestTemplateOfMonth: today is the last day; the month adds up the days of the last
// day's month only, across a range that starts in the month before.
func TestTemplateOfMonth(t *testing.T) {
	st := caddyotp.Stats{Days: []caddyotp.DayStats{
		{Date: "2026-11-29", Sent: 100, Verified: 100, EstimatedUSD: 5},
		{Date: "2026-11-30", Sent: 100, Verified: 100, EstimatedUSD: 5},
		{Date: "2026-12-01", Sent: 3, Verified: 2, EstimatedUSD: 0.15, BilledUSD: 0.14},
		{Date: "2026-12-02", Sent: 4, Verified: 4, EstimatedUSD: 0.2, BilledUSD: 0.1},
	}, Countries: []caddyotp.CountryStats{{Country: "GB", Sent: 7}, {Country: "ZZ", Sent: 200}}}
	tv := templateOf("login", "t0", st, st)
	if tv.Today != (spendView{Sent: 4, Verified: 4, EstimatedUSD: 0.2, BilledUSD: 0.1}) {
		t.Errorf("expected today's counts from 2026-12-02, got %+v", tv.Today)
	}
	m := tv.Month
	if m.Sent != 7 || m.Verified != 6 || usd(m.EstimatedUSD) != "$0.35" || usd(m.BilledUSD) != "$0.24" {
		t.Errorf("expected December's 7 sent, 6 verified, $0.35 and $0.24, got %+v", m)
	}
	if tv.MonthName != "December 2026" {
		t.Errorf("expected December 2026, got %q", tv.MonthName)
	}
	if tv.Countries[0].Name != "GB" || tv.Countries[1].Name != "Unknown" {
		t.Errorf("expected GB and Unknown, got %+v", tv.Countries)
	}
	if !strings.Contains(string(tv.SentChart), `aria-labelledby="t0-sent-title t0-sent-desc"`) ||
		!strings.Contains(string(tv.SpendChart), `aria-labelledby="t0-usd-title t0-usd-desc"`) {
		t.Errorf("expected both charts with ids of their own")
	}
}

// TestRecentMerges: the newest n of all templates together, newest first.
func TestRecentMerges(t *testing.T) {
	at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	entry := func(tmpl string, min int) caddyotp.LedgerEntry {
		return caddyotp.LedgerEntry{Template: tmpl, Time: at.Add(time.Duration(min) * time.Minute), MessageID: tmpl + string(rune('0'+min))}
	}
	rd := &fakeReader{entries: map[string][]caddyotp.LedgerEntry{
		"login":  {entry("login", 9), entry("login", 5), entry("login", 1)},
		"signup": {entry("signup", 8), entry("signup", 7), entry("signup", 2)},
	}}
	got, err := recent(context.Background(), rd, []string{"login", "signup"}, 4)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range got {
		ids = append(ids, e.MessageID)
	}
	if strings.Join(ids, " ") != "login9 signup8 signup7 login5" {
		t.Errorf("expected login9 signup8 signup7 login5, got %v", ids)
	}
}

// TestCapOf: the share of a cap, with a decimal while it is small, and whether it is
// reached; no share without a cap.
func TestCapOf(t *testing.T) {
	for _, tt := range []struct {
		spent, cap float64
		want       capView
	}{
		{0.1873, 25, capView{Spent: 0.1873, Cap: 25, Share: "0.7%"}},
		{0, 25, capView{Cap: 25, Share: "0.0%"}},
		{12.5, 25, capView{Spent: 12.5, Cap: 25, Share: "50%"}},
		{25, 25, capView{Spent: 25, Cap: 25, Share: "100%", Over: true}},
		{3.1, 0, capView{Spent: 3.1}},
	} {
		if got := capOf(tt.spent, tt.cap); got != tt.want {
			t.Errorf("capOf(%v, %v): expected %+v, got %+v", tt.spent, tt.cap, tt.want, got)
		}
	}
}

func TestInTime(t *testing.T) {
	for d, want := range map[time.Duration]string{
		20 * time.Second:                "in under a minute",
		12*time.Minute + 10*time.Second: "in 12m",
		3 * time.Hour:                   "in 3h",
		95 * time.Minute:                "in 1h 35m",
	} {
		if got := inTime(d); got != want {
			t.Errorf("inTime(%s) = %q, expected %q", d, got, want)
		}
	}
}
