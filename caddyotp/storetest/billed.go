package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/caddyotp"
)

// The price a provider tells in its answer to the send: counted at once, replaced by a
// report's.

// billedCases are Run's cases for entries appended with BilledUSD.
var billedCases = []storeCase{
	{"billed at send is kept and counted", testBilledAtSend},
	{"billed at send then reported at another price", testBilledThenReported},
	{"billed at send then reported without a price", testBilledReportedWithoutPrice},
	{"billed at send on a failed entry counts nothing", testBilledFailed},
	{"billed corrections follow the host's rules", testBilledRules},
}

// billedAtSendMicroUSD is what the suite's entries billed at the send: 0.041 USD, 5,300
// less than their estimate.
const billedAtSendMicroUSD = 41_000

// appendBilled appends LedgerEntry(template, i) with status, billed billedUSD at the send,
// and reserves what the service leaves in the budget for it: the billed price where the SMS
// left, nothing where it failed. It returns the entry.
func appendBilled(t *testing.T, s caddyotp.Store, template string, i int, status string, billedUSD float64) caddyotp.LedgerEntry {
	t.Helper()
	e := LedgerEntry(template, i)
	e.Provider, e.Status, e.BilledUSD = "http", status, &billedUSD
	if caddyotp.CountsSend(e) {
		ExpectAllowed(t, Reserve(t, s, e.Time, caddyotp.ToMicroUSD(billedUSD), caddyotp.BudgetCaps{}))
	}
	AppendLedger(t, s, e)
	return e
}

// The entry keeps its price, with no report taken, and its day and country count it as
// billed beside the estimate; the append leaves the budget alone.
func testBilledAtSend(t *testing.T, s caddyotp.Store) {
	sent := appendBilled(t, s, "login", 1, "sent", 0.041)
	unknown := appendBilled(t, s, "login", 2, "unknown", 0.041)

	expectEntry(t, "the sent entry in the ledger", ledgerEntry(t, s, "login", sent.MessageID), sent)
	expectEntry(t, "the unknown entry in the ledger", ledgerEntry(t, s, "login", unknown.MessageID), unknown)
	expectCounts(t, s, "login", day(0), day(0),
		caddyotp.DailyCount{Date: "2030-01-01", Country: "GB", Sent: 2,
			EstimatedMicroUSD: 2 * estimateMicroUSD, BilledMicroUSD: 2 * billedAtSendMicroUSD})
	expectSpend(t, s, sent.Time, 2*billedAtSendMicroUSD, 2*billedAtSendMicroUSD)

	// no report taken: the first one applies, once
	expectReport(t, s, "login", Delivered(sent.MessageID), caddyotp.ReportApplied)
	expectReport(t, s, "login", Delivered(sent.MessageID), caddyotp.ReportDuplicate)
}

// A report's price replaces the one billed at the send, in the counts and the budget: an
// SMS is never counted twice.
func testBilledThenReported(t *testing.T, s caddyotp.Store) {
	more := appendBilled(t, s, "login", 1, "sent", 0.041)
	less := appendBilled(t, s, "login", 2, "sent", 0.041)

	r := Delivered(more.MessageID) // 0.05: 9,000 more
	if c := caddyotp.ReportCorrection(more, r); c != 9_000 {
		t.Fatalf("expected the host's budget correction of 9000, got %d", c)
	}
	got := expectReport(t, s, "login", r, caddyotp.ReportApplied)
	want := more
	billed, at := 0.05, reportedAt.UTC()
	want.Status, want.Carrier, want.BilledUSD, want.ReportedAt = caddyotp.ReportDelivered, "Vodafone UK", &billed, &at
	expectEntry(t, "the applied entry", got, want)
	expectEntry(t, "the entry in the ledger", ledgerEntry(t, s, "login", more.MessageID), want)
	expectCounts(t, s, "login", day(0), day(0),
		caddyotp.DailyCount{Date: "2030-01-01", Country: "GB", Sent: 2, Delivered: 1,
			EstimatedMicroUSD: 2 * estimateMicroUSD, BilledMicroUSD: 50_000 + billedAtSendMicroUSD})
	expectSpend(t, s, more.Time, 50_000+billedAtSendMicroUSD, 50_000+billedAtSendMicroUSD)

	cheaper := Delivered(less.MessageID)
	cheaper.BilledUSD = 0.03 // 11,000 less
	expectReport(t, s, "login", cheaper, caddyotp.ReportApplied)
	expectCounts(t, s, "login", day(0), day(0),
		caddyotp.DailyCount{Date: "2030-01-01", Country: "GB", Sent: 2, Delivered: 2,
			EstimatedMicroUSD: 2 * estimateMicroUSD, BilledMicroUSD: 50_000 + 30_000})
	expectSpend(t, s, more.Time, 50_000+30_000, 50_000+30_000)
}

// A report without a price moves neither the billed counts nor the budget, and the entry
// keeps the price billed at the send.
func testBilledReportedWithoutPrice(t *testing.T, s caddyotp.Store) {
	e := appendBilled(t, s, "login", 1, "sent", 0.041)
	r := caddyotp.Report{MessageID: e.MessageID, Status: caddyotp.ReportDelivered, Carrier: "EE", At: reportedAt}
	got := expectReport(t, s, "login", r, caddyotp.ReportApplied)
	want := e
	at := reportedAt.UTC()
	want.Status, want.Carrier, want.ReportedAt = caddyotp.ReportDelivered, "EE", &at
	expectEntry(t, "the applied entry", got, want)
	expectEntry(t, "the entry in the ledger", ledgerEntry(t, s, "login", e.MessageID), want)
	expectCounts(t, s, "login", day(0), day(0),
		caddyotp.DailyCount{Date: "2030-01-01", Country: "GB", Sent: 1, Delivered: 1,
			EstimatedMicroUSD: estimateMicroUSD, BilledMicroUSD: billedAtSendMicroUSD})
	expectSpend(t, s, e.Time, billedAtSendMicroUSD, billedAtSendMicroUSD)
}

// A failed entry that comes with a price keeps it, and counts nothing: not sent, not
// estimated, not billed.
func testBilledFailed(t *testing.T, s caddyotp.Store) {
	e := appendBilled(t, s, "login", 1, "failed", 0.041)
	expectEntry(t, "the entry in the ledger", ledgerEntry(t, s, "login", e.MessageID), e)
	expectCounts(t, s, "login", day(-1), day(1))
	expectSpend(t, s, e.Time, 0, 0)
}

// The stores move the billed counts by caddyotp.BilledCorrection and the budget by
// caddyotp.ReportCorrection, prices rounded to the micro-USD as ToMicroUSD does. Each
// entry has a day of its own, so that its counts and its day's spend are its alone.
func testBilledRules(t *testing.T, s caddyotp.Store) {
	price := func(usd float64) *float64 { return &usd }
	atSend := []*float64{nil, price(0), price(0.041), price(0.0123456), price(0.0999995)}
	reports := []*float64{nil, price(0), price(0.05), price(0.0123454), price(0.1000005)}
	n := 0
	for _, billed := range atSend {
		for _, reported := range reports {
			n++
			e := LedgerEntry("login", n)
			e.Time, e.BilledUSD = day(n).Add(time.Duration(n)*time.Minute), billed
			r := caddyotp.Report{MessageID: e.MessageID, Status: caddyotp.ReportDelivered, At: reportedAt}
			if reported != nil {
				r.BilledUSD, r.HasPrice = *reported, true
			}
			what := fmt.Sprintf("billed %s at send, reported %s", usdString(billed), usdString(reported))

			counted := caddyotp.ToMicroUSD(e.PriceUSD) // what the service leaves reserved
			billedMicro := int64(0)
			if billed != nil {
				counted = caddyotp.ToMicroUSD(*billed)
				billedMicro = counted
			}
			ExpectAllowed(t, Reserve(t, s, e.Time, counted, caddyotp.BudgetCaps{}))
			AppendLedger(t, s, e)
			expectReport(t, s, "login", r, caddyotp.ReportApplied)

			wantBilled := billedMicro + caddyotp.BilledCorrection(e, r)
			wantSpend := counted + caddyotp.ReportCorrection(e, r)
			got := DailyCounts(t, s, "login", e.Time, e.Time)
			if len(got) != 1 || got[0].BilledMicroUSD != wantBilled || got[0].EstimatedMicroUSD != estimateMicroUSD {
				t.Errorf("%s: expected billed %d and estimated %d micro-USD, got%s", what, wantBilled, estimateMicroUSD, countsString(got))
			}
			if spent, _ := BudgetSpent(t, s, e.Time); spent != wantSpend {
				t.Errorf("%s: expected a day's spend of %d micro-USD, got %d", what, wantSpend, spent)
			}
		}
	}
}

// usdString shows a price that may be missing.
func usdString(usd *float64) string {
	if usd == nil {
		return "none"
	}
	return fmt.Sprint(*usd)
}
