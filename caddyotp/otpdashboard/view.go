package otpdashboard

import (
	"context"
	"fmt"
	"html/template"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/internal/phone"
)

// pageView is everything the page shows.
type pageView struct {
	CSS       template.CSS
	Generated time.Time
	Days      int
	Ranges    []rangeLink
	Budget    budgetView
	Templates []templateView
	Recent    []smsRow
	RecentMax int
}

// rangeLink is one of the links that change the charts' range.
type rangeLink struct {
	Days    int
	Current bool
}

// budgetView is the app's budget (shared by every template) and its spend.
type budgetView struct {
	Day, Month capView
}

type capView struct {
	Spent, Cap float64 // USD; Cap 0 is no cap
	Share      string  // Spent of Cap in percent, "" without a cap
	Over       bool
}

// templateView is one template's part of the page.
type templateView struct {
	Name       string
	ID         string // the prefix of its element ids
	Today      spendView
	Month      spendView
	MonthName  string // "December 2026"
	SentChart  template.HTML
	SpendChart template.HTML
	Days       []caddyotp.DayStats // oldest first, the charts' range
	Countries  []countryRow
	Blocks     []blockRow // what the pumping guard blocks now, countries first
}

// blockRow is one destination the pumping guard blocks.
type blockRow struct {
	Scope       string // "country" or "prefix"
	Destination string // GB, or a number prefix
	Ends        string // how long the block still lasts, to the minute
}

// inTime says how long left is, to the minute: "in 1h 35m", "in 3h", "in 12m".
func inTime(left time.Duration) string {
	left = left.Round(time.Minute)
	h, m := int(left/time.Hour), int(left%time.Hour/time.Minute)
	switch {
	case left < time.Minute:
		return "in under a minute"
	case h == 0:
		return fmt.Sprintf("in %dm", m)
	case m == 0:
		return fmt.Sprintf("in %dh", h)
	}
	return fmt.Sprintf("in %dh %dm", h, m)
}

// blocksOf lists a template's guard blocks, countries first, each in order.
func blocksOf(blocks map[string]time.Duration) []blockRow {
	rows := make([]blockRow, 0, len(blocks))
	for key, left := range blocks {
		scope, dest, _ := strings.Cut(key, ":")
		rows = append(rows, blockRow{Scope: scope, Destination: dest, Ends: inTime(left)})
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].Scope != rows[j].Scope {
			return rows[i].Scope == caddyotp.GuardScopeCountry
		}
		return rows[i].Destination < rows[j].Destination
	})
	return rows
}

// spendView is a template's counts and spend over some days.
type spendView struct {
	Sent, Verified          int64
	EstimatedUSD, BilledUSD float64
}

type countryRow struct {
	caddyotp.CountryStats
	Name string // the code, or "Unknown" for ZZ
}

// smsRow is one ledger entry as the page and the CSV show it.
type smsRow struct {
	caddyotp.LedgerEntry
	Mobile string // masked, whatever the store gave
}

// ranges are the chart ranges the page links to.
var ranges = []int{7, 30, 90, 400}

// load reads what the page shows: each template's stats over days (and over this month,
// when the month began before the range) and the newest SMS of them all.
func (d *Dashboard) load(ctx context.Context, days int, now time.Time) (pageView, error) {
	v := pageView{Generated: now, Days: days, RecentMax: pageRecent}
	for _, n := range ranges {
		v.Ranges = append(v.Ranges, rangeLink{Days: n, Current: n == days})
	}
	for i, name := range d.Templates {
		st, err := d.reader.Stats(ctx, name, days)
		if err != nil {
			return pageView{}, err
		}
		month := st
		if now.Day() > days {
			if month, err = d.reader.Stats(ctx, name, now.Day()); err != nil {
				return pageView{}, err
			}
		}
		if i == 0 {
			v.Budget = budgetOf(st.Budget)
		}
		blocks, err := d.reader.GuardBlocks(ctx, name)
		if err != nil {
			return pageView{}, err
		}
		tv := templateOf(name, "t"+strconv.Itoa(i), st, month)
		tv.Blocks = blocksOf(blocks)
		v.Templates = append(v.Templates, tv)
	}
	entries, err := recent(ctx, d.reader, d.Templates, pageRecent)
	if err != nil {
		return pageView{}, err
	}
	v.Recent = rows(entries)
	return v, nil
}

func budgetOf(b caddyotp.BudgetStats) budgetView {
	return budgetView{Day: capOf(b.DailySpentUSD, b.DailyUSD), Month: capOf(b.MonthlySpentUSD, b.MonthlyUSD)}
}

func capOf(spent, cap float64) capView {
	c := capView{Spent: spent, Cap: cap}
	if cap > 0 {
		c.Share = share(spent / cap)
		c.Over = spent >= cap
	}
	return c
}

// templateOf builds a template's part of the page from its stats over the charts' range
// (st) and over at least this month (month: the same stats when the range covers it).
func templateOf(name, id string, st, month caddyotp.Stats) templateView {
	tv := templateView{Name: name, ID: id, Days: st.Days}
	if n := len(month.Days); n > 0 {
		last := month.Days[n-1]
		tv.Today = spendView{Sent: last.Sent, Verified: last.Verified, EstimatedUSD: last.EstimatedUSD, BilledUSD: last.BilledUSD}
		prefix := last.Date[:min(len(last.Date), 7)] // 2006-01
		for _, d := range month.Days {
			if strings.HasPrefix(d.Date, prefix) {
				tv.Month.Sent += d.Sent
				tv.Month.Verified += d.Verified
				tv.Month.EstimatedUSD += d.EstimatedUSD
				tv.Month.BilledUSD += d.BilledUSD
			}
		}
		if t, err := time.Parse("2006-01", prefix); err == nil {
			tv.MonthName = t.Format("January 2006")
		}
	}
	labels := make([]string, len(st.Days))
	sent, verified := make([]float64, len(st.Days)), make([]float64, len(st.Days))
	est, billed := make([]float64, len(st.Days)), make([]float64, len(st.Days))
	for i, d := range st.Days {
		labels[i] = d.Date
		sent[i], verified[i] = float64(d.Sent), float64(d.Verified)
		est[i], billed[i] = d.EstimatedUSD, d.BilledUSD
	}
	tv.SentChart = barChart{ID: id + "-sent", Title: "SMS sent and codes verified per day, " + name, Labels: labels, Integer: true,
		Series: []series{{Name: "Sent", Class: "s-sent", Values: sent}, {Name: "Verified", Class: "s-verified", Values: verified}},
		Format: func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }}.svg()
	tv.SpendChart = barChart{ID: id + "-usd", Title: "Estimated and billed USD per day, " + name, Labels: labels,
		Series: []series{{Name: "Estimated", Class: "s-estimated", Values: est}, {Name: "Billed", Class: "s-billed", Values: billed}},
		Format: usd}.svg()
	for _, c := range st.Countries {
		row := countryRow{CountryStats: c, Name: c.Country}
		if c.Country == "ZZ" || c.Country == "" {
			row.Name = "Unknown"
		}
		tv.Countries = append(tv.Countries, row)
	}
	return tv
}

// recent is the newest n SMS of the templates together, newest first.
func recent(ctx context.Context, rd reader, templates []string, n int) ([]caddyotp.LedgerEntry, error) {
	var all []caddyotp.LedgerEntry
	for _, name := range templates {
		entries, err := rd.RecentSMS(ctx, name, n)
		if err != nil {
			return nil, err
		}
		all = append(all, entries...)
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Time.After(all[j].Time) })
	if len(all) > n {
		all = all[:n]
	}
	return all, nil
}

func rows(entries []caddyotp.LedgerEntry) []smsRow {
	out := make([]smsRow, len(entries))
	for i, e := range entries {
		out[i] = smsRow{LedgerEntry: e, Mobile: maskedMobile(e.Mobile)}
	}
	return out
}

// maskedMobile is the ledger's mobile as the page may show it. The ledger keeps it masked
// already (a calling code and the last three digits: six digits at most); anything with
// more digits (a store that forgot) is masked here, so the page never shows a number.
func maskedMobile(s string) string {
	digits := 0
	for _, r := range s {
		if r >= '0' && r <= '9' {
			digits++
		}
	}
	if digits <= 6 {
		return s
	}
	return phone.MaskString(s)
}

// usd formats dollars: at least two decimals, up to four below $100 (one SMS part costs
// cents or less).
func usd(v float64) string {
	decimals := 4
	if v >= 100 || v <= -100 {
		decimals = 2
	}
	s := strconv.FormatFloat(v, 'f', decimals, 64)
	for decimals > 2 && strings.HasSuffix(s, "0") {
		s, decimals = s[:len(s)-1], decimals-1
	}
	if strings.HasPrefix(s, "-") {
		return "−$" + s[1:]
	}
	return "$" + s
}

// percent formats a 0..1 ratio as a whole percentage.
func percent(r float64) string { return fmt.Sprintf("%.0f%%", r*100) }

// share formats how much of a cap is spent: one decimal below 10%, so that a day's first
// SMS does not read as 0%.
func share(r float64) string {
	if r < 0.1 {
		return fmt.Sprintf("%.1f%%", r*100)
	}
	return fmt.Sprintf("%.0f%%", r*100)
}
