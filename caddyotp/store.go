package caddyotp

import (
	"context"
	"errors"
	"time"
)

// Store keeps everything the service must share between requests and, for a shared store,
// between Caddy instances: live codes, failure counters and locks, rate limits, the budget
// and the SMS ledger. Every method is one atomic step in the store. Stores are guest modules
// in the otp.stores namespace.
//
// A method returns an error only when the store could not answer (unreachable, past its
// deadline, read-only, a reply that makes no sense); the service then fails closed. A refusal
// (too soon, locked, over a limit) is an answer, not an error.
type Store interface {
	// ClaimSend is the first step of a send. It refuses with ReasonLocked while the mobile
	// is locked in lockGroup after failed verifications, with ReasonTooSoon while an earlier
	// send to the same template and mobile is younger than its resend interval, and
	// otherwise starts that interval (resend long; at least one second), marked with nonce.
	// A resend of zero starts no interval: only the lock is checked.
	ClaimSend(ctx context.Context, k CodeKey, lockGroup string, nonce string, resend time.Duration) (Decision, error)

	// ReleaseSend ends the resend interval started by ClaimSend with nonce, if it is still
	// that one. It is called when a send fails before or at the provider.
	ReleaseSend(ctx context.Context, k CodeKey, nonce string) error

	// PutCode stores the hash of a new code for k with attempts tries and a lifetime of ttl,
	// replacing any older code of k (which is dead from then on).
	PutCode(ctx context.Context, k CodeKey, hash []byte, attempts int, ttl time.Duration) error

	// DropCode removes k's code if it is still the one with hash (a failed send must not
	// leave a live code behind, nor remove a newer one).
	DropCode(ctx context.Context, k CodeKey, hash []byte) error

	// CheckCode checks hash against k's live code and consumes the code in the same step.
	// A right code is deleted and the mobile's failure run in lockGroup reset. A wrong one
	// costs one of the code's attempts (the last one burns the code) and adds one to the
	// mobile's failure run in lockGroup, which locks the mobile in that group per policy.
	// While the mobile is locked in lockGroup nothing is checked and the code is left as it
	// is. Runs and locks of other groups are neither read nor touched.
	CheckCode(ctx context.Context, k CodeKey, lockGroup string, hash []byte, policy LockPolicy) (CheckResult, error)

	// Allow takes one send from every limit of takes in one atomic step, all or nothing:
	// when each has room, each is charged one send; when one has none, none is charged
	// (a refused send spends no limit) and the answer is ReasonLimited with Limit, the kind
	// of the first in takes that had no room, and RetryAfter, the longest wait among those
	// that had none. Each limit is GCRA: Count sends in any window of Window, refilled
	// smoothly. The limits all belong to template, and each kind appears at most once.
	Allow(ctx context.Context, template string, takes []LimitTake) (Decision, error)

	// ReserveBudget adds microUSD to the spend of the UTC day and month of at, unless that
	// would pass a cap that is not zero; then it refuses with ReasonBudget and RetryAfter
	// set to the start of the next day or month.
	ReserveBudget(ctx context.Context, at time.Time, microUSD int64, caps BudgetCaps) (Decision, error)

	// ReleaseBudget gives back a reservation made with the same at and microUSD.
	ReleaseBudget(ctx context.Context, at time.Time, microUSD int64) error

	// AppendLedger records one send attempt in the template's SMS ledger, which keeps the
	// newest entries only (at least 10,000 a template). In the same atomic step, an entry
	// whose Status is "sent" or "unknown" (an SMS that left) adds one to Sent and its
	// PriceUSD to EstimatedMicroUSD in the daily counts of its template, UTC day (of Time)
	// and StatsCountry(Country); an entry that comes with BilledUSD (its provider told the
	// price in the answer to the send) adds that to BilledMicroUSD too. The entry keeps
	// BilledUSD as RecentLedger returns it, with no report taken.
	AppendLedger(ctx context.Context, e LedgerEntry) error

	// RecentLedger returns the template's newest ledger entries, newest first, at most n,
	// each with the report it took, if any.
	RecentLedger(ctx context.Context, template string, n int) ([]LedgerEntry, error)

	// ApplyReport gives the entry of r.MessageID in the template's ledger the report r, once:
	// the entry takes Status, BilledUSD (when r.HasPrice), Carrier and ReportedAt (r.At), and
	// the spend of the entry's UTC day and month moves by ReportCorrection (never below
	// zero; a period no longer kept is not corrected). In the step that marks the entry,
	// the daily counts of the entry's day and country add one to Delivered or Failed and
	// BilledCorrection to BilledMicroUSD. It answers
	// ReportDuplicate, changing nothing, when the entry has taken a report before, and
	// ReportUnknown when no entry kept has that id. With ReportApplied it returns the entry
	// as it now is. r passed CheckReport.
	ApplyReport(ctx context.Context, template string, r Report) (ReportOutcome, LedgerEntry, error)

	// CountVerified adds one to Verified in the daily counts of the template, the UTC day of
	// at and country: a code of that template, sent to that country, was used.
	CountVerified(ctx context.Context, template, country string, at time.Time) error

	// DailyCounts returns the template's daily counts from the UTC day of from to that of
	// to, both included (at most MaxStatsDays), one element per day and country that has any,
	// in no particular order. Counts are kept StatsTTL after their day's last update.
	DailyCounts(ctx context.Context, template string, from, to time.Time) ([]DailyCount, error)

	// BudgetSpent returns the micro-USD spent (reserved, less what was given back, corrected
	// by reports) in the UTC day and month of at.
	BudgetSpent(ctx context.Context, at time.Time) (day, month int64, err error)

	// SetCodeMessage notes the provider's message id on k's code, if it is still the one
	// with hash, so that CheckCode can return it with a right code (the sender's feedback).
	SetCodeMessage(ctx context.Context, k CodeKey, hash []byte, messageID string) error

	// TakeLease takes the lease name for holder for ttl (1ms to 30 days) when it is free or
	// already holder's (then it is renewed), and reports whether holder has it.
	TakeLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)

	// Cursor returns the value last saved under name by SetCursor, "" when there is none.
	Cursor(ctx context.Context, name string) (string, error)

	// SetCursor saves value under name for ReaderStateTTL.
	SetCursor(ctx context.Context, name, value string) error

	// RevokeSession revokes the gate session id (32 hex digits) on every instance that
	// shares the store, until `until` (the session's absolute expiry, at most 24h away;
	// after that the token is dead anyway). Watchers learn of it within a second.
	RevokeSession(ctx context.Context, id string, until time.Time) error

	// The pumping guard's counts and blocks.
	GuardStore

	// The gate's remembered devices.
	DeviceStore

	// WatchRevocations feeds fn with revocations until ctx ends, and returns only then.
	// It first delivers every revocation still in force, then calls health(true), then
	// delivers each new one as it is made. When the feed breaks (so revocations may be
	// missed) it calls health(false) within a second, reconnects by itself, delivers
	// every revocation in force again, and calls health(true). fn and health are called
	// from one goroutine.
	WatchRevocations(ctx context.Context, fn func(id string, until time.Time), health func(ok bool))
}

// GuardStore is the part of a Store that keeps the pumping guard's counts and blocks.
type GuardStore interface {
	// GuardBlocked returns how long the longest block of keys in the template's pumping
	// guard still lasts, 0 when none of them is blocked.
	GuardBlocked(ctx context.Context, template string, keys []string) (time.Duration, error)

	// GuardCount counts one SMS sent (verified false) or one code used (verified true) under
	// each of keys in the template's guard, at at, in fixed windows of p.Window (the current
	// and the previous are kept; GuardWindowCounts reads the rolling window from them). Then,
	// for a send, it judges each key with GuardJudge on the rolling counts and, where the mark
	// is reached and the key is not blocked already, blocks it for p.Block
	// and returns it: the keys this count blocked (or would have). All in one atomic step.
	GuardCount(ctx context.Context, template string, keys []string, verified bool, p GuardPolicy, at time.Time) ([]string, error)

	// GuardBlocks returns every key the template's guard blocks now, with how long each
	// block still lasts.
	GuardBlocks(ctx context.Context, template string) (map[string]time.Duration, error)
}

// ProcessLocal is implemented by a store whose state lives in this process alone and
// ends with it, such as the memory store. Only for such a store may the app make up a
// random secret when none is set: no other instance has to verify its codes and sessions.
type ProcessLocal interface {
	// ProcessLocal reports whether the store's state is this process's alone.
	ProcessLocal() bool
}

// CodeKey names one live code: a template and a mobile in E.164.
type CodeKey struct {
	Template string
	Mobile   string
}

// Reason says why a store refused.
type Reason string

const (
	ReasonNone    Reason = ""
	ReasonLocked  Reason = "locked"
	ReasonTooSoon Reason = "resend_too_soon"
	ReasonLimited Reason = "rate_limited"
	ReasonBudget  Reason = "budget_exhausted"
)

// Decision is a store's answer to a request for something limited.
type Decision struct {
	Allowed    bool
	Reason     Reason        // when not allowed
	RetryAfter time.Duration // when not allowed: how long until it may be
	Limit      string        // with ReasonLimited: the kind of limit that refused
}

// Outcome is the result of checking a code.
type Outcome string

const (
	OutcomeVerified  Outcome = "verified"
	OutcomeIncorrect Outcome = "incorrect" // wrong code, attempts remain
	OutcomeBurned    Outcome = "burned"    // wrong code, it was the last attempt: the code is gone
	OutcomeExpired   Outcome = "expired"   // no live code
	OutcomeLocked    Outcome = "locked"    // the mobile is locked; nothing was checked
)

// CheckResult is CheckCode's answer.
type CheckResult struct {
	Outcome      Outcome
	AttemptsLeft int           // with OutcomeIncorrect
	RetryAfter   time.Duration // with OutcomeLocked, and with LockedNow
	LockedNow    bool          // this failure (OutcomeIncorrect or OutcomeBurned) started a lock
	MessageID    string        // with OutcomeVerified: what SetCodeMessage noted on the code, if anything
}

// LockPolicy says when a run of failed verifications locks a mobile. The run counts every
// wrong code for the mobile in one lock group (the templates that share locks), across
// codes, resends, IPs and browsers, and ends only with a right code or Window after the
// last failure, or, once the run has reached Ceiling, Window after the end of its lock.
type LockPolicy struct {
	After  int           // every After-th failure in a run locks the mobile
	Base   time.Duration // the first lock of a run; each further lock in the run doubles it
	Max    time.Duration // locks never last longer
	Window time.Duration // a run is forgotten this long after its last failure
	// From the Ceiling-th failure of a run on, every failure locks the mobile for Window,
	// and the run is kept until Window after that lock ends; 0 means no ceiling.
	Ceiling int
}

// LimitTake is one limit a send takes from.
type LimitTake struct {
	Kind  string // mobile, ip, prefix or template
	Key   string // what the kind counts (the mobile, the client's network, the prefix); empty for template
	Limit Limit
}

// Limit is a number of sends in a sliding window.
type Limit struct {
	Count  int
	Window time.Duration
}

// BudgetCaps are spending caps in millionths of a US dollar; zero means no cap.
type BudgetCaps struct {
	DailyMicroUSD   int64
	MonthlyMicroUSD int64
}

// LedgerEntry is one SMS send attempt as the ledger keeps it. Mobile is masked.
type LedgerEntry struct {
	Time      time.Time `json:"time"`
	Template  string    `json:"template"`
	Provider  string    `json:"provider,omitempty"` // the sender's module name: "sns", "eum", "log", …
	MessageID string    `json:"message_id"`
	Mobile    string    `json:"mobile"`
	Country   string    `json:"country"`
	Parts     int       `json:"parts"`
	PriceUSD  float64   `json:"price_usd"` // the estimate, from the prices
	// "sent" (accepted, no report yet), "delivered" or "failed" (from a report), "failed"
	// (refused or never left: nothing billed), "unknown" (no answer: may be billed) or
	// "test" (a template's test number: no SMS, 0 USD, not counted in the daily counts)
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`

	// From the delivery report, when one came:
	BilledUSD  *float64   `json:"billed_usd,omitempty"`  // what the provider billed
	Carrier    string     `json:"carrier,omitempty"`     // the destination's carrier
	ReportedAt *time.Time `json:"reported_at,omitempty"` // when the provider reported
}

// DailyCount is what happened to one template's SMS to one country on one UTC day.
type DailyCount struct {
	Date              string // the UTC day, 2006-01-02
	Country           string // ISO 3166-1 alpha-2, ZZ for none (StatsCountry)
	Sent              int64  // SMS that left (ledger status sent or unknown)
	Verified          int64  // codes used
	Delivered         int64  // reported delivered
	Failed            int64  // reported failed
	EstimatedMicroUSD int64  // the estimates of the SMS that left
	BilledMicroUSD    int64  // what reports billed
}

// ErrStoreUnavailable wraps every error a store returns that means it could not answer.
var ErrStoreUnavailable = errors.New("store unavailable")

// Device is a remembered device: a browser that, until Expires, may renew a lapsed gate
// session of Realm (a template's name) and Mobile without an SMS, while it is on record.
type Device struct {
	ID      string    // 32 hex digits, also in the device cookie
	Realm   string    // the template's name
	Mobile  string    // E.164
	User    string    // the first factor's user, in identity-bound mode; else ""
	Created time.Time // when the code that remembered it was verified
	Expires time.Time // at most MaxRemember after Created
}

// DeviceStore keeps the gate's remembered devices, per realm and mobile. A device that is
// not on record (forgotten, or past Expires) renews nothing, on every instance at once.
type DeviceStore interface {
	// PutDevice records d (which passed CheckDevice). A realm and mobile keep at most
	// MaxDevices live devices: recording one more drops the one that expires first.
	// Expired records are never returned and are dropped by the store in time.
	PutDevice(ctx context.Context, d Device) error

	// Device returns the device id of realm and mobile, and whether it is on record and
	// live at now.
	Device(ctx context.Context, realm, mobile, id string, now time.Time) (Device, bool, error)

	// Devices lists the live devices of realm and mobile at now, newest Created first.
	Devices(ctx context.Context, realm, mobile string, now time.Time) ([]Device, error)

	// ForgetDevice removes the device id of realm and mobile; removing one that is not on
	// record is not an error.
	ForgetDevice(ctx context.Context, realm, mobile, id string) error

	// ForgetDevices removes every device of realm and mobile and returns how many were live.
	ForgetDevices(ctx context.Context, realm, mobile string, now time.Time) (int, error)
}
