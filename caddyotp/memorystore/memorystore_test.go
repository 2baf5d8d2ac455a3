package memorystore

import (
	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/internal/testcaddy"

	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/caddyotp/internal/ttlmap"
	"github.com/caddyotp/caddyotp/caddyotp/storetest"
)

// fakeClock is a clock that tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newTestMemoryStore provisions a memory store with a state of its own; now may be nil.
func newTestMemoryStore(t *testing.T, now func() time.Time) *MemoryStore {
	t.Helper()
	return newBoundedMemoryStore(t, now, 0)
}

// newBoundedMemoryStore is newTestMemoryStore with max_entries (0: the default).
func newBoundedMemoryStore(t *testing.T, now func() time.Time, maxEntries int) *MemoryStore {
	t.Helper()
	s := &MemoryStore{now: now, stateKey: "test:" + t.Name(), MaxEntries: maxEntries}
	testcaddy.Provision(t, s)
	return s
}

func TestMemoryStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) caddyotp.Store { return newTestMemoryStore(t, nil) })
}

func TestMemoryStoreModule(t *testing.T) {
	info := MemoryStore{}.CaddyModule()
	if info.ID != "otp.stores.memory" {
		t.Fatalf("expected otp.stores.memory, got %s", info.ID)
	}
	if _, ok := info.New().(*MemoryStore); !ok {
		t.Fatalf("expected *MemoryStore, got %T", info.New())
	}
}

func TestMemoryStoreLockGrowsToMax(t *testing.T) {
	clock := &fakeClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := newTestMemoryStore(t, clock.now)
	p := caddyotp.LockPolicy{After: 2, Base: 15 * time.Minute, Max: 3 * time.Hour, Window: 24 * time.Hour}
	k := caddyotp.CodeKey{Template: "login", Mobile: storetest.Mobile}

	want := []time.Duration{15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 3 * time.Hour, 3 * time.Hour}
	for i, w := range want {
		storetest.PutCode(t, s, k, "111111", 5, 5*time.Minute)
		storetest.CheckCode(t, s, k, "000000", p)
		res := storetest.CheckCode(t, s, k, "000000", p)
		if !res.LockedNow || res.RetryAfter != w {
			t.Fatalf("lock %d: expected %s, got %+v", i+1, w, res)
		}
		clock.add(w)
	}
	// a window after the last failure the run is forgotten
	clock.add(24 * time.Hour)
	storetest.PutCode(t, s, k, "111111", 5, 5*time.Minute)
	storetest.CheckCode(t, s, k, "000000", p)
	if res := storetest.CheckCode(t, s, k, "000000", p); res.RetryAfter != 15*time.Minute {
		t.Fatalf("expected a new run to start at 15m, got %+v", res)
	}
}

// TestMemoryStoreCeilingDefaults walks the default lockout on a clock: locks of 15m, 30m,
// 1h and 2h at the 20th to 80th failures, then the 100th (the ceiling) locks for the 48h
// window, and the run is kept until 48h after that lock, so that each further failure locks
// for 48h again. A new code never ends the run; a right code does.
func TestMemoryStoreCeilingDefaults(t *testing.T) {
	clock := &fakeClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := newTestMemoryStore(t, clock.now)
	p := caddyotp.LockPolicy{After: 20, Base: 15 * time.Minute, Max: 24 * time.Hour, Window: 48 * time.Hour, Ceiling: 100}
	k := caddyotp.CodeKey{Template: "login", Mobile: storetest.Mobile}
	locks := map[int]time.Duration{20: 15 * time.Minute, 40: 30 * time.Minute, 60: time.Hour, 80: 2 * time.Hour, 100: 48 * time.Hour}
	for i := 1; i <= 100; i++ {
		if i%5 == 1 {
			storetest.PutCode(t, s, k, "111111", 5, 5*time.Minute) // a new code every five failures
		}
		res := storetest.CheckCode(t, s, k, "000000", p)
		if want, ok := locks[i]; res.LockedNow != ok || res.RetryAfter != want {
			t.Fatalf("failure %d: expected a lock of %s (%t), got %+v", i, want, ok, res)
		}
		clock.add(res.RetryAfter)
	}
	// The 100th's lock is over; the run is not. The next failure locks for 48h again, and
	// so does every further one, however long the pause within the run.
	for _, pause := range []time.Duration{0, 47 * time.Hour} {
		clock.add(pause)
		storetest.ExpectAllowed(t, storetest.Claim(t, s, k, "n", 0))
		storetest.PutCode(t, s, k, "111111", 5, 5*time.Minute)
		res := storetest.CheckCode(t, s, k, "000000", p)
		if !res.LockedNow || res.RetryAfter != 48*time.Hour {
			t.Fatalf("after a pause of %s: expected a lock of 48h, got %+v", pause, res)
		}
		clock.add(48*time.Hour - time.Second)
		storetest.ExpectRefused(t, storetest.Claim(t, s, k, "n", 0), caddyotp.ReasonLocked)
		clock.add(time.Second)
	}
	// A right code ends the run: 19 failures then lock nothing, the 20th locks for 15m.
	storetest.PutCode(t, s, k, "111111", 5, 5*time.Minute)
	storetest.ExpectOutcome(t, storetest.CheckCode(t, s, k, "111111", p), caddyotp.OutcomeVerified, 0)
	for i := 1; i <= 20; i++ {
		if i%5 == 1 {
			storetest.PutCode(t, s, k, "111111", 5, 5*time.Minute)
		}
		if res := storetest.CheckCode(t, s, k, "000000", p); res.LockedNow != (i == 20) || (i == 20 && res.RetryAfter != 15*time.Minute) {
			t.Fatalf("new run, failure %d: expected a 15m lock only at the 20th, got %+v", i, res)
		}
	}
	// Left alone, a run past the ceiling ends 48h after its last lock ends.
	clock.add(15 * time.Minute)
	for i := 21; i <= 100; i++ {
		if i%5 == 1 {
			storetest.PutCode(t, s, k, "111111", 5, 5*time.Minute)
		}
		clock.add(storetest.CheckCode(t, s, k, "000000", p).RetryAfter)
	}
	clock.add(48*time.Hour - time.Second)
	storetest.PutCode(t, s, k, "111111", 5, 5*time.Minute)
	if res := storetest.CheckCode(t, s, k, "000000", p); !res.LockedNow {
		t.Fatalf("expected the run alive a second before its end, got %+v", res)
	}
	clock.add(48*time.Hour + 48*time.Hour)
	storetest.PutCode(t, s, k, "111111", 5, 5*time.Minute)
	if res := storetest.CheckCode(t, s, k, "000000", p); res.LockedNow || res.Outcome != caddyotp.OutcomeIncorrect {
		t.Fatalf("expected a new run once the old one ended, got %+v", res)
	}
}

func TestMemoryStoreAllowExact(t *testing.T) {
	clock := &fakeClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := newTestMemoryStore(t, clock.now)
	l := caddyotp.Limit{Count: 4, Window: time.Hour}
	for range 4 {
		storetest.ExpectAllowed(t, storetest.Allow(t, s, "k", l))
	}
	d := storetest.Allow(t, s, "k", l)
	if d.Allowed || d.RetryAfter != 15*time.Minute {
		t.Fatalf("expected a refusal for 15m, got %+v", d)
	}
	clock.add(15*time.Minute - time.Second)
	storetest.ExpectRefused(t, storetest.Allow(t, s, "k", l), caddyotp.ReasonLimited)
	clock.add(time.Second)
	storetest.ExpectAllowed(t, storetest.Allow(t, s, "k", l))
	clock.add(2 * time.Hour)
	for range 4 {
		storetest.ExpectAllowed(t, storetest.Allow(t, s, "k", l))
	}
}

func TestMemoryStoreExpiryAndSweep(t *testing.T) {
	clock := &fakeClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := newTestMemoryStore(t, clock.now)
	ctx := context.Background()
	k := caddyotp.CodeKey{Template: "login", Mobile: storetest.Mobile}
	p := caddyotp.LockPolicy{After: 1, Base: time.Minute, Max: time.Minute, Window: time.Hour}

	storetest.PutCode(t, s, k, "111111", 5, 5*time.Minute)
	storetest.Claim(t, s, k, "n1", time.Minute)
	storetest.Allow(t, s, "k", caddyotp.Limit{Count: 1, Window: time.Minute})
	storetest.Reserve(t, s, clock.now(), 1, caddyotp.BudgetCaps{})
	storetest.PutCode(t, s, caddyotp.CodeKey{Template: "other", Mobile: storetest.Mobile}, "111111", 5, 5*time.Minute)
	storetest.CheckCode(t, s, caddyotp.CodeKey{Template: "other", Mobile: storetest.Mobile}, "000000", p)
	storetest.Revoke(t, s, storetest.RevocationID(1), clock.now().Add(12*time.Hour))
	storetest.PutDevice(t, s, storetest.NewDevice("login", storetest.Mobile, 1, clock.now(), caddyotp.MaxRemember))
	blocking := caddyotp.GuardPolicy{Window: time.Hour, MinSends: 1, MinConversion: 0.2, Block: time.Hour}
	if hits := storetest.GuardCount(t, s, "login", storetest.GuardKeysGB, false, blocking, clock.now()); len(hits) != 2 {
		t.Fatalf("expected the guard's two keys blocked, got %v", hits)
	}

	clock.add(5*time.Minute - time.Nanosecond)
	storetest.ExpectOutcome(t, storetest.CheckCode(t, s, k, "000000", storetest.LenientPolicy), caddyotp.OutcomeIncorrect, 4)
	clock.add(time.Nanosecond)
	storetest.ExpectOutcome(t, storetest.CheckCode(t, s, k, "111111", storetest.LenientPolicy), caddyotp.OutcomeExpired, 0)

	clock.add(36 * 24 * time.Hour)
	st := s.state
	st.mu.Lock()
	sizes := map[string]int{}
	for name, m := range map[string]interface {
		Sweep(now time.Time, maxWork int) (int, int)
		Len() int
	}{
		"codes": st.codes, "cooldowns": st.cooldowns, "runs": st.runs, "limits": st.limits,
		"budget": st.budget, "revoked": st.revoked, "guard counts": st.guardCounts, "guard blocks": st.guardBlocks,
		"devices": st.devices,
	} {
		m.Sweep(clock.now(), 1000)
		sizes[name] = m.Len()
	}
	used := st.entries.Used()
	st.mu.Unlock()
	for name, n := range sizes {
		if n != 0 {
			t.Errorf("expected no %s after the sweep, got %d", name, n)
		}
	}
	if used != 0 {
		t.Errorf("expected the bound to count no entry after the sweep, got %d", used)
	}
	if d, _ := s.ReserveBudget(ctx, clock.now(), 1, caddyotp.BudgetCaps{DailyMicroUSD: 1}); !d.Allowed {
		t.Fatalf("expected a new day's budget, got %+v", d)
	}
}

func TestMemoryStoreLedgerRing(t *testing.T) {
	s := newTestMemoryStore(t, nil)
	for i := range caddyotp.LedgerKeep + 5 {
		storetest.AppendLedger(t, s, storetest.LedgerEntry("login", i))
	}
	got := storetest.RecentLedger(t, s, "login", 3*caddyotp.LedgerKeep)
	if len(got) != caddyotp.LedgerKeep {
		t.Fatalf("expected %d entries, got %d", caddyotp.LedgerKeep, len(got))
	}
	if got[0].MessageID != "m-10004" || got[len(got)-1].MessageID != "m-5" {
		t.Fatalf("expected m-10004 to m-5, got %s to %s", got[0].MessageID, got[len(got)-1].MessageID)
	}
}

func TestMemoryStoreStateSharedAcrossReload(t *testing.T) {
	ctx := testcaddy.Context(t)
	key := "test:" + t.Name()
	old := &MemoryStore{stateKey: key}
	if err := old.Provision(ctx); err != nil {
		t.Fatalf("Provision: expected no error, got %v", err)
	}
	k := caddyotp.CodeKey{Template: "login", Mobile: storetest.Mobile}
	storetest.PutCode(t, old, k, "111111", 5, time.Minute)

	// a reload provisions the new config before it cleans up the old one
	reloaded := &MemoryStore{stateKey: key}
	if err := reloaded.Provision(ctx); err != nil {
		t.Fatalf("Provision: expected no error, got %v", err)
	}
	if err := old.Cleanup(); err != nil {
		t.Fatalf("Cleanup: expected no error, got %v", err)
	}
	storetest.ExpectOutcome(t, storetest.CheckCode(t, reloaded, k, "111111", storetest.LenientPolicy), caddyotp.OutcomeVerified, 0)

	if err := reloaded.Cleanup(); err != nil {
		t.Fatalf("Cleanup: expected no error, got %v", err)
	}
	if _, ok := memoryStates.References(key); ok {
		t.Fatal("expected the state to be released")
	}
	if err := reloaded.Cleanup(); err != nil {
		t.Fatalf("second Cleanup: expected no error, got %v", err)
	}
}

func TestMemoryStoreInvalidArguments(t *testing.T) {
	s := newTestMemoryStore(t, nil)
	storetest.InvalidArguments(t, s)
}

// TestMemoryStoreRevocationClock: the memory store judges revocations by its own clock.
func TestMemoryStoreRevocationClock(t *testing.T) {
	clock := &fakeClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := newTestMemoryStore(t, clock.now)
	ctx := context.Background()
	if err := s.RevokeSession(ctx, storetest.RevocationID(1), clock.now().Add(caddyotp.MaxRevocation+time.Nanosecond)); !errors.Is(err, caddyotp.ErrInvalidArgument) {
		t.Fatalf("expected ErrInvalidArgument past %s, got %v", caddyotp.MaxRevocation, err)
	}
	storetest.Revoke(t, s, storetest.RevocationID(1), clock.now().Add(caddyotp.MaxRevocation))
	storetest.Revoke(t, s, storetest.RevocationID(2), clock.now().Add(time.Hour))
	clock.add(time.Hour)

	f := storetest.Watch(t, s)
	revs := f.UntilHealth(t, true, time.Second)
	if len(revs) != 1 || revs[0].ID != storetest.RevocationID(1) {
		t.Fatalf("expected only %s in force, got %v", storetest.RevocationID(1), revs)
	}
	f.ExpectQuiet(t, 50*time.Millisecond)
	f.Stop(t)
	s.state.mu.Lock()
	n := len(s.state.watchers)
	s.state.mu.Unlock()
	if n != 0 {
		t.Fatalf("expected the watcher to be gone once its context ended, got %d watchers", n)
	}
}

// entries is how many entries the store holds, expired ones not yet swept included, and
// checks that the bound counts every map's entries.
func (s *MemoryStore) entries(t *testing.T) int {
	t.Helper()
	st := s.state
	st.mu.Lock()
	defer st.mu.Unlock()
	// Revocations are outside the bound.
	sum := st.codes.Len() + st.cooldowns.Len() + st.runs.Len() + st.limits.Len() + st.budget.Len() +
		st.leases.Len() + st.cursors.Len() + st.guardCounts.Len() + st.guardBlocks.Len() + st.devices.Len()
	if sum != st.entries.Used() {
		t.Fatalf("expected the bound to count the %d entries of the maps, got %d", sum, st.entries.Used())
	}
	return sum
}

func expectFull(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, caddyotp.ErrStoreUnavailable) || !strings.Contains(err.Error(), "memory store full (max_entries 1000)") {
		t.Fatalf("%s: expected ErrStoreUnavailable saying the store is full, got %v", what, err)
	}
}

// TestMemoryStoreBounded (SECURITY.md: the memory store is bounded): a flood of sends, each taking a limit of its
// own, used to grow the store without end. Now it fills max_entries and no more; every
// write that would add an entry fails with ErrStoreUnavailable, updates of kept entries go
// on, a refused Allow charges none of its limits, a check that could not count a wrong
// code checks nothing, and once the flood's entries expire writes succeed again.
func TestMemoryStoreBounded(t *testing.T) {
	const bound = 1000
	clock := &fakeClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := newBoundedMemoryStore(t, clock.now, bound)
	ctx := context.Background()
	l := caddyotp.Limit{Count: 2, Window: time.Hour}
	ip := func(i int) caddyotp.LimitTake {
		return caddyotp.LimitTake{Kind: caddyotp.LimitIP, Key: fmt.Sprintf("198.51.100.%d/%d", i%256, i), Limit: l}
	}
	k := caddyotp.CodeKey{Template: "login", Mobile: storetest.Mobile}
	storetest.PutCode(t, s, k, "111111", 5, 2*time.Hour) // a code sent before the flood
	storetest.ExpectAllowed(t, storetest.AllowAll(t, s, "login", ip(0)))
	storetest.TakeLease(t, s, "logs", "a", 2*time.Hour) // a report reader's, before the flood
	storetest.SetCursor(t, s, "logs", "c1")
	kept := storetest.NewDevice("login", storetest.Mobile, 1, clock.now(), 2*time.Hour) // remembered before the flood
	storetest.PutDevice(t, s, kept)

	refused := 0
	for i := 1; i < 2*bound; i++ {
		d, err := s.Allow(ctx, "login", []caddyotp.LimitTake{ip(i)})
		switch {
		case err != nil:
			expectFull(t, fmt.Sprintf("send %d", i), err)
			refused++
		case !d.Allowed:
			t.Fatalf("send %d: expected allowed or a full store, got %+v", i, d)
		}
		if n := s.entries(t); n > bound {
			t.Fatalf("send %d: expected at most %d entries, got %d", i, bound, n)
		}
	}
	if want := 2*bound - 1 - (bound - 5); refused != want {
		t.Fatalf("expected %d sends refused past the bound, got %d", want, refused)
	}

	// New entries of every kind are refused.
	k2 := caddyotp.CodeKey{Template: "login", Mobile: "+447400123457"}
	_, err := s.ClaimSend(ctx, k2, "login", "n", time.Minute)
	expectFull(t, "ClaimSend", err)
	expectFull(t, "PutCode", s.PutCode(ctx, k2, storetest.CodeHash(k2, "222222"), 5, time.Minute))
	_, err = s.ReserveBudget(ctx, clock.now(), 1, caddyotp.BudgetCaps{})
	expectFull(t, "ReserveBudget", err)
	_, err = s.TakeLease(ctx, "other", "a", time.Minute)
	expectFull(t, "TakeLease", err)
	expectFull(t, "SetCursor", s.SetCursor(ctx, "other", "c1"))
	expectFull(t, "PutDevice", s.PutDevice(ctx, storetest.NewDevice("login", k2.Mobile, 2, clock.now(), time.Hour)))
	// A realm and mobile with a device on record gets more, and forgets them.
	more := storetest.NewDevice("login", storetest.Mobile, 3, clock.now(), time.Hour)
	storetest.PutDevice(t, s, more)
	storetest.ForgetDevice(t, s, "login", storetest.Mobile, more.ID)
	if _, ok := storetest.Device(t, s, "login", storetest.Mobile, kept.ID, clock.now()); !ok {
		t.Fatal("expected the device remembered before the flood kept")
	}
	// The reader's own lease and cursor go on.
	if !storetest.TakeLease(t, s, "logs", "a", 2*time.Hour) {
		t.Fatal("expected the lease renewed while the store is full")
	}
	storetest.SetCursor(t, s, "logs", "c2")
	// A sign-out still works: revocations are outside the bound.
	if err := s.RevokeSession(ctx, storetest.RevocationID(1), clock.now().Add(time.Hour)); err != nil {
		t.Fatalf("expected a revocation to be kept while the store is full, got %v", err)
	}
	// The code has no failure run and there is no room for one: neither a wrong nor the
	// right code is checked, and the code keeps its attempts.
	for _, code := range []string{"000000", "111111"} {
		_, err = s.CheckCode(ctx, k, "login", storetest.CodeHash(k, code), storetest.LenientPolicy)
		expectFull(t, "CheckCode "+code, err)
	}
	// All or nothing: ip(0) has room, ip(-1) is new; the refused call charges neither.
	_, err = s.Allow(ctx, "login", []caddyotp.LimitTake{ip(0), ip(-1)})
	expectFull(t, "Allow of a kept and a new limit", err)
	// Updates of kept entries succeed: ip(0)'s second send, then its limit is spent.
	storetest.ExpectAllowed(t, storetest.AllowAll(t, s, "login", ip(0)))
	storetest.ExpectRefused(t, storetest.AllowAll(t, s, "login", ip(0)), caddyotp.ReasonLimited)
	if n := s.entries(t); n != bound {
		t.Fatalf("expected %d entries, got %d", bound, n)
	}

	// An hour later the flood's limits have expired: new entries fit again, swept a few at a
	// time by the writes themselves.
	clock.add(time.Hour)
	for i := 2 * bound; i < 2*bound+bound/2; i++ {
		storetest.ExpectAllowed(t, storetest.AllowAll(t, s, "login", ip(i)))
		if n := s.entries(t); n > bound {
			t.Fatalf("send %d: expected at most %d entries, got %d", i, bound, n)
		}
	}
	storetest.Revoke(t, s, storetest.RevocationID(1), clock.now().Add(time.Hour))
	storetest.ExpectOutcome(t, storetest.CheckCode(t, s, k, "000000", storetest.LenientPolicy), caddyotp.OutcomeIncorrect, 4)
	storetest.ExpectOutcome(t, storetest.CheckCode(t, s, k, "111111", storetest.LenientPolicy), caddyotp.OutcomeVerified, 0)
}

// TestMemoryStoreWriteSweepsInSteps: with the store full of expired entries, each write
// removes some of them and never more than ttlmap.MaxWorkPerWrite (a removed entry is one
// the write looked at): no write scans the store under its lock, and no goroutine is needed.
func TestMemoryStoreWriteSweepsInSteps(t *testing.T) {
	const bound = 20_000
	clock := &fakeClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := newBoundedMemoryStore(t, clock.now, bound)
	l := caddyotp.Limit{Count: 1, Window: time.Minute}
	for i := range bound {
		storetest.ExpectAllowed(t, storetest.Allow(t, s, fmt.Sprint(i), l))
	}
	clock.add(2 * time.Minute)
	before := s.entries(t)
	for i := range 100 {
		storetest.ExpectAllowed(t, storetest.Allow(t, s, fmt.Sprint("new", i), l))
		after := s.entries(t)
		removed := before + 1 - after
		if removed < 1 || removed > ttlmap.MaxWorkPerWrite {
			t.Fatalf("write %d: expected 1 to %d expired entries removed, got %d", i, ttlmap.MaxWorkPerWrite, removed)
		}
		before = after
	}
	if before >= bound {
		t.Fatalf("expected the writes to have swept, got %d entries", before)
	}
}

// TestMemoryStoreMaxEntriesProvision: a max_entries out of bounds fails at provision (JSON
// skips the Caddyfile's checks), naming the setting; zero is the default.
func TestMemoryStoreMaxEntriesProvision(t *testing.T) {
	for _, n := range []int{-1, 999, 100_000_001} {
		s := &MemoryStore{stateKey: "test:" + t.Name(), MaxEntries: n}
		err := s.Provision(testcaddy.Context(t))
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("max_entries must be from 1000 to 100000000, got %d", n)) {
			t.Errorf("max_entries %d: expected an error naming max_entries, got %v", n, err)
		}
	}
	if _, ok := memoryStates.References("test:" + t.Name()); ok {
		t.Error("expected a refused config to leave no state behind")
	}
	s := newTestMemoryStore(t, nil)
	if s.MaxEntries != 1_000_000 || s.state.entries.Max() != 1_000_000 {
		t.Fatalf("expected the default of 1000000, got %d (state %d)", s.MaxEntries, s.state.entries.Max())
	}
}

// TestMemoryStoreMaxEntriesReload: configs that share the state (a reload) share one bound,
// the one of the config provisioned last.
func TestMemoryStoreMaxEntriesReload(t *testing.T) {
	ctx := testcaddy.Context(t)
	key := "test:" + t.Name()
	old := &MemoryStore{stateKey: key, MaxEntries: 1000}
	if err := old.Provision(ctx); err != nil {
		t.Fatalf("Provision: expected no error, got %v", err)
	}
	defer old.Cleanup()
	l := caddyotp.Limit{Count: 1, Window: time.Hour}
	for i := range 1000 {
		storetest.ExpectAllowed(t, storetest.Allow(t, old, fmt.Sprint(i), l))
	}
	_, err := old.Allow(context.Background(), "login", []caddyotp.LimitTake{{Kind: caddyotp.LimitIP, Key: "more", Limit: l}})
	expectFull(t, "Allow at 1000", err)

	reloaded := &MemoryStore{stateKey: key, MaxEntries: 2000}
	if err := reloaded.Provision(ctx); err != nil {
		t.Fatalf("Provision: expected no error, got %v", err)
	}
	defer reloaded.Cleanup()
	storetest.ExpectAllowed(t, storetest.Allow(t, old, "more", l)) // the old config's store, in flight, gets the new bound too
	if old.state != reloaded.state || reloaded.entries(t) != 1001 {
		t.Fatalf("expected one shared state with 1001 entries, got %d", reloaded.entries(t))
	}
}
