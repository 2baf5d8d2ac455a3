package caddyotp

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func init() {
	caddy.RegisterModule(MemoryStore{})
}

// MemoryStore keeps codes, failure runs, locks, limits, the budget and the SMS ledger in
// this process's memory: for a single Caddy instance. Everything is lost when the process
// ends; a config reload keeps it (the state is shared by every config that uses it), so a
// reload resets neither locks, limits nor the budget. A mutex makes each method atomic.
type MemoryStore struct {
	now      func() time.Time // the clock; tests move it
	stateKey string           // the shared state's name; tests give each store its own

	state    *memoryState
	released *atomic.Bool // set at Provision
}

// CaddyModule returns the Caddy module information.
func (MemoryStore) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "otp.stores.memory",
		New: func() caddy.Module { return new(MemoryStore) },
	}
}

// memoryStates holds the state of the memory store, shared across config reloads.
var memoryStates = caddy.NewUsagePool()

// memoryJanitorInterval is how often expired entries are swept out; reads drop the expired
// entries they meet in between.
const memoryJanitorInterval = time.Minute

// Provision sets up the store.
func (s *MemoryStore) Provision(ctx caddy.Context) error {
	if s.now == nil {
		s.now = time.Now
	}
	s.released = new(atomic.Bool)
	if s.stateKey == "" {
		s.stateKey = "default"
	}
	now := s.now
	v, _, err := memoryStates.LoadOrNew(s.stateKey, func() (caddy.Destructor, error) {
		return newMemoryState(now, memoryJanitorInterval), nil
	})
	if err != nil {
		return fmt.Errorf("loading memory store state: %w", err)
	}
	s.state = v.(*memoryState)
	return nil
}

// Cleanup releases the state; the last user stops its janitor. The store stays usable for
// a request still in flight (its state is kept until garbage collected), so Cleanup never
// races with one.
func (s *MemoryStore) Cleanup() error {
	if s.state == nil || s.released == nil || !s.released.CompareAndSwap(false, true) {
		return nil
	}
	_, err := memoryStates.Delete(s.stateKey)
	return err
}

// UnmarshalCaddyfile sets up the store from Caddyfile tokens. The memory store has no
// options. Syntax:
//
//	store memory
func (s *MemoryStore) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the module name
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		return d.Errf("unrecognized subdirective '%s'", d.Val())
	}
	return nil
}

// ClaimSend implements Store.
func (s *MemoryStore) ClaimSend(_ context.Context, k CodeKey, lockGroup string, nonce string, resend time.Duration) (Decision, error) {
	if err := checkLockGroup(lockGroup); err != nil {
		return Decision{}, err
	}
	st, now := s.enter()
	defer st.mu.Unlock()

	if until, ok := st.lockedUntil(memLockKey(lockGroup, k.Mobile), now); ok {
		return Decision{Reason: ReasonLocked, RetryAfter: until.Sub(now)}, nil
	}
	if resend <= 0 {
		return Decision{Allowed: true}, nil
	}
	resend = max(resend, minResend)
	if c, ok := st.cooldowns[k]; ok && now.Before(c.expires) {
		if c.nonce == nonce {
			return Decision{Allowed: true}, nil
		}
		return Decision{Reason: ReasonTooSoon, RetryAfter: c.expires.Sub(now)}, nil
	}
	st.cooldowns[k] = memCooldown{nonce: nonce, expires: now.Add(resend)}
	return Decision{Allowed: true}, nil
}

// ReleaseSend implements Store.
func (s *MemoryStore) ReleaseSend(_ context.Context, k CodeKey, nonce string) error {
	st, _ := s.enter()
	defer st.mu.Unlock()
	if c, ok := st.cooldowns[k]; ok && c.nonce == nonce {
		delete(st.cooldowns, k)
	}
	return nil
}

// PutCode implements Store.
func (s *MemoryStore) PutCode(_ context.Context, k CodeKey, hash []byte, attempts int, ttl time.Duration) error {
	if err := checkCodeArgs(hash, attempts, ttl); err != nil {
		return err
	}
	st, now := s.enter()
	defer st.mu.Unlock()
	st.codes[k] = &memCode{
		hash:     append([]byte(nil), hash...),
		attempts: attempts,
		expires:  now.Add(ttl),
	}
	return nil
}

// DropCode implements Store.
func (s *MemoryStore) DropCode(_ context.Context, k CodeKey, hash []byte) error {
	st, _ := s.enter()
	defer st.mu.Unlock()
	if c, ok := st.codes[k]; ok && subtle.ConstantTimeCompare(c.hash, hash) == 1 {
		delete(st.codes, k)
	}
	return nil
}

// CheckCode implements Store.
func (s *MemoryStore) CheckCode(_ context.Context, k CodeKey, lockGroup string, hash []byte, p LockPolicy) (CheckResult, error) {
	p, err := normalizeLockPolicy(p)
	if err != nil {
		return CheckResult{}, err
	}
	if err := checkLockGroup(lockGroup); err != nil {
		return CheckResult{}, err
	}
	lk := memLockKey(lockGroup, k.Mobile)
	st, now := s.enter()
	defer st.mu.Unlock()

	if until, ok := st.lockedUntil(lk, now); ok {
		return CheckResult{Outcome: OutcomeLocked, RetryAfter: until.Sub(now)}, nil
	}
	c, ok := st.codes[k]
	if !ok || !now.Before(c.expires) {
		delete(st.codes, k)
		return CheckResult{Outcome: OutcomeExpired}, nil
	}
	if subtle.ConstantTimeCompare(c.hash, hash) == 1 {
		delete(st.codes, k)
		delete(st.runs, lk)
		return CheckResult{Outcome: OutcomeVerified}, nil
	}

	c.attempts--
	run, ok := st.runs[lk]
	if !ok || !now.Before(run.expires) {
		run = &memRun{}
		st.runs[lk] = run
	}
	run.failures++
	run.expires = now.Add(p.Window)

	var res CheckResult
	switch {
	case p.Ceiling > 0 && run.failures >= p.Ceiling:
		// Past the ceiling every failure locks for Window, and the run outlives the lock.
		until := now.Add(p.Window)
		st.locks[lk] = until
		run.expires = until.Add(p.Window)
		res.RetryAfter, res.LockedNow = p.Window, true
	case p.After > 0 && run.failures%p.After == 0:
		run.locks++
		d := lockLength(p, run.locks)
		st.locks[lk] = now.Add(d)
		res.RetryAfter, res.LockedNow = d, true
	}
	if c.attempts <= 0 {
		delete(st.codes, k)
		res.Outcome = OutcomeBurned
		return res, nil
	}
	res.Outcome, res.AttemptsLeft = OutcomeIncorrect, c.attempts
	return res, nil
}

// Allow implements Store. Every limit is checked before any is charged.
func (s *MemoryStore) Allow(_ context.Context, template string, takes []LimitTake) (Decision, error) {
	for _, tk := range takes {
		if err := checkLimit(tk.Limit); err != nil {
			return Decision{}, err
		}
	}
	st, now := s.enter()
	defer st.mu.Unlock()

	next := make([]time.Time, len(takes))
	refused := Decision{Reason: ReasonLimited}
	for i, tk := range takes {
		tat := st.limits[memLimitKey(template, tk)]
		if tat.Before(now) {
			tat = now
		}
		next[i] = tat.Add(max(tk.Limit.Window/time.Duration(tk.Limit.Count), 1))
		if wait := next[i].Sub(now) - tk.Limit.Window; wait > 0 {
			if refused.Limit == "" {
				refused.Limit = tk.Kind
			}
			refused.RetryAfter = max(refused.RetryAfter, wait)
		}
	}
	if refused.Limit != "" {
		return refused, nil
	}
	for i, tk := range takes {
		st.limits[memLimitKey(template, tk)] = next[i]
	}
	return Decision{Allowed: true}, nil
}

// memLimitKey names a limit in the memory store. Template names have no ':'.
func memLimitKey(template string, tk LimitTake) string {
	return template + ":" + tk.Kind + ":" + tk.Key
}

// memLockKey names a mobile's failure run and lock in a lock group.
func memLockKey(group, mobile string) string {
	return group + ":" + mobile
}

// ReserveBudget implements Store.
func (s *MemoryStore) ReserveBudget(_ context.Context, at time.Time, microUSD int64, caps BudgetCaps) (Decision, error) {
	if err := checkBudgetArgs(microUSD, caps); err != nil {
		return Decision{}, err
	}
	st, now := s.enter()
	defer st.mu.Unlock()

	dayKey, monthKey := budgetPeriods(at)
	day, month := st.spent(dayKey, now), st.spent(monthKey, now)
	if caps.MonthlyMicroUSD > 0 && month+microUSD > caps.MonthlyMicroUSD {
		return Decision{Reason: ReasonBudget, RetryAfter: budgetRetryAfter(at, true)}, nil
	}
	if caps.DailyMicroUSD > 0 && day+microUSD > caps.DailyMicroUSD {
		return Decision{Reason: ReasonBudget, RetryAfter: budgetRetryAfter(at, false)}, nil
	}
	st.budget[dayKey] = memSpend{microUSD: day + microUSD, expires: now.Add(budgetDayTTL)}
	st.budget[monthKey] = memSpend{microUSD: month + microUSD, expires: now.Add(budgetMonthTTL)}
	return Decision{Allowed: true}, nil
}

// ReleaseBudget implements Store.
func (s *MemoryStore) ReleaseBudget(_ context.Context, at time.Time, microUSD int64) error {
	if microUSD < 0 {
		return fmt.Errorf("%w: budget release of %d micro-USD", errInvalidArgument, microUSD)
	}
	st, now := s.enter()
	defer st.mu.Unlock()

	dayKey, monthKey := budgetPeriods(at)
	for _, key := range []string{dayKey, monthKey} {
		sp, ok := st.budget[key]
		if !ok || !now.Before(sp.expires) {
			continue
		}
		sp.microUSD = max(sp.microUSD-microUSD, 0)
		st.budget[key] = sp
	}
	return nil
}

// AppendLedger implements Store.
func (s *MemoryStore) AppendLedger(_ context.Context, e LedgerEntry) error {
	st, _ := s.enter()
	defer st.mu.Unlock()
	r, ok := st.ledgers[e.Template]
	if !ok {
		r = &ledgerRing{}
		st.ledgers[e.Template] = r
	}
	e.Time = e.Time.Round(0) // no monotonic reading, as a shared store would give it back
	r.add(e)
	return nil
}

// RecentLedger implements Store.
func (s *MemoryStore) RecentLedger(_ context.Context, template string, n int) ([]LedgerEntry, error) {
	st, _ := s.enter()
	defer st.mu.Unlock()
	r, ok := st.ledgers[template]
	if !ok || n <= 0 {
		return []LedgerEntry{}, nil
	}
	return r.newest(n), nil
}

// RevokeSession implements Store. Watchers of the state, in every config that shares it,
// get the revocation at once.
func (s *MemoryStore) RevokeSession(_ context.Context, id string, until time.Time) error {
	st, now := s.enter()
	defer st.mu.Unlock()
	if err := checkRevocation(id, until, now); err != nil {
		return err
	}
	until = revocationEnd(until)
	if old, ok := st.revoked[id]; ok && old.After(until) {
		until = old
	}
	st.revoked[id] = until
	for w := range st.watchers {
		w.queue = append(w.queue, revocation{id: id, until: until})
		select {
		case w.wake <- struct{}{}:
		default: // already woken; it drains the whole queue
		}
	}
	return nil
}

// WatchRevocations implements Store. The memory store's feed never breaks: health is
// called once, with true.
func (s *MemoryStore) WatchRevocations(ctx context.Context, fn func(id string, until time.Time), health func(ok bool)) {
	w := &memWatcher{wake: make(chan struct{}, 1)}
	st, now := s.enter()
	// Registered and read under one lock: nothing is missed, nothing comes twice.
	var initial []revocation
	for id, until := range st.revoked {
		if now.Before(until) {
			initial = append(initial, revocation{id: id, until: until})
		}
	}
	st.watchers[w] = struct{}{}
	st.mu.Unlock()
	defer func() {
		st.mu.Lock()
		delete(st.watchers, w)
		st.mu.Unlock()
	}()

	for _, r := range initial {
		fn(r.id, r.until)
	}
	health(true)
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		}
		st.mu.Lock()
		queue := w.queue
		w.queue = nil
		st.mu.Unlock()
		for _, r := range queue {
			fn(r.id, r.until)
		}
	}
}

// enter locks the state and reads the clock.
func (s *MemoryStore) enter() (*memoryState, time.Time) {
	st := s.state
	st.mu.Lock()
	return st, s.now()
}

// memoryState is what a memory store keeps. Entries past their expiry are treated as
// gone by every read and removed by the janitor.
type memoryState struct {
	mu        sync.Mutex
	codes     map[CodeKey]*memCode
	cooldowns map[CodeKey]memCooldown
	runs      map[string]*memRun   // by lock group and mobile (memLockKey)
	locks     map[string]time.Time // by lock group and mobile: locked until
	limits    map[string]time.Time // by template, kind and key (memLimitKey): the GCRA theoretical arrival time
	budget    map[string]memSpend  // by UTC day or month
	ledgers   map[string]*ledgerRing
	revoked   map[string]time.Time // by gate session id: revoked until
	watchers  map[*memWatcher]struct{}

	stop chan struct{}
	done chan struct{}
}

type memCode struct {
	hash     []byte
	attempts int
	expires  time.Time
}

type memCooldown struct {
	nonce   string
	expires time.Time
}

type memRun struct {
	failures int
	locks    int
	expires  time.Time
}

type memSpend struct {
	microUSD int64
	expires  time.Time
}

// memWatcher is one WatchRevocations call: RevokeSession queues for it under the state's
// mutex and wakes it; the watcher calls fn from its own goroutine.
type memWatcher struct {
	queue []revocation
	wake  chan struct{} // capacity 1
}

type revocation struct {
	id    string
	until time.Time
}

func newMemoryState(now func() time.Time, every time.Duration) *memoryState {
	st := &memoryState{
		codes:     make(map[CodeKey]*memCode),
		cooldowns: make(map[CodeKey]memCooldown),
		runs:      make(map[string]*memRun),
		locks:     make(map[string]time.Time),
		limits:    make(map[string]time.Time),
		budget:    make(map[string]memSpend),
		ledgers:   make(map[string]*ledgerRing),
		revoked:   make(map[string]time.Time),
		watchers:  make(map[*memWatcher]struct{}),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	go st.janitor(now, every)
	return st
}

// Destruct stops the janitor when the last config using the state is gone.
func (st *memoryState) Destruct() error {
	close(st.stop)
	<-st.done
	return nil
}

func (st *memoryState) janitor(now func() time.Time, every time.Duration) {
	defer close(st.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-st.stop:
			return
		case <-t.C:
			st.mu.Lock()
			st.sweep(now())
			st.mu.Unlock()
		}
	}
}

// sweep removes every expired entry. The caller holds mu.
func (st *memoryState) sweep(now time.Time) {
	for k, c := range st.codes {
		if !now.Before(c.expires) {
			delete(st.codes, k)
		}
	}
	for k, c := range st.cooldowns {
		if !now.Before(c.expires) {
			delete(st.cooldowns, k)
		}
	}
	for k, r := range st.runs {
		if !now.Before(r.expires) {
			delete(st.runs, k)
		}
	}
	for k, until := range st.locks {
		if !now.Before(until) {
			delete(st.locks, k)
		}
	}
	for k, tat := range st.limits {
		if !now.Before(tat) {
			delete(st.limits, k)
		}
	}
	for k, sp := range st.budget {
		if !now.Before(sp.expires) {
			delete(st.budget, k)
		}
	}
	for id, until := range st.revoked {
		if !now.Before(until) {
			delete(st.revoked, id)
		}
	}
}

// lockedUntil reports whether a mobile is locked in a group (lk, from memLockKey) and
// until when. The caller holds mu.
func (st *memoryState) lockedUntil(lk string, now time.Time) (time.Time, bool) {
	until, ok := st.locks[lk]
	if !ok {
		return time.Time{}, false
	}
	if !now.Before(until) {
		delete(st.locks, lk)
		return time.Time{}, false
	}
	return until, true
}

// spent returns the micro-USD reserved in a budget period. The caller holds mu.
func (st *memoryState) spent(key string, now time.Time) int64 {
	sp, ok := st.budget[key]
	if !ok || !now.Before(sp.expires) {
		return 0
	}
	return sp.microUSD
}

// ledgerRing keeps the newest ledgerKeep entries of one template.
type ledgerRing struct {
	entries []LedgerEntry
	next    int // where the next entry goes once the ring is full
}

func (r *ledgerRing) add(e LedgerEntry) {
	if len(r.entries) < ledgerKeep {
		r.entries = append(r.entries, e)
		return
	}
	r.entries[r.next] = e
	r.next = (r.next + 1) % ledgerKeep
}

// newest returns at most n entries, newest first.
func (r *ledgerRing) newest(n int) []LedgerEntry {
	size := len(r.entries)
	n = min(n, size)
	out := make([]LedgerEntry, n)
	for i := range n {
		out[i] = r.entries[(r.next-1-i+2*size)%size]
	}
	return out
}

// What follows is shared by both stores, so that they keep the same behaviour.

const (
	// minResend is the shortest resend interval a store starts (a zero interval starts none).
	minResend = time.Second
	// ledgerKeep is how many entries a template's ledger keeps at least.
	ledgerKeep = 10000
	// ledgerTTL is how long a ledger lives after its last entry.
	ledgerTTL = 35 * 24 * time.Hour
	// budgetDayTTL and budgetMonthTTL keep a period's spend a little past its end.
	budgetDayTTL   = 48 * time.Hour
	budgetMonthTTL = 35 * 24 * time.Hour
)

// errInvalidArgument marks a call a store refuses to run because its arguments make no
// sense; it is a programming or configuration error, not the store being unavailable.
var errInvalidArgument = errors.New("invalid store argument")

func checkCodeArgs(hash []byte, attempts int, ttl time.Duration) error {
	switch {
	case len(hash) == 0:
		return fmt.Errorf("%w: empty code hash", errInvalidArgument)
	case attempts < 1:
		return fmt.Errorf("%w: attempts %d below 1", errInvalidArgument, attempts)
	case ttl < time.Millisecond:
		return fmt.Errorf("%w: code ttl %s below 1ms", errInvalidArgument, ttl)
	}
	return nil
}

// maxRevocation bounds how far ahead a revocation may end: a gate session lives at most
// 12h, and an hour more allows for instances whose clocks disagree.
const maxRevocation = 13 * time.Hour

// checkRevocation checks RevokeSession's arguments. The id is not echoed: it names a live
// session.
func checkRevocation(id string, until, now time.Time) error {
	switch {
	case !isSessionID(id):
		return fmt.Errorf("%w: session id is not 32 lower-case hex digits", errInvalidArgument)
	case !until.After(now):
		return fmt.Errorf("%w: revocation ends at %s, not in the future", errInvalidArgument, until.UTC().Format(time.RFC3339))
	case until.Sub(now) > maxRevocation:
		return fmt.Errorf("%w: revocation ends at %s, more than %s away", errInvalidArgument, until.UTC().Format(time.RFC3339), maxRevocation)
	}
	return nil
}

// isSessionID reports whether id is a gate session id: 32 lower-case hex digits.
func isSessionID(id string) bool {
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

// revocationEnd is until rounded up to the millisecond, as Redis keeps it, so that both
// stores deliver the same time and a revocation never ends before the session.
func revocationEnd(until time.Time) time.Time {
	t := time.UnixMilli(until.UnixMilli())
	if t.Before(until) {
		t = t.Add(time.Millisecond)
	}
	return t
}

// normalizeLockPolicy checks p; a Max below Base means locks of Base.
func normalizeLockPolicy(p LockPolicy) (LockPolicy, error) {
	switch {
	case p.After < 0:
		return p, fmt.Errorf("%w: lock after %d failures", errInvalidArgument, p.After)
	case p.Window < time.Millisecond:
		return p, fmt.Errorf("%w: failure window %s below 1ms", errInvalidArgument, p.Window)
	case p.After > 0 && p.Base < time.Millisecond:
		return p, fmt.Errorf("%w: lock %s below 1ms", errInvalidArgument, p.Base)
	case p.Ceiling < 0:
		return p, fmt.Errorf("%w: ceiling of %d failures", errInvalidArgument, p.Ceiling)
	}
	p.Max = max(p.Max, p.Base)
	return p, nil
}

// lockLength is the length of the n-th lock of a run: Base doubled n-1 times, at most Max.
func lockLength(p LockPolicy, n int) time.Duration {
	d := p.Base
	for i := 1; i < n && d < p.Max; i++ {
		d *= 2
	}
	return min(d, p.Max)
}

// checkLockGroup refuses an empty lock group: the service always names one (by default
// the template's name), so an empty one is a bug that would merge every group.
func checkLockGroup(group string) error {
	if group == "" {
		return fmt.Errorf("%w: empty lock group", errInvalidArgument)
	}
	return nil
}

func checkLimit(l Limit) error {
	if l.Count < 1 || l.Window < time.Millisecond {
		return fmt.Errorf("%w: limit of %d in %s", errInvalidArgument, l.Count, l.Window)
	}
	return nil
}

func checkBudgetArgs(microUSD int64, caps BudgetCaps) error {
	if microUSD < 0 || caps.DailyMicroUSD < 0 || caps.MonthlyMicroUSD < 0 {
		return fmt.Errorf("%w: negative budget amount", errInvalidArgument)
	}
	return nil
}

// budgetPeriods names the UTC day and month of at.
func budgetPeriods(at time.Time) (day, month string) {
	at = at.UTC()
	return "d:" + at.Format("2006-01-02"), "m:" + at.Format("2006-01")
}

// budgetRetryAfter is the time from at to the start of the next UTC day, or month.
func budgetRetryAfter(at time.Time, month bool) time.Duration {
	u := at.UTC()
	next := time.Date(u.Year(), u.Month(), u.Day()+1, 0, 0, 0, 0, time.UTC)
	if month {
		next = time.Date(u.Year(), u.Month()+1, 1, 0, 0, 0, 0, time.UTC)
	}
	return next.Sub(u)
}

// Interface guards
var (
	_ Store                 = (*MemoryStore)(nil)
	_ caddy.Provisioner     = (*MemoryStore)(nil)
	_ caddy.CleanerUpper    = (*MemoryStore)(nil)
	_ caddyfile.Unmarshaler = (*MemoryStore)(nil)
)
