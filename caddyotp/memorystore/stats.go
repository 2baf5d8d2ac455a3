// What the operator's view reads: the daily counts and the budget's spend.

package memorystore

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/internal/ttlmap"
)

// The bounds of the daily counts, apart from max_entries. One template's counts of one UTC
// day are one entry, which lives caddyotp.StatsTTL after its last update; a day holds at
// most maxCountCountries countries. Dates come from the clock and templates from the
// config, so real traffic stays far below: 50 templates counted every day for 400 days.
const (
	maxCountDays      = 20_000
	maxCountCountries = 300 // more than there are countries (about 250, with ZZ and 001)
)

// countDayKey names one template's counts of one UTC day (caddyotp.StatsDate).
type countDayKey struct {
	template string
	date     string
}

// countDay is one template's counts of one UTC day, by country.
type countDay map[string]*caddyotp.DailyCount

// countsFull is the error of a count that found no room within the bounds above.
func (st *memoryState) countsFull() error {
	return fmt.Errorf("%w: memory store daily counts full (%d template-days of at most %d countries)",
		caddyotp.ErrStoreUnavailable, st.countDays.Max(), maxCountCountries)
}

// addCount adds add's counters to the counts of template, the UTC day of at and country,
// and keeps that day StatsTTL from now. It fails with countsFull, changing nothing, when
// the day or the country would pass a bound. The caller holds mu.
func (st *memoryState) addCount(template string, at time.Time, country string, add caddyotp.DailyCount, now time.Time) error {
	key := countDayKey{template: template, date: caddyotp.StatsDate(at)}
	day, ok := st.counts.Get(key, now)
	if !ok {
		day = countDay{}
	}
	c := day[country]
	if c == nil {
		if len(day) >= maxCountCountries {
			return st.countsFull()
		}
		c = &caddyotp.DailyCount{Date: key.date, Country: country}
	}
	// Set before the counters change: a day refused by the bound is left as it was.
	if err := st.counts.Set(key, day, now.Add(caddyotp.StatsTTL), now); err != nil {
		return st.countsFull()
	}
	day[country] = c
	c.Sent += add.Sent
	c.Verified += add.Verified
	c.Delivered += add.Delivered
	c.Failed += add.Failed
	c.EstimatedMicroUSD += add.EstimatedMicroUSD
	c.BilledMicroUSD += add.BilledMicroUSD
	return nil
}

// countBeside makes a count that goes with a ledger step (a send, a report). A full store
// drops the count and logs it (at most once a minute); the ledger step stands: an SMS that
// left must stay in the ledger, for its report and the operator. The caller holds mu.
func (s *MemoryStore) countBeside(st *memoryState, template string, at time.Time, country string, add caddyotp.DailyCount, now time.Time) {
	err := st.addCount(template, at, country, add, now)
	if err == nil || s.logger == nil {
		return
	}
	if st.countsLogged.IsZero() || now.Sub(st.countsLogged) >= time.Minute || now.Before(st.countsLogged) {
		st.countsLogged = now
		s.logger.Error("memory store daily counts full: a count was dropped",
			zap.String("template", template), zap.String("date", caddyotp.StatsDate(at)),
			zap.String("country", country), zap.Error(err))
	}
}

// CountVerified implements Store.
func (s *MemoryStore) CountVerified(_ context.Context, template, country string, at time.Time) error {
	if err := caddyotp.CheckCountry(country); err != nil {
		return err
	}
	st, now := s.enter()
	defer st.mu.Unlock()
	return st.addCount(template, at, country, caddyotp.DailyCount{Verified: 1}, now)
}

// DailyCounts implements Store: one look-up per day of the range.
func (s *MemoryStore) DailyCounts(_ context.Context, template string, from, to time.Time) ([]caddyotp.DailyCount, error) {
	if err := caddyotp.CheckStatsRange(from, to); err != nil {
		return nil, err
	}
	st, now := s.enter()
	defer st.mu.Unlock()
	out := []caddyotp.DailyCount{}
	for _, date := range caddyotp.StatsDates(from, to) {
		day, _ := st.counts.Get(countDayKey{template: template, date: date}, now)
		for _, c := range day {
			out = append(out, *c)
		}
	}
	return out, nil
}

// BudgetSpent implements Store: a period the store no longer holds has spent nothing.
func (s *MemoryStore) BudgetSpent(_ context.Context, at time.Time) (day, month int64, err error) {
	st, now := s.enter()
	defer st.mu.Unlock()
	dayKey, monthKey := caddyotp.BudgetPeriods(at)
	d, _ := st.budget.Get(dayKey, now)
	m, _ := st.budget.Get(monthKey, now)
	return d.microUSD, m.microUSD, nil
}

// newCounts is the map of the daily counts and its bound, apart from max_entries.
func newCounts() (*ttlmap.Map[countDayKey, countDay], *ttlmap.Budget) {
	b := ttlmap.NewBudget(maxCountDays)
	return ttlmap.New[countDayKey, countDay](b), b
}
