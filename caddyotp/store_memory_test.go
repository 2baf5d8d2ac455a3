package caddyotp

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
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
	s := &MemoryStore{now: now, stateKey: "test:" + t.Name()}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	if err := s.Provision(ctx); err != nil {
		t.Fatalf("Provision: expected no error, got %v", err)
	}
	t.Cleanup(func() {
		if err := s.Cleanup(); err != nil {
			t.Errorf("Cleanup: expected no error, got %v", err)
		}
	})
	return s
}

func TestMemoryStore(t *testing.T) {
	runStoreSuite(t, func(t *testing.T) Store { return newTestMemoryStore(t, nil) })
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
	p := LockPolicy{After: 2, Base: 15 * time.Minute, Max: 3 * time.Hour, Window: 24 * time.Hour}
	k := CodeKey{Template: "login", Mobile: suiteMobile}

	want := []time.Duration{15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 3 * time.Hour, 3 * time.Hour}
	for i, w := range want {
		putCode(t, s, k, "111111", 5, 5*time.Minute)
		checkCode(t, s, k, "000000", p)
		res := checkCode(t, s, k, "000000", p)
		if !res.LockedNow || res.RetryAfter != w {
			t.Fatalf("lock %d: expected %s, got %+v", i+1, w, res)
		}
		clock.add(w)
	}
	// a window after the last failure the run is forgotten
	clock.add(24 * time.Hour)
	putCode(t, s, k, "111111", 5, 5*time.Minute)
	checkCode(t, s, k, "000000", p)
	if res := checkCode(t, s, k, "000000", p); res.RetryAfter != 15*time.Minute {
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
	p := LockPolicy{After: 20, Base: 15 * time.Minute, Max: 24 * time.Hour, Window: 48 * time.Hour, Ceiling: 100}
	k := CodeKey{Template: "login", Mobile: suiteMobile}
	locks := map[int]time.Duration{20: 15 * time.Minute, 40: 30 * time.Minute, 60: time.Hour, 80: 2 * time.Hour, 100: 48 * time.Hour}
	for i := 1; i <= 100; i++ {
		if i%5 == 1 {
			putCode(t, s, k, "111111", 5, 5*time.Minute) // a new code every five failures
		}
		res := checkCode(t, s, k, "000000", p)
		if want, ok := locks[i]; res.LockedNow != ok || res.RetryAfter != want {
			t.Fatalf("failure %d: expected a lock of %s (%t), got %+v", i, want, ok, res)
		}
		clock.add(res.RetryAfter)
	}
	// The 100th's lock is over; the run is not. The next failure locks for 48h again, and
	// so does every further one, however long the pause within the run.
	for _, pause := range []time.Duration{0, 47 * time.Hour} {
		clock.add(pause)
		expectAllowed(t, claim(t, s, k, "n", 0))
		putCode(t, s, k, "111111", 5, 5*time.Minute)
		res := checkCode(t, s, k, "000000", p)
		if !res.LockedNow || res.RetryAfter != 48*time.Hour {
			t.Fatalf("after a pause of %s: expected a lock of 48h, got %+v", pause, res)
		}
		clock.add(48*time.Hour - time.Second)
		expectRefused(t, claim(t, s, k, "n", 0), ReasonLocked)
		clock.add(time.Second)
	}
	// A right code ends the run: 19 failures then lock nothing, the 20th locks for 15m.
	putCode(t, s, k, "111111", 5, 5*time.Minute)
	expectOutcome(t, checkCode(t, s, k, "111111", p), OutcomeVerified, 0)
	for i := 1; i <= 20; i++ {
		if i%5 == 1 {
			putCode(t, s, k, "111111", 5, 5*time.Minute)
		}
		if res := checkCode(t, s, k, "000000", p); res.LockedNow != (i == 20) || (i == 20 && res.RetryAfter != 15*time.Minute) {
			t.Fatalf("new run, failure %d: expected a 15m lock only at the 20th, got %+v", i, res)
		}
	}
	// Left alone, a run past the ceiling ends 48h after its last lock ends.
	clock.add(15 * time.Minute)
	for i := 21; i <= 100; i++ {
		if i%5 == 1 {
			putCode(t, s, k, "111111", 5, 5*time.Minute)
		}
		clock.add(checkCode(t, s, k, "000000", p).RetryAfter)
	}
	clock.add(48*time.Hour - time.Second)
	putCode(t, s, k, "111111", 5, 5*time.Minute)
	if res := checkCode(t, s, k, "000000", p); !res.LockedNow {
		t.Fatalf("expected the run alive a second before its end, got %+v", res)
	}
	clock.add(48*time.Hour + 48*time.Hour)
	putCode(t, s, k, "111111", 5, 5*time.Minute)
	if res := checkCode(t, s, k, "000000", p); res.LockedNow || res.Outcome != OutcomeIncorrect {
		t.Fatalf("expected a new run once the old one ended, got %+v", res)
	}
}

func TestMemoryStoreAllowExact(t *testing.T) {
	clock := &fakeClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := newTestMemoryStore(t, clock.now)
	l := Limit{Count: 4, Window: time.Hour}
	for range 4 {
		expectAllowed(t, allow(t, s, "k", l))
	}
	d := allow(t, s, "k", l)
	if d.Allowed || d.RetryAfter != 15*time.Minute {
		t.Fatalf("expected a refusal for 15m, got %+v", d)
	}
	clock.add(15*time.Minute - time.Second)
	expectRefused(t, allow(t, s, "k", l), ReasonLimited)
	clock.add(time.Second)
	expectAllowed(t, allow(t, s, "k", l))
	clock.add(2 * time.Hour)
	for range 4 {
		expectAllowed(t, allow(t, s, "k", l))
	}
}

func TestMemoryStoreExpiryAndSweep(t *testing.T) {
	clock := &fakeClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := newTestMemoryStore(t, clock.now)
	ctx := context.Background()
	k := CodeKey{Template: "login", Mobile: suiteMobile}
	p := LockPolicy{After: 1, Base: time.Minute, Max: time.Minute, Window: time.Hour}

	putCode(t, s, k, "111111", 5, 5*time.Minute)
	claim(t, s, k, "n1", time.Minute)
	allow(t, s, "k", Limit{Count: 1, Window: time.Minute})
	reserve(t, s, clock.now(), 1, BudgetCaps{})
	putCode(t, s, CodeKey{Template: "other", Mobile: suiteMobile}, "111111", 5, 5*time.Minute)
	checkCode(t, s, CodeKey{Template: "other", Mobile: suiteMobile}, "000000", p)
	revoke(t, s, revocationID(1), clock.now().Add(12*time.Hour))

	clock.add(5*time.Minute - time.Nanosecond)
	expectOutcome(t, checkCode(t, s, k, "000000", lenientPolicy), OutcomeIncorrect, 4)
	clock.add(time.Nanosecond)
	expectOutcome(t, checkCode(t, s, k, "111111", lenientPolicy), OutcomeExpired, 0)

	clock.add(36 * 24 * time.Hour)
	st := s.state
	st.mu.Lock()
	st.sweep(clock.now())
	sizes := map[string]int{
		"codes": len(st.codes), "cooldowns": len(st.cooldowns), "runs": len(st.runs),
		"locks": len(st.locks), "limits": len(st.limits), "budget": len(st.budget),
		"revoked": len(st.revoked),
	}
	st.mu.Unlock()
	for name, n := range sizes {
		if n != 0 {
			t.Errorf("expected no %s after the sweep, got %d", name, n)
		}
	}
	if d, _ := s.ReserveBudget(ctx, clock.now(), 1, BudgetCaps{DailyMicroUSD: 1}); !d.Allowed {
		t.Fatalf("expected a new day's budget, got %+v", d)
	}
}

func TestMemoryStoreLedgerRing(t *testing.T) {
	s := newTestMemoryStore(t, nil)
	for i := range ledgerKeep + 5 {
		appendLedger(t, s, ledgerEntry("login", i))
	}
	got := recentLedger(t, s, "login", 3*ledgerKeep)
	if len(got) != ledgerKeep {
		t.Fatalf("expected %d entries, got %d", ledgerKeep, len(got))
	}
	if got[0].MessageID != "m-10004" || got[len(got)-1].MessageID != "m-5" {
		t.Fatalf("expected m-10004 to m-5, got %s to %s", got[0].MessageID, got[len(got)-1].MessageID)
	}
}

func TestMemoryStoreStateSharedAcrossReload(t *testing.T) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	key := "test:" + t.Name()
	old := &MemoryStore{stateKey: key}
	if err := old.Provision(ctx); err != nil {
		t.Fatalf("Provision: expected no error, got %v", err)
	}
	k := CodeKey{Template: "login", Mobile: suiteMobile}
	putCode(t, old, k, "111111", 5, time.Minute)

	// a reload provisions the new config before it cleans up the old one
	reloaded := &MemoryStore{stateKey: key}
	if err := reloaded.Provision(ctx); err != nil {
		t.Fatalf("Provision: expected no error, got %v", err)
	}
	if err := old.Cleanup(); err != nil {
		t.Fatalf("Cleanup: expected no error, got %v", err)
	}
	expectOutcome(t, checkCode(t, reloaded, k, "111111", lenientPolicy), OutcomeVerified, 0)

	st := reloaded.state
	if err := reloaded.Cleanup(); err != nil {
		t.Fatalf("Cleanup: expected no error, got %v", err)
	}
	select {
	case <-st.done:
	case <-time.After(time.Second):
		t.Fatal("expected the janitor to stop with the last cleanup")
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
	testInvalidArguments(t, s)
}

// testInvalidArguments checks that both stores refuse nonsense alike.
func testInvalidArguments(t *testing.T, s Store) {
	t.Helper()
	ctx := context.Background()
	k := CodeKey{Template: "login", Mobile: suiteMobile}
	h := codeHash(k, "111111")
	calls := map[string]error{
		"put without hash":     s.PutCode(ctx, k, nil, 5, time.Minute),
		"put without attempts": s.PutCode(ctx, k, h, 0, time.Minute),
		"put without ttl":      s.PutCode(ctx, k, h, 5, 0),
		"limit without count":  second(s.Allow(ctx, "t", []LimitTake{{Kind: LimitIP, Key: "k", Limit: Limit{Window: time.Minute}}})),
		"limit without window": second(s.Allow(ctx, "t", []LimitTake{{Kind: LimitIP, Key: "k", Limit: Limit{Count: 1}}})),
		"policy without window": second(s.CheckCode(ctx, k, k.Template, h,
			LockPolicy{After: 1, Base: time.Minute, Max: time.Minute})),
		"policy without base": second(s.CheckCode(ctx, k, k.Template, h,
			LockPolicy{After: 1, Window: time.Minute})),
		"policy with a negative ceiling": second(s.CheckCode(ctx, k, k.Template, h,
			LockPolicy{After: 1, Base: time.Minute, Window: time.Hour, Ceiling: -1})),
		"check without lock group": second(s.CheckCode(ctx, k, "", h, lenientPolicy)),
		"claim without lock group": second(s.ClaimSend(ctx, k, "", "n", time.Minute)),
		"negative reservation":     second(s.ReserveBudget(ctx, time.Now(), -1, BudgetCaps{})),
		"negative release":         s.ReleaseBudget(ctx, time.Now(), -1),
		"revoke a short id":        s.RevokeSession(ctx, revocationID(1)[1:], time.Now().Add(time.Hour)),
		"revoke a long id":         s.RevokeSession(ctx, revocationID(1)+"0", time.Now().Add(time.Hour)),
		"revoke upper case":        s.RevokeSession(ctx, "ABCDEF0123456789ABCDEF0123456789", time.Now().Add(time.Hour)),
		"revoke not hex":           s.RevokeSession(ctx, "g0000000000000000000000000000000", time.Now().Add(time.Hour)),
		"revoke until past":        s.RevokeSession(ctx, revocationID(1), time.Now().Add(-time.Second)),
		"revoke until 14h":         s.RevokeSession(ctx, revocationID(1), time.Now().Add(14*time.Hour)),
	}
	for name, err := range calls {
		if !errors.Is(err, errInvalidArgument) {
			t.Errorf("%s: expected errInvalidArgument, got %v", name, err)
		}
	}
}

func second[T any](_ T, err error) error { return err }

// TestMemoryStoreRevocationClock: the memory store judges revocations by its own clock.
func TestMemoryStoreRevocationClock(t *testing.T) {
	clock := &fakeClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := newTestMemoryStore(t, clock.now)
	ctx := context.Background()
	if err := s.RevokeSession(ctx, revocationID(1), clock.now().Add(13*time.Hour+time.Nanosecond)); !errors.Is(err, errInvalidArgument) {
		t.Fatalf("expected errInvalidArgument past 13h, got %v", err)
	}
	revoke(t, s, revocationID(1), clock.now().Add(13*time.Hour))
	revoke(t, s, revocationID(2), clock.now().Add(time.Hour))
	clock.add(time.Hour)

	f := watch(t, s)
	revs := f.untilHealth(t, true, time.Second)
	if len(revs) != 1 || revs[0].id != revocationID(1) {
		t.Fatalf("expected only %s in force, got %v", revocationID(1), revs)
	}
	select {
	case e := <-f.events:
		t.Fatalf("expected nothing after health(true), got %s", e)
	case <-time.After(50 * time.Millisecond):
	}
	f.stop(t)
	s.state.mu.Lock()
	n := len(s.state.watchers)
	s.state.mu.Unlock()
	if n != 0 {
		t.Fatalf("expected the watcher to be gone once its context ended, got %d watchers", n)
	}
}
