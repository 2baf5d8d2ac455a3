package memorystore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/storetest"
)

// countsOf returns the login counts of the UTC day of at, by country.
func countsOf(t *testing.T, s *MemoryStore, at time.Time) map[string]caddyotp.DailyCount {
	t.Helper()
	out := map[string]caddyotp.DailyCount{}
	for _, c := range storetest.DailyCounts(t, s, "login", at, at) {
		out[c.Country] = c
	}
	return out
}

// TestMemoryStoreCountsTTL: a day's counts are kept StatsTTL after their last update, by
// the store's clock; any update of the day (a send, a report, a verified code) keeps all
// its countries.
func TestMemoryStoreCountsTTL(t *testing.T) {
	clock := &fakeClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := newTestMemoryStore(t, clock.now)
	e := storetest.LedgerEntry("login", 1)
	storetest.AppendLedger(t, s, e)
	storetest.CountVerified(t, s, "login", "US", e.Time)

	clock.add(caddyotp.StatsTTL - time.Nanosecond)
	if got := countsOf(t, s, e.Time); len(got) != 2 {
		t.Fatalf("expected GB and US kept until StatsTTL, got %v", got)
	}
	storetest.ApplyReport(t, s, "login", storetest.Delivered(e.MessageID)) // updates GB of that day
	clock.add(caddyotp.StatsTTL - time.Nanosecond)
	got := countsOf(t, s, e.Time)
	if got["GB"].Delivered != 1 || got["US"].Verified != 1 {
		t.Fatalf("expected the report to keep the day, got %v", got)
	}
	clock.add(time.Nanosecond)
	if got := countsOf(t, s, e.Time); len(got) != 0 {
		t.Fatalf("expected the day gone StatsTTL after its last update, got %v", got)
	}
	// a count on a day that expired starts it again from zero
	storetest.CountVerified(t, s, "login", "GB", e.Time)
	if got := countsOf(t, s, e.Time); len(got) != 1 || got["GB"] != (caddyotp.DailyCount{Date: "2030-01-01", Country: "GB", Verified: 1}) {
		t.Fatalf("expected only the new count, got %v", got)
	}
}

// TestMemoryStoreCountsBounded: past the counts' bound a count that needs a new day or
// country is dropped: CountVerified fails closed, a send or report still goes into the
// ledger, and the dropped count is logged once a minute. Kept days and countries still
// count, and room comes back as days expire.
func TestMemoryStoreCountsBounded(t *testing.T) {
	clock := &fakeClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := newTestMemoryStore(t, clock.now)
	core, logs := observer.New(zapcore.ErrorLevel)
	s.logger = zap.New(core)
	ctx := context.Background()
	s.state.mu.Lock()
	s.state.countDays.SetMax(3)
	s.state.mu.Unlock()
	expectCountsFull := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, caddyotp.ErrStoreUnavailable) || !strings.Contains(err.Error(), "daily counts full (3 template-days of at most 300 countries)") {
			t.Fatalf("%s: expected ErrStoreUnavailable saying the counts are full, got %v", what, err)
		}
	}

	day := func(n int) time.Time { return time.Date(2030, 1, 1+n, 12, 0, 0, 0, time.UTC) }
	storetest.CountVerified(t, s, "login", "GB", day(0))
	storetest.CountVerified(t, s, "login", "GB", day(1))
	storetest.CountVerified(t, s, "signup", "GB", day(0)) // the third template-day
	expectCountsFull("a fourth day", s.CountVerified(ctx, "login", "GB", day(2)))

	// A send on a new day is in the ledger, its count dropped and logged; a report too.
	e := storetest.LedgerEntry("login", 1)
	e.Time = day(2)
	storetest.AppendLedger(t, s, e)
	if got := storetest.RecentLedger(t, s, "login", 1); len(got) != 1 || got[0].MessageID != e.MessageID {
		t.Fatalf("expected the send in the ledger, got %v", got)
	}
	if out, _ := storetest.ApplyReport(t, s, "login", storetest.Delivered(e.MessageID)); out != caddyotp.ReportApplied {
		t.Fatalf("expected the report applied, got %s", out)
	}
	if got := storetest.DailyCounts(t, s, "login", day(2), day(2)); len(got) != 0 {
		t.Fatalf("expected no counts on the fourth day, got %v", got)
	}
	dropped := logs.FilterMessage("memory store daily counts full: a count was dropped").All()
	if len(dropped) != 1 || dropped[0].ContextMap()["date"] != "2030-01-03" {
		t.Fatalf("expected the dropped count logged once, got %d logs", logs.Len())
	}
	clock.add(time.Minute)
	storetest.AppendLedger(t, s, storetest.LedgerEntry("login", 2)) // a kept day: counted, not logged
	e3 := storetest.LedgerEntry("login", 3)
	e3.Time = day(3)
	storetest.AppendLedger(t, s, e3)
	if n := logs.Len(); n != 2 {
		t.Fatalf("expected a second log a minute later, got %d logs", n)
	}
	if got := countsOf(t, s, day(0)); got["GB"].Sent != 1 || got["GB"].Verified != 1 {
		t.Fatalf("expected a kept day to go on counting, got %v", got)
	}

	// A day holds at most 300 countries; the ones it holds go on counting.
	for i := 1; i < maxCountCountries; i++ {
		storetest.CountVerified(t, s, "login", fmt.Sprintf("%03d", i), day(1))
	}
	expectCountsFull("a 301st country", s.CountVerified(ctx, "login", "XX", day(1)))
	storetest.CountVerified(t, s, "login", "GB", day(1))
	if got := countsOf(t, s, day(1)); len(got) != maxCountCountries || got["GB"].Verified != 2 {
		t.Fatalf("expected %d countries and GB counted twice, got %d countries and %+v", maxCountCountries, len(got), got["GB"])
	}

	// Once the kept days expire, new ones fit again.
	clock.add(caddyotp.StatsTTL)
	storetest.CountVerified(t, s, "login", "GB", day(5))
	storetest.CountVerified(t, s, "login", "XX", day(1))
	if got := countsOf(t, s, day(1)); len(got) != 1 {
		t.Fatalf("expected the expired day started again, got %d countries", len(got))
	}
}
