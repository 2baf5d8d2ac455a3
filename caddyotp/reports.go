package caddyotp

import (
	"context"
	"time"
)

// Reporter reads a provider's delivery reports and hands each one to a ReportSink. Reporters
// are guest modules in the otp.reports namespace (`sqs`, `cloudwatch_logs`). The app starts
// one run per ReporterKey in the whole process: a config reload that keeps a reporter keeps
// its run (it goes on with the new app's sink), so no queue or log group is ever read twice
// by one process.
type Reporter interface {
	// ReporterKey names what the reporter reads (such as the queue's URL with the region and
	// endpoint): two reporters with one key are one run.
	ReporterKey() string

	// Run reads reports until ctx ends and returns only then. It never gives up: when the
	// provider is unreachable or throttles it, it logs, backs off and tries again. A report
	// that makes no sense is logged and dropped, never a reason to stop.
	Run(ctx context.Context, sink ReportSink)
}

// ReportSink is where a Reporter puts what it reads: the app, through the store.
type ReportSink interface {
	// ApplyReport applies r at most once: the ledger entry of r.MessageID gets the report's
	// status, billed price, carrier and time, and the budget's day and month are corrected
	// by billed − estimate. An error means the store could not answer: keep the report and
	// try again later.
	ApplyReport(ctx context.Context, r Report) (ReportOutcome, error)

	// TakeLease takes or renews the lease name for holder for ttl, and reports whether
	// holder has it: a reader that must be the only one of its kind (a log group has no
	// queue to share out its events) reads only while it holds the lease.
	TakeLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)

	// Cursor returns the read position saved under name, "" when there is none.
	Cursor(ctx context.Context, name string) (string, error)

	// SetCursor saves the read position of name (kept for ReaderStateTTL after the last save).
	SetCursor(ctx context.Context, name, value string) error
}

// Report is one final delivery report of one SMS, in the provider's words translated.
type Report struct {
	MessageID string // the provider's message id, as Sender.Send returned it
	Provider  string // the module name of the sender that sent it: "eum", "sns"
	Status    string // ReportDelivered or ReportFailed

	// BilledUSD is what the provider billed for the whole message, all parts and carrier
	// fees together; it counts only when HasPrice is set (a report may carry no price).
	BilledUSD float64
	HasPrice  bool

	Carrier     string    // the destination's carrier, when reported
	Country     string    // ISO 3166-1 alpha-2, when reported (the ledger's own wins)
	Parts       int       // message parts, when reported
	Description string    // the provider's words on the outcome, for the log
	Template    string    // the template the send named (End User Messaging's Context), a hint
	At          time.Time // when the provider reported
}

// The statuses a report gives a ledger entry.
const (
	ReportDelivered = "delivered"
	ReportFailed    = "failed"
)

// ReportOutcome says what applying a report did.
type ReportOutcome string

const (
	// ReportApplied: the ledger entry took the report, and the budget was corrected.
	ReportApplied ReportOutcome = "applied"
	// ReportDuplicate: the entry had taken a report before; nothing changed.
	ReportDuplicate ReportOutcome = "duplicate"
	// ReportUnknown: no ledger entry has that message id (not ours, trimmed, or its own
	// entry not written yet); nothing changed.
	ReportUnknown ReportOutcome = "unknown"
)
