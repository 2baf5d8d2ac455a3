package caddyotp

import (
	"context"
	"math"
	"sort"
	"strings"
	"time"
)

// Stats is what a template's SMS did over some days: the answer of GET …/sms-stats and what
// the dashboard draws.
type Stats struct {
	Template  string         `json:"template"`
	Days      []DayStats     `json:"days"`      // every day of the range, oldest first
	Countries []CountryStats `json:"countries"` // the countries with any count, most sent first
	Budget    BudgetStats    `json:"budget"`
}

// DayStats are one UTC day's counts, all countries together.
type DayStats struct {
	Date         string  `json:"date"` // 2006-01-02
	Sent         int64   `json:"sent"` // SMS that left (ledger status sent, delivered or unknown)
	Verified     int64   `json:"verified"`
	Delivered    int64   `json:"delivered"`
	Failed       int64   `json:"failed"`
	EstimatedUSD float64 `json:"estimated_usd"`
	BilledUSD    float64 `json:"billed_usd"`
}

// CountryStats are one destination country's counts over the whole range.
type CountryStats struct {
	Country      string  `json:"country"`
	Sent         int64   `json:"sent"`
	Verified     int64   `json:"verified"`
	Conversion   float64 `json:"conversion"` // verified ÷ sent, 0 when nothing was sent
	EstimatedUSD float64 `json:"estimated_usd"`
	BilledUSD    float64 `json:"billed_usd"`
	Blocked      bool    `json:"blocked"` // refused by the pumping guard now
}

// BudgetStats are the budget's caps (0: none) and today's and this month's spend.
type BudgetStats struct {
	DailyUSD        float64 `json:"daily_usd"`
	DailySpentUSD   float64 `json:"daily_spent_usd"`
	MonthlyUSD      float64 `json:"monthly_usd"`
	MonthlySpentUSD float64 `json:"monthly_spent_usd"`
}

// MaxStatsRange is the most days Stats covers; DefaultStatsRange is what sms-stats shows
// when no `days` is asked for.
const (
	MaxStatsRange     = MaxStatsDays
	DefaultStatsRange = 30
)

// Stats returns the template's counts for the days UTC days that end with today, and the
// budget as it stands. days outside 1..MaxStatsRange is an invalid_days *Error; a store
// that fails gives a store_unavailable one.
func (a *App) Stats(ctx context.Context, t *Template, days int) (Stats, error) {
	if days < 1 || days > MaxStatsRange {
		return Stats{}, NewError(CodeInvalidDays, "days must be a whole number from 1 to %d", MaxStatsRange)
	}
	now := time.Now().UTC()
	from := now.AddDate(0, 0, -(days - 1))
	counts, err := a.store.DailyCounts(ctx, t.name, from, now)
	if err != nil {
		return Stats{}, StoreError(err)
	}
	daySpent, monthSpent, err := a.store.BudgetSpent(ctx, now)
	if err != nil {
		return Stats{}, StoreError(err)
	}
	blocks, err := a.GuardBlocks(ctx, t)
	if err != nil {
		return Stats{}, err
	}
	st := Stats{Template: t.name, Days: make([]DayStats, days), Countries: []CountryStats{}}
	index := make(map[string]int, days)
	for i := range days {
		date := StatsDate(from.AddDate(0, 0, i))
		st.Days[i] = DayStats{Date: date}
		index[date] = i
	}
	byCountry := map[string]*CountryStats{}
	dayEst, dayBilled := make([]int64, days), make([]int64, days)
	countryEst, countryBilled := map[string]int64{}, map[string]int64{}
	for _, c := range counts {
		i, ok := index[c.Date]
		if !ok {
			continue // a store that answers more than it was asked
		}
		d := &st.Days[i]
		d.Sent += c.Sent
		d.Verified += c.Verified
		d.Delivered += c.Delivered
		d.Failed += c.Failed
		dayEst[i] += c.EstimatedMicroUSD
		dayBilled[i] += c.BilledMicroUSD
		cs := byCountry[c.Country]
		if cs == nil {
			cs = &CountryStats{Country: c.Country}
			byCountry[c.Country] = cs
		}
		cs.Sent += c.Sent
		cs.Verified += c.Verified
		countryEst[c.Country] += c.EstimatedMicroUSD
		countryBilled[c.Country] += c.BilledMicroUSD
	}
	for i := range st.Days {
		st.Days[i].EstimatedUSD, st.Days[i].BilledUSD = microToUSD(dayEst[i]), microToUSD(dayBilled[i])
	}
	if !t.Guard.isShadow() {
		for key := range blocks {
			if country, ok := strings.CutPrefix(key, GuardScopeCountry+":"); ok && byCountry[country] == nil {
				byCountry[country] = &CountryStats{Country: country} // blocked with nothing in the range
			}
		}
	}
	for country, cs := range byCountry {
		_, blocked := blocks[GuardScopeCountry+":"+country]
		cs.Blocked = blocked && !t.Guard.isShadow()
		cs.EstimatedUSD, cs.BilledUSD = microToUSD(countryEst[country]), microToUSD(countryBilled[country])
		if cs.Sent > 0 {
			cs.Conversion = math.Round(float64(cs.Verified)/float64(cs.Sent)*1e4) / 1e4
		}
		st.Countries = append(st.Countries, *cs)
	}
	sort.Slice(st.Countries, func(i, j int) bool {
		a, b := st.Countries[i], st.Countries[j]
		if a.Sent != b.Sent {
			return a.Sent > b.Sent
		}
		return a.Country < b.Country
	})
	st.Budget = BudgetStats{DailySpentUSD: microToUSD(daySpent), MonthlySpentUSD: microToUSD(monthSpent)}
	if a.Budget != nil {
		st.Budget.DailyUSD, st.Budget.MonthlyUSD = a.Budget.Daily, a.Budget.Monthly
	}
	return st, nil
}

// microToUSD converts the store's micro-USD to USD.
func microToUSD(micro int64) float64 { return float64(micro) / 1e6 }
