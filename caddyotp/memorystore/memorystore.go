// Package memorystore is the otp.stores.memory guest: codes, limits, locks, the budget and
// the ledger in this process's memory, for a single Caddy instance.
package memorystore

import (
	"context"
	"crypto/subtle"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/internal/ttlmap"
)

func init() {
	caddy.RegisterModule(MemoryStore{})
}

// MemoryStore keeps codes, failure runs, locks, limits, the budget, the SMS ledger, the
// daily counts, the pumping guard and the gate's remembered devices in this process's
// memory: for a single Caddy instance. Everything is lost when the process ends; a config
// reload keeps it (the state is shared by every config that uses it), so a reload resets
// neither locks, limits nor the budget. A mutex makes each method atomic.
//
// The store is bounded: past max_entries a step that would add an entry fails, and the
// send or check answers 503 store_unavailable (fail closed) until entries expire. Expired
// entries are swept a few at a time by the writes, with no goroutine and no full scan.
//
// The daily counts (sms-stats, the dashboard) are bounded apart: 20,000 template-days
// (50 templates counted every day for the 400 days a day's counts are kept), each of at
// most 300 countries. A template-day costs about 500 bytes, each further country of it
// about 120: a template that sends to 250 countries every day holds about 12 MB of
// counts. Past the bound a count that needs a new day or country is dropped and an error
// logged (at most once a minute); the send, report or check it goes with is not refused.
type MemoryStore struct {
	// MaxEntries bounds the entries the store keeps: live codes, resend intervals, failure
	// runs (with their locks), limit counters, budget periods, the report readers' leases
	// and cursors, the pumping guard's counts (one entry per template, destination and
	// window) and blocks (one per blocked destination), and the gate's remembered devices
	// (one entry per realm and mobile, holding its at most 20 devices), all together. The
	// SMS ledger is bounded apart (the newest 10,000 sends a template), and so are the
	// daily counts (see above); revoked gate sessions are not bounded (each needs a
	// signed-in session, so a sign-out works while the store is full).
	// Past the bound a step that would add an entry fails, the send or check answers 503
	// store_unavailable, and an error is logged (at most once a minute); a device of a
	// realm and mobile with none on record is then not remembered (the sign-in itself
	// stands). Updates of kept entries still succeed, and room comes back as entries
	// expire. An entry costs about 150 bytes (a realm and mobile's devices about 200 bytes
	// each), so 1,000,000 entries are about 150 MB. When configs that share the store
	// differ (a reload), the one provisioned last applies; lowering it drops nothing, new
	// entries are refused until enough have expired. From 1000 to 100,000,000.
	// Default: 1000000
	MaxEntries int `json:"max_entries,omitempty"`

	now      func() time.Time // the clock; tests move it
	stateKey string           // the shared state's name; tests give each store its own

	state    *memoryState
	released *atomic.Bool // set at Provision
	logger   *zap.Logger
}

// Bounds and default of max_entries.
const (
	minMemoryEntries     = 1000
	maxMemoryEntries     = 100_000_000
	defaultMemoryEntries = 1_000_000
)

// CaddyModule returns the Caddy module information.
func (MemoryStore) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "otp.stores.memory",
		New: func() caddy.Module { return new(MemoryStore) },
	}
}

// memoryStates holds the state of the memory store, shared across config reloads.
var memoryStates = caddy.NewUsagePool()

// Provision sets up the store. A bad max_entries fails here, before the shared state is
// touched.
func (s *MemoryStore) Provision(ctx caddy.Context) error {
	s.logger = ctx.Logger()
	if s.MaxEntries == 0 {
		s.MaxEntries = defaultMemoryEntries
	}
	if s.MaxEntries < minMemoryEntries || s.MaxEntries > maxMemoryEntries {
		return fmt.Errorf("memory store: max_entries must be from %d to %d, got %d", minMemoryEntries, maxMemoryEntries, s.MaxEntries)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.released = new(atomic.Bool)
	if s.stateKey == "" {
		s.stateKey = "default"
	}
	v, _, err := memoryStates.LoadOrNew(s.stateKey, func() (caddy.Destructor, error) {
		return newMemoryState(), nil
	})
	if err != nil {
		return fmt.Errorf("loading memory store state: %w", err)
	}
	s.state = v.(*memoryState)
	s.state.mu.Lock()
	s.state.entries.SetMax(s.MaxEntries) // the newest config's bound applies
	s.state.mu.Unlock()
	return nil
}

// Cleanup releases the state; the last user's release drops it. The store stays usable
// for a request still in flight (its state is kept until garbage collected), so Cleanup
// never races with one.
func (s *MemoryStore) Cleanup() error {
	if s.state == nil || s.released == nil || !s.released.CompareAndSwap(false, true) {
		return nil
	}
	_, err := memoryStates.Delete(s.stateKey)
	return err
}

// ProcessLocal reports true: the state is this process's and ends with it.
func (s *MemoryStore) ProcessLocal() bool { return true }

// UnmarshalCaddyfile sets up the store from Caddyfile tokens. Syntax:
//
//	store memory {
//		max_entries <n>
//	}
func (s *MemoryStore) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the module name
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		switch word := d.Val(); word {
		case "max_entries":
			if s.MaxEntries != 0 {
				return d.Errf("%s specified more than once", word)
			}
			if !d.NextArg() {
				return d.ArgErr()
			}
			v := d.Val()
			n, err := strconv.Atoi(v)
			if err != nil || n < minMemoryEntries || n > maxMemoryEntries {
				return d.Errf("%s must be a number from %d to %d, got '%s'", word, minMemoryEntries, maxMemoryEntries, v)
			}
			if d.NextArg() {
				return d.ArgErr()
			}
			s.MaxEntries = n
		default:
			return d.Errf("unrecognized subdirective '%s'", word)
		}
	}
	return nil
}

// full is the error of a write that max_entries refused. It logs at most once a minute.
// The caller holds mu.
func (s *MemoryStore) full(st *memoryState, now time.Time) error {
	if s.logger != nil && (st.fullLogged.IsZero() || now.Sub(st.fullLogged) >= time.Minute || now.Before(st.fullLogged)) {
		st.fullLogged = now
		s.logger.Error("memory store full: refusing new entries until some expire",
			zap.Int("max_entries", st.entries.Max()), zap.Int("entries", st.entries.Used()))
	}
	return fmt.Errorf("%w: memory store full (max_entries %d)", caddyotp.ErrStoreUnavailable, st.entries.Max())
}

// ClaimSend implements Store.
func (s *MemoryStore) ClaimSend(_ context.Context, k caddyotp.CodeKey, lockGroup string, nonce string, resend time.Duration) (caddyotp.Decision, error) {
	if err := caddyotp.CheckLockGroup(lockGroup); err != nil {
		return caddyotp.Decision{}, err
	}
	st, now := s.enter()
	defer st.mu.Unlock()

	if until, ok := st.lockedUntil(memLockKey(lockGroup, k.Mobile), now); ok {
		return caddyotp.Decision{Reason: caddyotp.ReasonLocked, RetryAfter: until.Sub(now)}, nil
	}
	if resend <= 0 {
		return caddyotp.Decision{Allowed: true}, nil
	}
	resend = max(resend, caddyotp.MinResend)
	if c, ok := st.cooldowns.Get(k, now); ok {
		if c.nonce == nonce {
			return caddyotp.Decision{Allowed: true}, nil
		}
		return caddyotp.Decision{Reason: caddyotp.ReasonTooSoon, RetryAfter: c.expires.Sub(now)}, nil
	}
	expires := now.Add(resend)
	if err := st.cooldowns.Set(k, memCooldown{nonce: nonce, expires: expires}, expires, now); err != nil {
		return caddyotp.Decision{}, s.full(st, now)
	}
	return caddyotp.Decision{Allowed: true}, nil
}

// ReleaseSend implements Store.
func (s *MemoryStore) ReleaseSend(_ context.Context, k caddyotp.CodeKey, nonce string) error {
	st, now := s.enter()
	defer st.mu.Unlock()
	if c, ok := st.cooldowns.Get(k, now); ok && c.nonce == nonce {
		st.cooldowns.Delete(k)
	}
	return nil
}

// PutCode implements Store.
func (s *MemoryStore) PutCode(_ context.Context, k caddyotp.CodeKey, hash []byte, attempts int, ttl time.Duration) error {
	if err := caddyotp.CheckCodeArgs(hash, attempts, ttl); err != nil {
		return err
	}
	st, now := s.enter()
	defer st.mu.Unlock()
	c := &memCode{hash: append([]byte(nil), hash...), attempts: attempts}
	if err := st.codes.Set(k, c, now.Add(ttl), now); err != nil {
		return s.full(st, now)
	}
	return nil
}

// DropCode implements Store.
func (s *MemoryStore) DropCode(_ context.Context, k caddyotp.CodeKey, hash []byte) error {
	st, now := s.enter()
	defer st.mu.Unlock()
	if c, ok := st.codes.Get(k, now); ok && subtle.ConstantTimeCompare(c.hash, hash) == 1 {
		st.codes.Delete(k)
	}
	return nil
}

// SetCodeMessage implements Store.
func (s *MemoryStore) SetCodeMessage(_ context.Context, k caddyotp.CodeKey, hash []byte, messageID string) error {
	st, now := s.enter()
	defer st.mu.Unlock()
	if c, ok := st.codes.Get(k, now); ok && subtle.ConstantTimeCompare(c.hash, hash) == 1 {
		c.messageID = messageID
	}
	return nil
}

// CheckCode implements Store. The mobile's failure run gets its entry before the code is
// compared: a full store then refuses right and wrong codes alike, and never checks a
// guess it could not count.
func (s *MemoryStore) CheckCode(_ context.Context, k caddyotp.CodeKey, lockGroup string, hash []byte, p caddyotp.LockPolicy) (caddyotp.CheckResult, error) {
	p, err := caddyotp.NormalizeLockPolicy(p)
	if err != nil {
		return caddyotp.CheckResult{}, err
	}
	if err := caddyotp.CheckLockGroup(lockGroup); err != nil {
		return caddyotp.CheckResult{}, err
	}
	lk := memLockKey(lockGroup, k.Mobile)
	st, now := s.enter()
	defer st.mu.Unlock()

	if until, ok := st.lockedUntil(lk, now); ok {
		return caddyotp.CheckResult{Outcome: caddyotp.OutcomeLocked, RetryAfter: until.Sub(now)}, nil
	}
	c, ok := st.codes.Get(k, now)
	if !ok {
		st.codes.Delete(k)
		return caddyotp.CheckResult{Outcome: caddyotp.OutcomeExpired}, nil
	}
	run, held := st.runs.Get(lk, now)
	if !held {
		if err := st.runs.Set(lk, memRun{}, now.Add(p.Window), now); err != nil {
			return caddyotp.CheckResult{}, s.full(st, now)
		}
	}
	if !now.Before(run.expires) {
		run = memRun{} // over: its entry lived on only for a lock that has ended
	}
	if subtle.ConstantTimeCompare(c.hash, hash) == 1 {
		st.codes.Delete(k)
		st.runs.Delete(lk)
		return caddyotp.CheckResult{Outcome: caddyotp.OutcomeVerified, MessageID: c.messageID}, nil
	}

	run.failures++
	run.expires = now.Add(p.Window)
	var res caddyotp.CheckResult
	switch {
	case p.Ceiling > 0 && run.failures >= p.Ceiling:
		// Past the ceiling every failure locks for Window, and the run outlives the lock.
		run.lockedUntil = now.Add(p.Window)
		run.expires = run.lockedUntil.Add(p.Window)
		res.RetryAfter, res.LockedNow = p.Window, true
	case p.After > 0 && run.failures%p.After == 0:
		run.locks++
		d := caddyotp.LockLength(p, run.locks)
		run.lockedUntil = now.Add(d)
		res.RetryAfter, res.LockedNow = d, true
	}
	// The run's entry is held (it was found or written above), so this update never fails.
	if err := st.runs.Set(lk, run, later(run.expires, run.lockedUntil), now); err != nil {
		return caddyotp.CheckResult{}, s.full(st, now)
	}
	c.attempts--
	if c.attempts <= 0 {
		st.codes.Delete(k)
		res.Outcome = caddyotp.OutcomeBurned
		return res, nil
	}
	res.Outcome, res.AttemptsLeft = caddyotp.OutcomeIncorrect, c.attempts
	return res, nil
}

// Allow implements Store. Every limit is checked before any is charged, and a charge the
// bound refuses undoes the others.
func (s *MemoryStore) Allow(_ context.Context, template string, takes []caddyotp.LimitTake) (caddyotp.Decision, error) {
	for _, tk := range takes {
		if err := caddyotp.CheckLimit(tk.Limit); err != nil {
			return caddyotp.Decision{}, err
		}
	}
	st, now := s.enter()
	defer st.mu.Unlock()

	keys := make([]string, len(takes))
	prev := make([]time.Time, len(takes)) // zero: the limit had no live entry
	next := make([]time.Time, len(takes))
	refused := caddyotp.Decision{Reason: caddyotp.ReasonLimited}
	for i, tk := range takes {
		keys[i] = memLimitKey(template, tk)
		tat, ok := st.limits.Get(keys[i], now)
		if ok {
			prev[i] = tat
		}
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
	// A limit's entry lives until its theoretical arrival time: then the limit is full again.
	for i := range takes {
		if err := st.limits.Set(keys[i], next[i], next[i], now); err != nil {
			for j := range i {
				if prev[j].IsZero() {
					st.limits.Delete(keys[j])
				} else {
					st.limits.Set(keys[j], prev[j], prev[j], now) // held: an update, never refused
				}
			}
			return caddyotp.Decision{}, s.full(st, now)
		}
	}
	return caddyotp.Decision{Allowed: true}, nil
}

// memLimitKey names a limit in the memory store. Template names have no ':'.
func memLimitKey(template string, tk caddyotp.LimitTake) string {
	return template + ":" + tk.Kind + ":" + tk.Key
}

// memLockKey names a mobile's failure run and lock in a lock group.
func memLockKey(group, mobile string) string {
	return group + ":" + mobile
}

// ReserveBudget implements Store. Day and month are charged together or not at all.
func (s *MemoryStore) ReserveBudget(_ context.Context, at time.Time, microUSD int64, caps caddyotp.BudgetCaps) (caddyotp.Decision, error) {
	if err := caddyotp.CheckBudgetArgs(microUSD, caps); err != nil {
		return caddyotp.Decision{}, err
	}
	st, now := s.enter()
	defer st.mu.Unlock()

	dayKey, monthKey := caddyotp.BudgetPeriods(at)
	day, dayHeld := st.budget.Get(dayKey, now)
	month, _ := st.budget.Get(monthKey, now)
	if caps.MonthlyMicroUSD > 0 && month.microUSD+microUSD > caps.MonthlyMicroUSD {
		return caddyotp.Decision{Reason: caddyotp.ReasonBudget, RetryAfter: caddyotp.BudgetRetryAfter(at, true)}, nil
	}
	if caps.DailyMicroUSD > 0 && day.microUSD+microUSD > caps.DailyMicroUSD {
		return caddyotp.Decision{Reason: caddyotp.ReasonBudget, RetryAfter: caddyotp.BudgetRetryAfter(at, false)}, nil
	}
	newDay := memSpend{microUSD: day.microUSD + microUSD, expires: now.Add(caddyotp.BudgetDayTTL)}
	if err := st.budget.Set(dayKey, newDay, newDay.expires, now); err != nil {
		return caddyotp.Decision{}, s.full(st, now)
	}
	newMonth := memSpend{microUSD: month.microUSD + microUSD, expires: now.Add(caddyotp.BudgetMonthTTL)}
	if err := st.budget.Set(monthKey, newMonth, newMonth.expires, now); err != nil {
		if dayHeld {
			st.budget.Set(dayKey, day, day.expires, now) // held: an update, never refused
		} else {
			st.budget.Delete(dayKey)
		}
		return caddyotp.Decision{}, s.full(st, now)
	}
	return caddyotp.Decision{Allowed: true}, nil
}

// ReleaseBudget implements Store.
func (s *MemoryStore) ReleaseBudget(_ context.Context, at time.Time, microUSD int64) error {
	if microUSD < 0 {
		return fmt.Errorf("%w: budget release of %d micro-USD", caddyotp.ErrInvalidArgument, microUSD)
	}
	st, now := s.enter()
	defer st.mu.Unlock()

	dayKey, monthKey := caddyotp.BudgetPeriods(at)
	for _, key := range []string{dayKey, monthKey} {
		sp, ok := st.budget.Get(key, now)
		if !ok {
			continue
		}
		sp.microUSD = max(sp.microUSD-microUSD, 0)
		if err := st.budget.Set(key, sp, sp.expires, now); err != nil { // held: never refused
			return s.full(st, now)
		}
	}
	return nil
}

// RevokeSession implements Store. Watchers of the state, in every config that shares it,
// get the revocation at once.
func (s *MemoryStore) RevokeSession(_ context.Context, id string, until time.Time) error {
	st, now := s.enter()
	defer st.mu.Unlock()
	if err := caddyotp.CheckRevocation(id, until, now); err != nil {
		return err
	}
	until = caddyotp.RevocationEnd(until)
	if old, ok := st.revoked.Get(id, now); ok && old.After(until) {
		until = old
	}
	st.revoked.Set(id, until, until, now) // no bound: it cannot fail
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
	for id, until := range st.revoked.All(now) {
		initial = append(initial, revocation{id: id, until: until})
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

// memoryState is what a memory store keeps. Every expiring map counts against entries,
// the one bound of max_entries; a read treats an entry past its expiry as gone, and the
// writes sweep such entries out a few at a time.
type memoryState struct {
	mu        sync.Mutex
	entries   *ttlmap.Budget
	codes     *ttlmap.Map[caddyotp.CodeKey, *memCode]
	cooldowns *ttlmap.Map[caddyotp.CodeKey, memCooldown]
	runs      *ttlmap.Map[string, memRun]    // by lock group and mobile (memLockKey), with their lock
	limits    *ttlmap.Map[string, time.Time] // by template, kind and key (memLimitKey): the GCRA theoretical arrival time
	budget    *ttlmap.Map[string, memSpend]  // by UTC day or month
	leases    *ttlmap.Map[string, string]    // by lease name: the holder
	cursors   *ttlmap.Map[string, string]    // by report reader's cursor name: the saved value
	revoked   *ttlmap.Map[string, time.Time] // by gate session id: revoked until
	ledgers   map[string]*ledgerRing         // one per template, each bounded
	watchers  map[*memWatcher]struct{}

	counts    *ttlmap.Map[countDayKey, countDay] // the daily counts, by template and UTC day
	countDays *ttlmap.Budget                     // their bound (maxCountDays), apart from entries

	guardCounts *ttlmap.Map[guardWindowKey, guardTally] // the pumping guard's counts, by template, key and window
	guardBlocks *ttlmap.Map[guardBlockKey, time.Time]   // its blocks, by template and key: the end

	devices *ttlmap.Map[deviceKey, []caddyotp.Device] // the gate's remembered devices, by realm and mobile

	fullLogged   time.Time // when the store last logged that it is full
	countsLogged time.Time // when it last logged a count dropped by the counts' bound
}

// memCode is a live code. CheckCode spends its attempts in place, SetCodeMessage notes the
// provider's message id on it.
type memCode struct {
	hash      []byte
	attempts  int
	messageID string
}

type memCooldown struct {
	nonce   string
	expires time.Time
}

// memRun is a mobile's failure run in a lock group and its lock. Its entry lives until the
// later of the two ends.
type memRun struct {
	failures    int
	locks       int
	expires     time.Time
	lockedUntil time.Time
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

// newMemoryState is an empty state with no bound; Provision sets it.
func newMemoryState() *memoryState {
	b := ttlmap.NewBudget(0)
	counts, countDays := newCounts()
	return &memoryState{
		entries:   b,
		codes:     ttlmap.New[caddyotp.CodeKey, *memCode](b),
		cooldowns: ttlmap.New[caddyotp.CodeKey, memCooldown](b),
		runs:      ttlmap.New[string, memRun](b),
		limits:    ttlmap.New[string, time.Time](b),
		budget:    ttlmap.New[string, memSpend](b),
		leases:    ttlmap.New[string, string](b),
		cursors:   ttlmap.New[string, string](b),
		// Revocations are outside the bound: a sign-out must work while a flood fills the
		// store, and each one needs a session, so a flood cannot make them.
		revoked:   ttlmap.New[string, time.Time](nil),
		ledgers:   make(map[string]*ledgerRing),
		watchers:  make(map[*memWatcher]struct{}),
		counts:    counts,
		countDays: countDays,

		guardCounts: ttlmap.New[guardWindowKey, guardTally](b),
		guardBlocks: ttlmap.New[guardBlockKey, time.Time](b),

		devices: ttlmap.New[deviceKey, []caddyotp.Device](b),
	}
}

// Destruct implements caddy.Destructor: the state holds no goroutine or connection, and
// the collector takes it once the last config using it is gone.
func (st *memoryState) Destruct() error { return nil }

// lockedUntil reports whether a mobile is locked in a group (lk, from memLockKey) and
// until when. The caller holds mu.
func (st *memoryState) lockedUntil(lk string, now time.Time) (time.Time, bool) {
	run, ok := st.runs.Get(lk, now)
	if !ok || !now.Before(run.lockedUntil) {
		return time.Time{}, false
	}
	return run.lockedUntil, true
}

// later is the later of two times.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// Interface guards
var (
	_ caddyotp.Store        = (*MemoryStore)(nil)
	_ caddyotp.GuardStore   = (*MemoryStore)(nil)
	_ caddyotp.DeviceStore  = (*MemoryStore)(nil)
	_ caddyotp.ProcessLocal = (*MemoryStore)(nil)
	_ caddy.Provisioner     = (*MemoryStore)(nil)
	_ caddy.CleanerUpper    = (*MemoryStore)(nil)
	_ caddyfile.Unmarshaler = (*MemoryStore)(nil)
)
