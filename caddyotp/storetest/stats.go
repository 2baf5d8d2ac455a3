package storetest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/caddyotp"
)

// The operator's view: the daily counts and the budget's spend.

// statsCases are Run's cases for the daily counts and BudgetSpent.
var statsCases = []storeCase{
	{"counts of sends", testCountsSends},
	{"counts of reports on the entry's day and country", testCountsReports},
	{"counts of a report once", testCountsReportOnce},
	{"counts of verified codes", testCountsVerified},
	{"counts of a range of days", testCountsRange},
	{"counts per template", testCountsPerTemplate},
	{"counts in parallel", testCountsParallel},
	{"budget spent", testBudgetSpent},
}

// statsDay is the UTC day of the suite's ledger entries (LedgerEntry).
var statsDay = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// day is the UTC noon n days after statsDay.
func day(n int) time.Time {
	return statsDay.AddDate(0, 0, n).Add(12 * time.Hour)
}

// DailyCounts reads the template's counts from the day of from to that of to, sorted by day
// and country, and fails the test on an error.
func DailyCounts(t *testing.T, s caddyotp.Store, template string, from, to time.Time) []caddyotp.DailyCount {
	t.Helper()
	got, err := s.DailyCounts(context.Background(), template, from, to)
	if err != nil {
		t.Fatalf("DailyCounts: expected no error, got %v", err)
	}
	sort.Slice(got, func(i, j int) bool {
		if got[i].Date != got[j].Date {
			return got[i].Date < got[j].Date
		}
		return got[i].Country < got[j].Country
	})
	return got
}

// CountVerified counts a code of the template used for country at at, and fails the test on
// an error.
func CountVerified(t *testing.T, s caddyotp.Store, template, country string, at time.Time) {
	t.Helper()
	if err := s.CountVerified(context.Background(), template, country, at); err != nil {
		t.Fatalf("CountVerified: expected no error, got %v", err)
	}
}

// BudgetSpent reads the spend of the UTC day and month of at, and fails the test on an error.
func BudgetSpent(t *testing.T, s caddyotp.Store, at time.Time) (day, month int64) {
	t.Helper()
	day, month, err := s.BudgetSpent(context.Background(), at)
	if err != nil {
		t.Fatalf("BudgetSpent: expected no error, got %v", err)
	}
	return day, month
}

// countsString shows counts one a line, for comparing them.
func countsString(counts []caddyotp.DailyCount) string {
	var b strings.Builder
	for _, c := range counts {
		fmt.Fprintf(&b, "\n\t%+v", c)
	}
	if b.Len() == 0 {
		return "\n\tnone"
	}
	return b.String()
}

// expectCounts checks the template's counts from the day of from to that of to; want is
// sorted by day and country.
func expectCounts(t *testing.T, s caddyotp.Store, template string, from, to time.Time, want ...caddyotp.DailyCount) {
	t.Helper()
	got := DailyCounts(t, s, template, from, to)
	if g, w := countsString(got), countsString(want); g != w {
		t.Fatalf("counts of %s from %s to %s: expected%s\ngot%s", template,
			caddyotp.StatsDate(from), caddyotp.StatsDate(to), w, g)
	}
}

// entryOf is LedgerEntry(template, i) to country with status and price.
func entryOf(template string, i int, country, status string, priceUSD float64) caddyotp.LedgerEntry {
	e := LedgerEntry(template, i)
	e.Country, e.Status, e.PriceUSD = country, status, priceUSD
	return e
}

// An SMS that left (sent or unknown) counts, with its estimate, on its UTC day and country
// (ZZ without one); one that failed or was a test number's does not.
func testCountsSends(t *testing.T, s caddyotp.Store) {
	for _, e := range []caddyotp.LedgerEntry{
		entryOf("login", 1, "GB", "sent", 0.0463),
		entryOf("login", 2, "GB", "unknown", 0.05),
		entryOf("login", 3, "GB", "sent", 0.0123456), // 12,345.6 micro-USD: rounded
		entryOf("login", 4, "GB", "failed", 0.0463),
		entryOf("login", 5, "GB", "test", 0),
		entryOf("login", 6, "", "sent", 0.0463),
		entryOf("login", 7, "US", "sent", 0),
	} {
		AppendLedger(t, s, e)
	}
	// 23:30 two hours west of Greenwich is the next UTC day
	late := entryOf("login", 8, "GB", "sent", 0.0463)
	late.Time = time.Date(2030, 1, 1, 23, 30, 0, 0, time.FixedZone("-02", -2*3600))
	AppendLedger(t, s, late)

	expectCounts(t, s, "login", day(-1), day(2),
		caddyotp.DailyCount{Date: "2030-01-01", Country: "GB", Sent: 3, EstimatedMicroUSD: 46_300 + 50_000 + 12_346},
		caddyotp.DailyCount{Date: "2030-01-01", Country: "US", Sent: 1},
		caddyotp.DailyCount{Date: "2030-01-01", Country: "ZZ", Sent: 1, EstimatedMicroUSD: 46_300},
		caddyotp.DailyCount{Date: "2030-01-02", Country: "GB", Sent: 1, EstimatedMicroUSD: 46_300},
	)
}

// A report counts on its entry's day and country, whenever it comes and whatever it says of
// the country; a price adds what was billed.
func testCountsReports(t *testing.T, s caddyotp.Store) {
	gb, us, gb2, none := entryOf("login", 1, "GB", "sent", 0.0463), entryOf("login", 2, "US", "sent", 0.0463),
		entryOf("login", 3, "GB", "unknown", 0.0463), entryOf("login", 4, "", "sent", 0.0463)
	for _, e := range []caddyotp.LedgerEntry{gb, us, gb2, none} {
		AppendLedger(t, s, e)
	}
	delivered := Delivered(gb.MessageID) // says GB, billed 0.05
	delivered.At = gb.Time.Add(36 * time.Hour)
	expectReport(t, s, "login", delivered, caddyotp.ReportApplied)
	failed := caddyotp.Report{MessageID: us.MessageID, Status: caddyotp.ReportFailed, HasPrice: true, Country: "GB", At: reportedAt}
	expectReport(t, s, "login", failed, caddyotp.ReportApplied)
	unpriced := caddyotp.Report{MessageID: gb2.MessageID, Status: caddyotp.ReportDelivered, At: reportedAt}
	expectReport(t, s, "login", unpriced, caddyotp.ReportApplied)
	expectReport(t, s, "login", Delivered(none.MessageID), caddyotp.ReportApplied)
	expectReport(t, s, "login", Delivered("not-ours"), caddyotp.ReportUnknown)

	expectCounts(t, s, "login", day(-1), day(3),
		caddyotp.DailyCount{Date: "2030-01-01", Country: "GB", Sent: 2, Delivered: 2, EstimatedMicroUSD: 2 * 46_300, BilledMicroUSD: 50_000},
		caddyotp.DailyCount{Date: "2030-01-01", Country: "US", Sent: 1, Failed: 1, EstimatedMicroUSD: 46_300},
		caddyotp.DailyCount{Date: "2030-01-01", Country: "ZZ", Sent: 1, Delivered: 1, EstimatedMicroUSD: 46_300, BilledMicroUSD: 50_000},
	)
	// nothing on the day the reports were applied either
	expectCounts(t, s, "login", time.Now(), time.Now())
}

// A report counts once: neither a duplicate nor a report racing it counts again.
func testCountsReportOnce(t *testing.T, s caddyotp.Store) {
	e := LedgerEntry("login", 1)
	AppendLedger(t, s, e)
	expectReport(t, s, "login", Delivered(e.MessageID), caddyotp.ReportApplied)
	expectReport(t, s, "login", Delivered(e.MessageID), caddyotp.ReportDuplicate)
	failed := Delivered(e.MessageID)
	failed.Status = caddyotp.ReportFailed
	expectReport(t, s, "login", failed, caddyotp.ReportDuplicate)

	raced := LedgerEntry("login", 2)
	AppendLedger(t, s, raced)
	errs := parallel(20, func(int) error {
		_, _, err := s.ApplyReport(context.Background(), "login", Delivered(raced.MessageID))
		return err
	})
	for _, err := range errs {
		if err != nil {
			t.Fatalf("ApplyReport: expected no error, got %v", err)
		}
	}
	expectCounts(t, s, "login", day(0), day(0),
		caddyotp.DailyCount{Date: "2030-01-01", Country: "GB", Sent: 2, Delivered: 2, EstimatedMicroUSD: 2 * 46_300, BilledMicroUSD: 2 * 50_000})
}

func testCountsVerified(t *testing.T, s caddyotp.Store) {
	CountVerified(t, s, "login", "GB", day(0))
	CountVerified(t, s, "login", "GB", day(0).Add(11*time.Hour))
	CountVerified(t, s, "login", "US", day(0))
	CountVerified(t, s, "login", "001", day(0))
	// 01:00 three hours east of Greenwich is the day before in UTC
	CountVerified(t, s, "login", "GB", time.Date(2030, 1, 3, 1, 0, 0, 0, time.FixedZone("+03", 3*3600)))
	AppendLedger(t, s, LedgerEntry("login", 1))

	expectCounts(t, s, "login", day(0), day(2),
		caddyotp.DailyCount{Date: "2030-01-01", Country: "001", Verified: 1},
		caddyotp.DailyCount{Date: "2030-01-01", Country: "GB", Sent: 1, Verified: 2, EstimatedMicroUSD: 46_300},
		caddyotp.DailyCount{Date: "2030-01-01", Country: "US", Verified: 1},
		caddyotp.DailyCount{Date: "2030-01-02", Country: "GB", Verified: 1},
	)
}

// DailyCounts returns the days of the range, both ends included, the ends taken as UTC
// days, at most MaxStatsDays of them.
func testCountsRange(t *testing.T, s caddyotp.Store) {
	for _, n := range []int{-1, 0, 1, 2, 399, 400} {
		CountVerified(t, s, "login", "GB", day(n))
	}
	verified := func(n int) caddyotp.DailyCount {
		return caddyotp.DailyCount{Date: caddyotp.StatsDate(day(n)), Country: "GB", Verified: 1}
	}
	expectCounts(t, s, "login", day(0), day(1), verified(0), verified(1))
	// from late on a day to early on the same day: that one day
	expectCounts(t, s, "login", day(1).Add(11*time.Hour), day(1).Add(-11*time.Hour), verified(1))
	// the ends in UTC: 00:30 two hours east of Greenwich is the day before
	east := time.FixedZone("+02", 2*3600)
	expectCounts(t, s, "login", time.Date(2030, 1, 1, 0, 30, 0, 0, east), time.Date(2030, 1, 1, 23, 0, 0, 0, east),
		verified(-1), verified(0))
	expectCounts(t, s, "login", day(0), day(caddyotp.MaxStatsDays-1), verified(0), verified(1), verified(2), verified(399))
	expectCounts(t, s, "login", day(3), day(398))

	ctx := context.Background()
	for name, r := range map[string][2]time.Time{
		"from after to": {day(1), day(0)},
		fmt.Sprintf("%d days", caddyotp.MaxStatsDays+1): {day(0), day(caddyotp.MaxStatsDays)},
	} {
		if _, err := s.DailyCounts(ctx, "login", r[0], r[1]); !errors.Is(err, caddyotp.ErrInvalidArgument) {
			t.Errorf("%s: expected ErrInvalidArgument, got %v", name, err)
		}
	}
}

// Each template has counts of its own.
func testCountsPerTemplate(t *testing.T, s caddyotp.Store) {
	AppendLedger(t, s, LedgerEntry("login", 1))
	AppendLedger(t, s, LedgerEntry("signup", 2))
	AppendLedger(t, s, LedgerEntry("signup", 3))
	expectReport(t, s, "signup", Delivered("m-2"), caddyotp.ReportApplied)
	CountVerified(t, s, "signup", "GB", day(0))

	expectCounts(t, s, "login", day(0), day(0),
		caddyotp.DailyCount{Date: "2030-01-01", Country: "GB", Sent: 1, EstimatedMicroUSD: 46_300})
	expectCounts(t, s, "signup", day(0), day(0),
		caddyotp.DailyCount{Date: "2030-01-01", Country: "GB", Sent: 2, Verified: 1, Delivered: 1, EstimatedMicroUSD: 2 * 46_300, BilledMicroUSD: 50_000})
	expectCounts(t, s, "other", day(0), day(0))
}

// Counts made at once all add up.
func testCountsParallel(t *testing.T, s caddyotp.Store) {
	const n = 50
	errs := parallel(n, func(i int) error {
		if err := s.AppendLedger(context.Background(), LedgerEntry("login", i)); err != nil {
			return err
		}
		return s.CountVerified(context.Background(), "login", "GB", day(0))
	})
	for _, err := range errs {
		if err != nil {
			t.Fatalf("expected no error, got %v", err)
		}
	}
	expectCounts(t, s, "login", day(0), day(0),
		caddyotp.DailyCount{Date: "2030-01-01", Country: "GB", Sent: n, Verified: n, EstimatedMicroUSD: n * 46_300})
}

// BudgetSpent is what ReserveBudget reserved, less what ReleaseBudget gave back, corrected
// by reports, per UTC day and month.
func testBudgetSpent(t *testing.T, s caddyotp.Store) {
	expectSpent := func(what string, at time.Time, day, month int64) {
		t.Helper()
		if d, m := BudgetSpent(t, s, at); d != day || m != month {
			t.Fatalf("%s: expected %d spent in the day and %d in the month, got %d and %d", what, day, month, d, m)
		}
	}
	expectSpent("nothing reserved", day(0), 0, 0)

	e := appendReported(t, s, "login", 1) // reserves 46,300 on its day
	ExpectAllowed(t, Reserve(t, s, e.Time, 46_300, caddyotp.BudgetCaps{}))
	release(t, s, e.Time, 46_300)
	ExpectAllowed(t, Reserve(t, s, day(1), 1_000, caddyotp.BudgetCaps{}))
	expectSpent("reserved and released", day(0), 46_300, 47_300)
	expectSpent("the next day", day(1), 1_000, 47_300)

	expectReport(t, s, "login", Delivered(e.MessageID), caddyotp.ReportApplied) // 3,700 more
	expectSpent("corrected by a report", day(0), 50_000, 51_000)
	// 01:00 three hours east of Greenwich is the day before in UTC
	expectSpent("a time in another zone", time.Date(2030, 1, 2, 1, 0, 0, 0, time.FixedZone("+03", 3*3600)), 50_000, 51_000)
	expectSpent("another month", day(31), 0, 0)
	expectSpent("another day of the month", day(2), 0, 51_000)
}
