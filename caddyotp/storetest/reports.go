package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/caddyotp"
)

// The delivery reports: ApplyReport on the ledger and the budget.

// reportCases are Run's cases for ApplyReport.
var reportCases = []storeCase{
	{"report delivered with a price", testReportDelivered},
	{"report applied once", testReportDuplicate},
	{"report of an unknown message", testReportUnknown},
	{"report of another template's message", testReportOtherTemplate},
	{"report failed", testReportFailed},
	{"report without a price", testReportWithoutPrice},
	{"report correction stops at zero", testReportBelowZero},
	{"report corrects only the periods kept", testReportPeriodsKept},
	{"report applied once in parallel", testReportParallel},
	{"report of a trimmed entry", testReportTrimmed},
}

// reportedAt is when the suite's reports say the provider reported: not in UTC, to the
// nanosecond, as a reader may hand it over.
var reportedAt = time.Date(2030, 1, 1, 1, 5, 0, 123456789, time.FixedZone("CET", 3600))

// estimateMicroUSD is what the suite's entries (LedgerEntry) reserved: their PriceUSD.
const estimateMicroUSD = 46_300

// Delivered is a delivery report for id that billed 0.05 USD (50,000 micro-USD: 3,700 more
// than the estimate of LedgerEntry).
func Delivered(id string) caddyotp.Report {
	return caddyotp.Report{
		MessageID: id, Provider: "eum", Status: caddyotp.ReportDelivered,
		BilledUSD: 0.05, HasPrice: true, Carrier: "Vodafone UK", Country: "GB", Parts: 1,
		Description: "Message has been accepted by phone", Template: "login", At: reportedAt,
	}
}

// ApplyReport applies r to the template's ledger and fails the test on an error.
func ApplyReport(t *testing.T, s caddyotp.Store, template string, r caddyotp.Report) (caddyotp.ReportOutcome, caddyotp.LedgerEntry) {
	t.Helper()
	out, e, err := s.ApplyReport(context.Background(), template, r)
	if err != nil {
		t.Fatalf("ApplyReport: expected no error, got %v", err)
	}
	return out, e
}

// expectReport applies r and checks the outcome.
func expectReport(t *testing.T, s caddyotp.Store, template string, r caddyotp.Report, want caddyotp.ReportOutcome) caddyotp.LedgerEntry {
	t.Helper()
	out, e := ApplyReport(t, s, template, r)
	if out != want {
		t.Fatalf("report of %s in %s: expected %s, got %s", r.MessageID, template, want, out)
	}
	return e
}

// appendReported appends LedgerEntry(template, i) as sent by eum, and reserves its
// estimate in the budget as the service does before a send. It returns the entry.
func appendReported(t *testing.T, s caddyotp.Store, template string, i int) caddyotp.LedgerEntry {
	t.Helper()
	e := LedgerEntry(template, i)
	e.Provider = "eum"
	ExpectAllowed(t, Reserve(t, s, e.Time, estimateMicroUSD, caddyotp.BudgetCaps{}))
	AppendLedger(t, s, e)
	return e
}

// EntryString shows every field of e, times in UTC, for comparing entries.
func EntryString(e caddyotp.LedgerEntry) string {
	billed, reported := "none", "none"
	if e.BilledUSD != nil {
		billed = fmt.Sprint(*e.BilledUSD)
	}
	if e.ReportedAt != nil {
		reported = e.ReportedAt.UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprintf("time=%s template=%s provider=%s message_id=%s mobile=%s country=%s parts=%d price_usd=%v status=%s error=%q billed_usd=%s carrier=%q reported_at=%s",
		e.Time.UTC().Format(time.RFC3339Nano), e.Template, e.Provider, e.MessageID, e.Mobile, e.Country,
		e.Parts, e.PriceUSD, e.Status, e.Error, billed, e.Carrier, reported)
}

// expectEntry checks every field of got against want.
func expectEntry(t *testing.T, what string, got, want caddyotp.LedgerEntry) {
	t.Helper()
	if g, w := EntryString(got), EntryString(want); g != w {
		t.Fatalf("%s: expected\n\t%s\ngot\n\t%s", what, w, g)
	}
}

// ledgerEntry returns the entry of id among the template's newest 100.
func ledgerEntry(t *testing.T, s caddyotp.Store, template, id string) caddyotp.LedgerEntry {
	t.Helper()
	for _, e := range RecentLedger(t, s, template, 100) {
		if e.MessageID == id {
			return e
		}
	}
	t.Fatalf("expected %s in the ledger of %s, got none", id, template)
	return caddyotp.LedgerEntry{}
}

// expectSpend checks the spend of the UTC day and month of at, through ReserveBudget
// against caps, and leaves it as it was (a period with no spend is then kept at zero).
func expectSpend(t *testing.T, s caddyotp.Store, at time.Time, day, month int64) {
	t.Helper()
	for _, p := range []struct {
		name  string
		spent int64
		caps  caddyotp.BudgetCaps
	}{
		{"day", day, caddyotp.BudgetCaps{DailyMicroUSD: day + 1}},
		{"month", month, caddyotp.BudgetCaps{MonthlyMicroUSD: month + 1}},
	} {
		// room for one micro-USD more, not for two: the spend is exactly p.spent
		if d := Reserve(t, s, at, 1, p.caps); !d.Allowed {
			t.Fatalf("expected a %s spend of %d micro-USD, got more (%+v)", p.name, p.spent, d)
		}
		release(t, s, at, 1)
		if d := Reserve(t, s, at, 2, p.caps); d.Allowed {
			release(t, s, at, 2)
			t.Fatalf("expected a %s spend of %d micro-USD, got less", p.name, p.spent)
		}
	}
}

func testReportDelivered(t *testing.T, s caddyotp.Store) {
	e := appendReported(t, s, "login", 1)
	other := appendReported(t, s, "login", 2)
	r := Delivered(e.MessageID)
	got := expectReport(t, s, "login", r, caddyotp.ReportApplied)

	want := e
	want.Status, want.Carrier = caddyotp.ReportDelivered, "Vodafone UK"
	billed, at := 0.05, reportedAt.UTC()
	want.BilledUSD, want.ReportedAt = &billed, &at
	expectEntry(t, "the applied entry", got, want)
	expectEntry(t, "the entry in the ledger", ledgerEntry(t, s, "login", e.MessageID), want)
	expectEntry(t, "the other entry", ledgerEntry(t, s, "login", other.MessageID), other)
	if ledger := RecentLedger(t, s, "login", 10); len(ledger) != 2 || ledger[1].MessageID != e.MessageID {
		t.Fatalf("expected the reported entry to keep its place, got %d entries", len(ledger))
	}
	// two estimates, one of them now billed at 3,700 more
	expectSpend(t, s, e.Time, 2*estimateMicroUSD+3_700, 2*estimateMicroUSD+3_700)
}

func testReportDuplicate(t *testing.T, s caddyotp.Store) {
	e := appendReported(t, s, "login", 1)
	expectReport(t, s, "login", Delivered(e.MessageID), caddyotp.ReportApplied)
	applied := ledgerEntry(t, s, "login", e.MessageID)

	expectReport(t, s, "login", Delivered(e.MessageID), caddyotp.ReportDuplicate)
	// another report of the same message changes nothing either
	failed := Delivered(e.MessageID)
	failed.Status, failed.BilledUSD, failed.Carrier = caddyotp.ReportFailed, 0.09, "EE"
	expectReport(t, s, "login", failed, caddyotp.ReportDuplicate)

	expectEntry(t, "the entry after duplicates", ledgerEntry(t, s, "login", e.MessageID), applied)
	expectSpend(t, s, e.Time, estimateMicroUSD+3_700, estimateMicroUSD+3_700)
}

func testReportUnknown(t *testing.T, s caddyotp.Store) {
	expectReport(t, s, "login", Delivered("m-1"), caddyotp.ReportUnknown) // no ledger at all
	e := appendReported(t, s, "login", 1)
	expectReport(t, s, "login", Delivered("not-ours"), caddyotp.ReportUnknown)
	expectReport(t, s, "login", Delivered("m-10"), caddyotp.ReportUnknown) // starts with a kept id
	expectEntry(t, "the entry", ledgerEntry(t, s, "login", e.MessageID), e)
	expectSpend(t, s, e.Time, estimateMicroUSD, estimateMicroUSD)
}

func testReportOtherTemplate(t *testing.T, s caddyotp.Store) {
	e := appendReported(t, s, "login", 1)
	appendReported(t, s, "signup", 2)
	expectReport(t, s, "signup", Delivered(e.MessageID), caddyotp.ReportUnknown)
	expectEntry(t, "the entry", ledgerEntry(t, s, "login", e.MessageID), e)
	expectSpend(t, s, e.Time, 2*estimateMicroUSD, 2*estimateMicroUSD)
	expectReport(t, s, "login", Delivered(e.MessageID), caddyotp.ReportApplied)
}

// A failed SMS billed nothing: the estimate leaves the budget.
func testReportFailed(t *testing.T, s caddyotp.Store) {
	e := appendReported(t, s, "login", 1)
	r := caddyotp.Report{MessageID: e.MessageID, Status: caddyotp.ReportFailed, HasPrice: true, At: reportedAt}
	got := expectReport(t, s, "login", r, caddyotp.ReportApplied)
	want := e
	zero, at := 0.0, reportedAt.UTC()
	want.Status, want.BilledUSD, want.ReportedAt = caddyotp.ReportFailed, &zero, &at
	expectEntry(t, "the applied entry", got, want)
	expectEntry(t, "the entry in the ledger", ledgerEntry(t, s, "login", e.MessageID), want)
	expectSpend(t, s, e.Time, 0, 0)
}

func testReportWithoutPrice(t *testing.T, s caddyotp.Store) {
	e := appendReported(t, s, "login", 1)
	r := caddyotp.Report{MessageID: e.MessageID, Status: caddyotp.ReportDelivered, Carrier: "EE", At: reportedAt}
	got := expectReport(t, s, "login", r, caddyotp.ReportApplied)
	want := e
	at := reportedAt.UTC()
	want.Status, want.Carrier, want.ReportedAt = caddyotp.ReportDelivered, "EE", &at
	expectEntry(t, "the applied entry", got, want)
	expectEntry(t, "the entry in the ledger", ledgerEntry(t, s, "login", e.MessageID), want)
	expectSpend(t, s, e.Time, estimateMicroUSD, estimateMicroUSD)
}

// Budget spend never goes below zero (the estimate was released meanwhile, or reserved at
// another price).
func testReportBelowZero(t *testing.T, s caddyotp.Store) {
	e := LedgerEntry("login", 1)
	ExpectAllowed(t, Reserve(t, s, e.Time, 10_000, caddyotp.BudgetCaps{}))
	AppendLedger(t, s, e)
	r := Delivered(e.MessageID)
	r.BilledUSD = 0.001 // 1,000 − 46,300: −45,300 on a spend of 10,000
	expectReport(t, s, "login", r, caddyotp.ReportApplied)
	expectSpend(t, s, e.Time, 0, 0)
}

// A period whose spend is no longer kept is not corrected (nor made again).
func testReportPeriodsKept(t *testing.T, s caddyotp.Store) {
	// The month is kept (by a send on the next day), the entry's day is not.
	e := LedgerEntry("login", 1)
	next := e.Time.Add(24 * time.Hour)
	ExpectAllowed(t, Reserve(t, s, next, 100, caddyotp.BudgetCaps{}))
	AppendLedger(t, s, e)
	expectReport(t, s, "login", Delivered(e.MessageID), caddyotp.ReportApplied)
	expectSpend(t, s, next, 100, 100+3_700)
	expectSpend(t, s, e.Time, 0, 100+3_700)

	// Neither is kept.
	old := LedgerEntry("login", 2)
	old.Time = time.Date(2029, 6, 10, 12, 0, 0, 0, time.UTC)
	AppendLedger(t, s, old)
	expectReport(t, s, "login", Delivered(old.MessageID), caddyotp.ReportApplied)
	expectSpend(t, s, old.Time, 0, 0)
}

func testReportParallel(t *testing.T, s caddyotp.Store) {
	e := appendReported(t, s, "login", 1)
	type result struct {
		out caddyotp.ReportOutcome
		err error
	}
	results := parallel(50, func(int) result {
		out, _, err := s.ApplyReport(context.Background(), "login", Delivered(e.MessageID))
		return result{out, err}
	})
	counts := map[caddyotp.ReportOutcome]int{}
	for _, r := range results {
		if r.err != nil {
			t.Fatalf("ApplyReport: expected no error, got %v", r.err)
		}
		counts[r.out]++
	}
	if counts[caddyotp.ReportApplied] != 1 || counts[caddyotp.ReportDuplicate] != 49 {
		t.Fatalf("expected 1 applied and 49 duplicates, got %v", counts)
	}
	expectSpend(t, s, e.Time, estimateMicroUSD+3_700, estimateMicroUSD+3_700)
}

// An entry trimmed out of the ledger is unknown to reports, and so is an entry trimmed
// after it took one (not a duplicate: the store forgets its id with it).
func testReportTrimmed(t *testing.T, s caddyotp.Store) {
	const extra = 150
	fillLedger(t, s, caddyotp.LedgerKeep+extra)
	kept := RecentLedger(t, s, "login", 2*caddyotp.LedgerKeep)
	listed := make(map[string]bool, len(kept))
	for _, e := range kept {
		listed[e.MessageID] = true
	}
	trimmed := 0
	for i := range caddyotp.LedgerKeep + extra {
		if id := fmt.Sprintf("m-%d", i); !listed[id] {
			expectReport(t, s, "login", Delivered(id), caddyotp.ReportUnknown)
			trimmed++
		}
	}
	if trimmed == 0 {
		t.Fatalf("expected the ledger to keep only its newest entries, got all %d", len(kept))
	}

	// The oldest kept entries take a report, then newer entries push them out.
	oldest := kept[len(kept)-5:]
	for _, e := range oldest {
		expectReport(t, s, "login", Delivered(e.MessageID), caddyotp.ReportApplied)
	}
	if got := RecentLedger(t, s, "login", 2*caddyotp.LedgerKeep); got[len(got)-1].Status != caddyotp.ReportDelivered {
		t.Fatalf("expected the oldest entry delivered, got %s", EntryString(got[len(got)-1]))
	}
	for i := range len(oldest) {
		AppendLedger(t, s, LedgerEntry("login", 100000+i))
	}
	now := RecentLedger(t, s, "login", 2*caddyotp.LedgerKeep)
	for _, e := range oldest {
		want := caddyotp.ReportUnknown
		if ledgerEntryIn(now, e.MessageID) != nil {
			want = caddyotp.ReportDuplicate // a store that trims less keeps it, and its report
		}
		expectReport(t, s, "login", Delivered(e.MessageID), want)
	}
}

// ledgerEntryIn returns the entry of id in entries, or nil.
func ledgerEntryIn(entries []caddyotp.LedgerEntry, id string) *caddyotp.LedgerEntry {
	for i := range entries {
		if entries[i].MessageID == id {
			return &entries[i]
		}
	}
	return nil
}
