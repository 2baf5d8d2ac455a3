package caddyotp

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// The rules every Store keeps, so that the memory and Redis stores, and any store written
// outside this module, behave the same: the bounds they keep and the arguments they refuse.

const (
	// MinResend is the shortest resend interval a store starts (a zero interval starts none).
	MinResend = time.Second
	// LedgerKeep is how many entries a template's ledger keeps at least.
	LedgerKeep = 10000
	// LedgerTTL is how long a ledger lives after its last entry.
	LedgerTTL = 35 * 24 * time.Hour
	// BudgetDayTTL and BudgetMonthTTL keep a period's spend a little past its end.
	BudgetDayTTL   = 48 * time.Hour
	BudgetMonthTTL = 35 * 24 * time.Hour
)

// ErrInvalidArgument marks a call a store refuses to run because its arguments make no
// sense; it is a programming or configuration error, not the store being unavailable.
var ErrInvalidArgument = errors.New("invalid store argument")

// CheckCodeArgs checks PutCode's arguments: a hash, at least one attempt, a ttl of 1ms or more.
func CheckCodeArgs(hash []byte, attempts int, ttl time.Duration) error {
	switch {
	case len(hash) == 0:
		return fmt.Errorf("%w: empty code hash", ErrInvalidArgument)
	case attempts < 1:
		return fmt.Errorf("%w: attempts %d below 1", ErrInvalidArgument, attempts)
	case ttl < time.Millisecond:
		return fmt.Errorf("%w: code ttl %s below 1ms", ErrInvalidArgument, ttl)
	}
	return nil
}

// MaxRevocation bounds how far ahead a revocation may end: a gate session lives at most
// MaxSessionLife, and an hour more allows for instances whose clocks disagree.
const MaxRevocation = MaxSessionLife + time.Hour

// CheckRevocation checks RevokeSession's arguments. The id is not echoed: it names a live
// session.
func CheckRevocation(id string, until, now time.Time) error {
	switch {
	case !IsSessionID(id):
		return fmt.Errorf("%w: session id is not 32 lower-case hex digits", ErrInvalidArgument)
	case !until.After(now):
		return fmt.Errorf("%w: revocation ends at %s, not in the future", ErrInvalidArgument, until.UTC().Format(time.RFC3339))
	case until.Sub(now) > MaxRevocation:
		return fmt.Errorf("%w: revocation ends at %s, more than %s away", ErrInvalidArgument, until.UTC().Format(time.RFC3339), MaxRevocation)
	}
	return nil
}

// IsSessionID reports whether id is a gate session id: 32 lower-case hex digits.
func IsSessionID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for i := range len(id) {
		if c := id[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// RevocationEnd is until rounded up to the millisecond, as Redis keeps it, so that both
// stores deliver the same time and a revocation never ends before the session.
func RevocationEnd(until time.Time) time.Time {
	t := time.UnixMilli(until.UnixMilli())
	if t.Before(until) {
		t = t.Add(time.Millisecond)
	}
	return t
}

// NormalizeLockPolicy checks p; a Max below Base means locks of Base.
func NormalizeLockPolicy(p LockPolicy) (LockPolicy, error) {
	switch {
	case p.After < 0:
		return p, fmt.Errorf("%w: lock after %d failures", ErrInvalidArgument, p.After)
	case p.Window < time.Millisecond:
		return p, fmt.Errorf("%w: failure window %s below 1ms", ErrInvalidArgument, p.Window)
	case p.After > 0 && p.Base < time.Millisecond:
		return p, fmt.Errorf("%w: lock %s below 1ms", ErrInvalidArgument, p.Base)
	case p.Ceiling < 0:
		return p, fmt.Errorf("%w: ceiling of %d failures", ErrInvalidArgument, p.Ceiling)
	}
	p.Max = max(p.Max, p.Base)
	return p, nil
}

// LockLength is the length of the n-th lock of a run: Base doubled n-1 times, at most Max.
func LockLength(p LockPolicy, n int) time.Duration {
	d := p.Base
	for i := 1; i < n && d < p.Max; i++ {
		d *= 2
	}
	return min(d, p.Max)
}

// CheckLockGroup refuses an empty lock group: the service always names one (by default
// the template's name), so an empty one is a bug that would merge every group.
func CheckLockGroup(group string) error {
	if group == "" {
		return fmt.Errorf("%w: empty lock group", ErrInvalidArgument)
	}
	return nil
}

// CheckLimit checks one limit of Allow: a count of at least one in a window of 1ms or more.
func CheckLimit(l Limit) error {
	if l.Count < 1 || l.Window < time.Millisecond {
		return fmt.Errorf("%w: limit of %d in %s", ErrInvalidArgument, l.Count, l.Window)
	}
	return nil
}

// CheckBudgetArgs checks ReserveBudget's and ReleaseBudget's amounts: none negative.
func CheckBudgetArgs(microUSD int64, caps BudgetCaps) error {
	if microUSD < 0 || caps.DailyMicroUSD < 0 || caps.MonthlyMicroUSD < 0 {
		return fmt.Errorf("%w: negative budget amount", ErrInvalidArgument)
	}
	return nil
}

// BudgetPeriods names the UTC day and month of at.
func BudgetPeriods(at time.Time) (day, month string) {
	at = at.UTC()
	return "d:" + at.Format("2006-01-02"), "m:" + at.Format("2006-01")
}

// BudgetRetryAfter is the time from at to the start of the next UTC day, or month.
func BudgetRetryAfter(at time.Time, month bool) time.Duration {
	u := at.UTC()
	next := time.Date(u.Year(), u.Month(), u.Day()+1, 0, 0, 0, 0, time.UTC)
	if month {
		next = time.Date(u.Year(), u.Month()+1, 1, 0, 0, 0, 0, time.UTC)
	}
	return next.Sub(u)
}

// ReaderStateTTL is how long a report reader's cursor is kept after its last save.
const ReaderStateTTL = 30 * 24 * time.Hour

// MaxLease is the longest lease TakeLease grants.
const MaxLease = 30 * 24 * time.Hour

// CheckReport checks a report before any store sees it: a message id of at most 256 bytes,
// a status of ReportDelivered or ReportFailed, a billed price from 0 to 100 USD.
func CheckReport(r Report) error {
	switch {
	case r.MessageID == "":
		return fmt.Errorf("%w: report without a message id", ErrInvalidArgument)
	case len(r.MessageID) > 256:
		return fmt.Errorf("%w: report message id of %d bytes", ErrInvalidArgument, len(r.MessageID))
	case r.Status != ReportDelivered && r.Status != ReportFailed:
		return fmt.Errorf("%w: report status %q is neither %q nor %q", ErrInvalidArgument, r.Status, ReportDelivered, ReportFailed)
	case r.HasPrice && !(r.BilledUSD >= 0 && r.BilledUSD <= 100): // also NaN
		return fmt.Errorf("%w: billed price %v outside 0..100 USD", ErrInvalidArgument, r.BilledUSD)
	}
	return nil
}

// CheckLease checks TakeLease's arguments: a name and a holder, a ttl from 1ms to MaxLease.
func CheckLease(name, holder string, ttl time.Duration) error {
	switch {
	case name == "" || holder == "":
		return fmt.Errorf("%w: lease without a name or a holder", ErrInvalidArgument)
	case ttl < time.Millisecond || ttl > MaxLease:
		return fmt.Errorf("%w: lease of %s outside 1ms..%s", ErrInvalidArgument, ttl, MaxLease)
	}
	return nil
}

// CheckCursorName checks a cursor's name: not empty.
func CheckCursorName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: cursor without a name", ErrInvalidArgument)
	}
	return nil
}

// ToMicroUSD converts USD to the millionths the budget counts in, rounded.
func ToMicroUSD(usd float64) int64 { return int64(math.Round(usd * 1e6)) }

// ReportCorrection is the micro-USD by which applying a report moves the budget of its
// entry: the billed price less what the entry counted until then (the price its provider
// told at the send, else the estimate), or 0 when the report carries no price.
func ReportCorrection(e LedgerEntry, r Report) int64 {
	if !r.HasPrice {
		return 0
	}
	return ToMicroUSD(r.BilledUSD) - ToMicroUSD(countedUSD(e))
}

// BilledCorrection is the micro-USD by which applying a report moves BilledMicroUSD in the
// daily counts of its entry: the billed price less the price its provider told at the
// send (counted then), or 0 when the report carries no price.
func BilledCorrection(e LedgerEntry, r Report) int64 {
	if !r.HasPrice {
		return 0
	}
	if e.BilledUSD == nil {
		return ToMicroUSD(r.BilledUSD)
	}
	return ToMicroUSD(r.BilledUSD) - ToMicroUSD(*e.BilledUSD)
}

// countedUSD is what the budget counts for e: its billed price when known, else its estimate.
func countedUSD(e LedgerEntry) float64 {
	if e.BilledUSD != nil {
		return *e.BilledUSD
	}
	return e.PriceUSD
}

// ReportedEntry is e after taking r, as ApplyReport returns it and RecentLedger shows it.
func ReportedEntry(e LedgerEntry, r Report) LedgerEntry {
	e.Status = r.Status
	if r.HasPrice {
		billed := r.BilledUSD
		e.BilledUSD = &billed
	}
	if r.Carrier != "" {
		e.Carrier = r.Carrier
	}
	at := r.At.UTC()
	e.ReportedAt = &at
	return e
}

// StatsTTL is how long a day's counts are kept after their last update.
const StatsTTL = 400 * 24 * time.Hour

// MaxStatsDays is the most days DailyCounts reads in one call.
const MaxStatsDays = 400

// StatsDate names the UTC day of at as DailyCount.Date does.
func StatsDate(at time.Time) string { return at.UTC().Format("2006-01-02") }

// StatsDates names the UTC days from that of from to that of to, both included: the days
// DailyCounts reads.
func StatsDates(from, to time.Time) []string {
	first, last := from.UTC().Truncate(24*time.Hour), to.UTC().Truncate(24*time.Hour)
	var dates []string
	for d := first; !d.After(last); d = d.Add(24 * time.Hour) {
		dates = append(dates, StatsDate(d))
	}
	return dates
}

// CountsSend reports whether a ledger entry counts in Sent: its SMS left (sent or unknown).
func CountsSend(e LedgerEntry) bool { return e.Status == statusSent || e.Status == statusUnknown }

// CheckStatsRange checks DailyCounts' arguments: from not after to, at most MaxStatsDays days.
func CheckStatsRange(from, to time.Time) error {
	f, t := from.UTC().Truncate(24*time.Hour), to.UTC().Truncate(24*time.Hour)
	switch {
	case f.After(t):
		return fmt.Errorf("%w: counts from %s to %s: from is after to", ErrInvalidArgument, StatsDate(from), StatsDate(to))
	case t.Sub(f) >= MaxStatsDays*24*time.Hour:
		return fmt.Errorf("%w: counts of more than %d days", ErrInvalidArgument, MaxStatsDays)
	}
	return nil
}

// CheckCountry checks a country of the counts: 1 to 3 upper-case letters or digits (an ISO
// 3166-1 alpha-2 code, or libphonenumber's 001 for numbers of no country).
func CheckCountry(country string) error {
	ok := len(country) >= 1 && len(country) <= 3
	for i := 0; ok && i < len(country); i++ {
		c := country[i]
		ok = c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
	}
	if !ok {
		return fmt.Errorf("%w: country %q is not 1 to 3 upper-case letters or digits", ErrInvalidArgument, country)
	}
	return nil
}

// StatsCountry is the country a ledger entry is counted under: its own, or ZZ (unknown)
// when it has none.
func StatsCountry(country string) string {
	if country == "" {
		return "ZZ"
	}
	return country
}

// MaxRemember is the longest a gate remembers a device; MaxDevices is how many live devices
// a realm and mobile keep.
const (
	MaxRemember = 30 * 24 * time.Hour
	MaxDevices  = 20
)

// CheckDevice checks PutDevice's argument: an id like a session's, a realm, a mobile and a
// lifetime of at most MaxRemember that has not ended at now. The id is not echoed.
func CheckDevice(d Device, now time.Time) error {
	switch {
	case !IsSessionID(d.ID):
		return fmt.Errorf("%w: device id is not 32 lower-case hex digits", ErrInvalidArgument)
	case d.Realm == "" || len(d.Realm) > 255:
		return fmt.Errorf("%w: device realm is empty or longer than 255 bytes", ErrInvalidArgument)
	case d.Mobile == "" || len(d.Mobile) > 16:
		return fmt.Errorf("%w: device mobile is empty or longer than 16 bytes", ErrInvalidArgument)
	case len(d.User) > 255:
		return fmt.Errorf("%w: device user is longer than 255 bytes", ErrInvalidArgument)
	case !d.Expires.After(now):
		return fmt.Errorf("%w: device expires at %s, not in the future", ErrInvalidArgument, d.Expires.UTC().Format(time.RFC3339))
	case d.Expires.Sub(d.Created) > MaxRemember:
		return fmt.Errorf("%w: device lives %s, more than %s", ErrInvalidArgument, d.Expires.Sub(d.Created), MaxRemember)
	}
	return nil
}
