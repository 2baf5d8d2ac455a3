package redisstore

import (
	"strconv"
	"time"

	"github.com/caddyotp/caddyotp/caddyotp"
)

// redisKeys is the one place that names Redis keys. All keys of one mobile share the hash
// tag {<mobile>}, all limits of one template share {lim:<template>} (one script takes them
// all at once), the budget keys share {budget}, every ledger has a tag of its own (which
// its two hashes and its template's daily counts share), the report readers' leases
// and cursors share {readers}, and the keys of a template's pumping guard share
// {guard:<template>}, so that each script touches a single Cluster slot.
type redisKeys struct {
	prefix string
}

// mobileTag is the common start of every key of one mobile.
func (k redisKeys) mobileTag(mobile string) string {
	return k.prefix + "{" + mobile + "}"
}

// code holds a live code: a hash with h (the code's keyed hash) and a (attempts left).
func (k redisKeys) code(c caddyotp.CodeKey) string {
	return k.mobileTag(c.Mobile) + ":code:" + c.Template
}

// cooldown holds the nonce of the send whose resend interval is running.
func (k redisKeys) cooldown(c caddyotp.CodeKey) string {
	return k.mobileTag(c.Mobile) + ":cool:" + c.Template
}

// failures counts the mobile's current run of wrong codes in a lock group (the templates
// that share locks).
func (k redisKeys) failures(group, mobile string) string {
	return k.mobileTag(mobile) + ":fail:" + group
}

// lock exists while the mobile is locked in a lock group.
func (k redisKeys) lock(group, mobile string) string {
	return k.mobileTag(mobile) + ":lock:" + group
}

// locks counts the locks of the current run in a lock group, which sets the next lock's
// length.
func (k redisKeys) locks(group, mobile string) string {
	return k.mobileTag(mobile) + ":locks:" + group
}

// devices holds the gate's remembered devices of a realm (a template's name) and mobile:
// a hash of device id → deviceValue. It shares the mobile's tag, so that devices spread
// over the Cluster with the mobiles rather than crowd one slot per realm, and lives until
// its last device expires.
func (k redisKeys) devices(realm, mobile string) string {
	return k.mobileTag(mobile) + ":device:" + realm
}

// limit holds the GCRA theoretical arrival time of one limit of a template. The template
// limit puts every send of a template on one key anyway, so the common tag adds no hot spot.
func (k redisKeys) limit(template string, tk caddyotp.LimitTake) string {
	return k.prefix + "{lim:" + template + "}:" + tk.Kind + ":" + tk.Key
}

// budgetDay and budgetMonth hold the micro-USD reserved in the UTC day and month of at.
func (k redisKeys) budgetDay(at time.Time) string {
	return k.prefix + "{budget}:d:" + at.UTC().Format("2006-01-02")
}

func (k redisKeys) budgetMonth(at time.Time) string {
	return k.prefix + "{budget}:m:" + at.UTC().Format("2006-01")
}

// ledger is the template's SMS ledger, a stream: each entry has the field e (the entry as
// JSON) and, when the send has a message id, m (that id), d and c (the day and country its
// counts go to) and, when its provider told the price at the send, b (that price in
// micro-USD).
func (k redisKeys) ledger(template string) string {
	return k.prefix + "{ledger:" + template + "}"
}

// ledgerIDs is a hash beside the ledger: message id → the stream id of its entry, for the
// entries the stream holds. It shares the ledger's tag and TTL.
func (k redisKeys) ledgerIDs(template string) string {
	return k.ledger(template) + ":ids"
}

// ledgerReports is a hash beside the ledger: stream id → the report its entry took, as
// JSON, for the entries the stream holds. It shares the ledger's tag and TTL.
func (k redisKeys) ledgerReports(template string) string {
	return k.ledger(template) + ":reports"
}

// statsDays starts the names of the template's daily counts; statsDay names those of one
// UTC day (caddyotp.StatsDate): a hash of "<country>:<counter>" → a count (counter fields
// below). It shares the ledger's tag, so that the ledger's scripts count in the step that
// writes the ledger, and lives StatsTTL after its last update.
func (k redisKeys) statsDays(template string) string {
	return k.ledger(template) + ":day:"
}

func (k redisKeys) statsDay(template, date string) string {
	return k.statsDays(template) + date
}

// The counters of a day's counts, each a field "<country>:<counter>" of its hash; the
// amounts are in micro-USD. append_ledger.lua and apply_report.lua write them by name too.
const (
	counterSent      = "sent"
	counterVerified  = "verified"
	counterDelivered = "delivered" // the report status, as apply_report.lua takes it
	counterFailed    = "failed"    // likewise
	counterEstimated = "estimated"
	counterBilled    = "billed"
)

// countField names a counter of a country in a day's hash.
func countField(country, counter string) string {
	return country + ":" + counter
}

// lease holds the holder of a report reader's lease. The readers' keys share the tag
// {readers}, so that a name holding braces cannot make a tag of its own.
func (k redisKeys) lease(name string) string {
	return k.prefix + "{readers}:lease:" + name
}

// cursor holds a report reader's saved read position.
func (k redisKeys) cursor(name string) string {
	return k.prefix + "{readers}:cursor:" + name
}

// guardTag is the common start of every key of a template's pumping guard.
func (k redisKeys) guardTag(template string) string {
	return k.prefix + "{guard:" + template + "}"
}

// guardWindow holds the guard's counts of one fixed window (caddyotp.GuardWindowIndex): a
// hash of guardField(counter, guard key) → a count, with the counters sent and verified.
// It lives two windows after its last count.
func (k redisKeys) guardWindow(template string, index int64) string {
	return k.guardTag(template) + ":w:" + strconv.FormatInt(index, 10)
}

// guardField names a counter of a guard key ("country:GB") in a window's hash.
// guard_count.lua writes them by name too.
func guardField(counter, key string) string {
	return counter + ":" + key
}

// guardBlocks holds the guard's blocks: a sorted set of guard keys, each scored with the
// end of its block in Unix ms of Redis TIME. It lives until its latest block ends, and
// each count drops the blocks that have ended.
func (k redisKeys) guardBlocks(template string) string {
	return k.guardTag(template) + ":blocks"
}

// revokedSessions holds the gate sessions revoked before their absolute expiry: a sorted
// set of session ids, each scored with the end of its revocation in Unix milliseconds.
func (k redisKeys) revokedSessions() string {
	return k.prefix + "{sessions}:revoked"
}

// revocations is the Pub/Sub channel on which each revocation is announced as
// "<id> <until in Unix ms>". A channel is not a key: it needs no hash tag.
func (k redisKeys) revocations() string {
	return k.prefix + "revoked"
}
