package caddyotp_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/caddyotp"
)

// TestStats: sends, a right code and reports show in the day's and the countries' counts,
// the budget beside them; every day of the range is listed, oldest first.
func TestStats(t *testing.T) {
	app := reportApp(t) // login and signup, daily budget 1 USD, 0.05 USD an SMS
	ctx := context.Background()
	s := &feedbackSender{given: make(chan string, 4)}
	app.SetSenderForTest(s)
	login := app.Template("login")

	gb, us := "+447400123470", "+12025550123"
	if _, err := app.Send(ctx, caddyotp.SendRequest{Template: login, Mobile: gb}); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Send(ctx, caddyotp.SendRequest{Template: login, Mobile: us}); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Verify(ctx, caddyotp.VerifyRequest{Template: login, Mobile: gb, Code: s.texts[0]}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []caddyotp.Report{
		{MessageID: "msg-" + s.texts[0], Status: caddyotp.ReportDelivered, HasPrice: true, BilledUSD: 0.04},
		{MessageID: "msg-" + s.texts[1], Status: caddyotp.ReportFailed, HasPrice: true, BilledUSD: 0},
	} {
		if out, err := app.ApplyReport(ctx, r); err != nil || out != caddyotp.ReportApplied {
			t.Fatalf("expected %s applied, got %q, %v", r.MessageID, out, err)
		}
	}
	// another template's send counts in its own stats only
	if _, err := app.Send(ctx, caddyotp.SendRequest{Template: app.Template("signup"), Mobile: "+447400123471"}); err != nil {
		t.Fatal(err)
	}

	st, err := app.Stats(ctx, login, 3)
	if err != nil {
		t.Fatal(err)
	}
	today := time.Now().UTC()
	if len(st.Days) != 3 || st.Days[0].Date != today.AddDate(0, 0, -2).Format("2006-01-02") || st.Days[2].Date != today.Format("2006-01-02") {
		t.Fatalf("expected 3 days ending today, oldest first, got %+v", st.Days)
	}
	want := caddyotp.DayStats{Date: today.Format("2006-01-02"), Sent: 2, Verified: 1, Delivered: 1, Failed: 1, EstimatedUSD: 0.10, BilledUSD: 0.04}
	if st.Days[2] != want || st.Days[0] != (caddyotp.DayStats{Date: st.Days[0].Date}) {
		t.Errorf("expected today %+v and nothing before, got %+v", want, st.Days)
	}
	wantCountries := []caddyotp.CountryStats{
		{Country: "GB", Sent: 1, Verified: 1, Conversion: 1, EstimatedUSD: 0.05, BilledUSD: 0.04},
		{Country: "US", Sent: 1, EstimatedUSD: 0.05},
	}
	if len(st.Countries) != 2 || st.Countries[0] != wantCountries[0] || st.Countries[1] != wantCountries[1] {
		t.Errorf("expected countries %+v, got %+v", wantCountries, st.Countries)
	}
	// the budget counts every template: 0.04 billed + 0 billed + 0.05 estimated (signup)
	if b := st.Budget; b.DailyUSD != 1 || b.MonthlyUSD != 0 || b.DailySpentUSD != 0.09 || b.MonthlySpentUSD != 0.09 {
		t.Errorf("expected the budget 1 USD a day with 0.09 spent today and this month, got %+v", b)
	}
	for _, days := range []int{0, caddyotp.MaxStatsRange + 1} {
		var e *caddyotp.Error
		if _, err := app.Stats(ctx, login, days); !errors.As(err, &e) || e.Code != caddyotp.CodeInvalidDays {
			t.Errorf("expected %d days refused as invalid_days, got %v", days, err)
		}
	}
	if _, err := app.Stats(ctx, login, caddyotp.MaxStatsRange); err != nil {
		t.Errorf("expected %d days answered, got %v", caddyotp.MaxStatsRange, err)
	}
}
