package caddyotp

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/caddyotp/internal/otpcode"
)

// The behaviour every Store keeps. store_memory_test.go and store_redis_test.go run it.

var suiteSecret = []byte("store-suite-secret-0123456789abcdef")

const suiteMobile = "+447400123456"

// codeHash is the hash a service would store for code.
func codeHash(k CodeKey, code string) []byte {
	return otpcode.Hash(suiteSecret, k.Template, k.Mobile, code)
}

// lenientPolicy never locks within a test.
var lenientPolicy = LockPolicy{After: 1000, Base: time.Minute, Max: time.Hour, Window: time.Hour}

type storeCase struct {
	name string
	run  func(t *testing.T, s Store)
}

func runStoreSuite(t *testing.T, newStore func(t *testing.T) Store) {
	t.Helper()
	cases := []storeCase{
		{"right code verifies once", testRightCodeOnce},
		{"wrong codes count down and the last burns", testWrongCodesBurn},
		{"put replaces the old code", testPutReplaces},
		{"drop removes only the matching code", testDropMatching},
		{"code expires", testCodeExpires},
		{"codes are per template and mobile", testCodesSeparate},
		{"claim send", testClaimSend},
		{"claim send at least one second", testClaimSendMinimum},
		{"claim send zero interval", testClaimSendZero},
		{"lock across codes and the templates of a lock group", testLockAcrossCodes},
		{"right code ends the failure run", testRightCodeResetsRun},
		{"burning failure can lock", testBurnLocks},
		{"parallel right codes verify once", testParallelRight},
		{"parallel wrong codes", testParallelWrong},
		{"allow trips at count", testAllow},
		{"allow is all or nothing", testAllowAllOrNothing},
		{"allow all or nothing in parallel", testAllowAllOrNothingParallel},
		{"locks per lock group", testLockGroups},
		{"ceiling locks until the run ends", testCeiling},
		{"budget caps", testBudgetCaps},
		{"budget caps in parallel", testBudgetParallel},
		{"ledger newest first", testLedgerOrder},
		{"ledger capped", testLedgerCapped},
		{"revocation before watch comes first", testRevocationBeforeWatch},
		{"revocation after watch", testRevocationAfterWatch},
		{"revocation in the past", testRevocationPast},
		{"revocation keeps the later end", testRevocationLaterEnd},
		{"revocation to two watchers", testRevocationTwoWatchers},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t, newStore(t))
		})
	}
}

func putCode(t *testing.T, s Store, k CodeKey, code string, attempts int, ttl time.Duration) {
	t.Helper()
	if err := s.PutCode(context.Background(), k, codeHash(k, code), attempts, ttl); err != nil {
		t.Fatalf("PutCode: expected no error, got %v", err)
	}
}

// suiteGroup is the lock group of the suite's templates unless a test names another: one
// group, so that wrong codes at "login" and "signup" add up.
const suiteGroup = "staff"

func checkCode(t *testing.T, s Store, k CodeKey, code string, p LockPolicy) CheckResult {
	t.Helper()
	return checkCodeIn(t, s, suiteGroup, k, code, p)
}

func checkCodeIn(t *testing.T, s Store, group string, k CodeKey, code string, p LockPolicy) CheckResult {
	t.Helper()
	res, err := s.CheckCode(context.Background(), k, group, codeHash(k, code), p)
	if err != nil {
		t.Fatalf("CheckCode: expected no error, got %v", err)
	}
	return res
}

func expectOutcome(t *testing.T, got CheckResult, want Outcome, left int) {
	t.Helper()
	if got.Outcome != want {
		t.Fatalf("expected outcome %s, got %s (%+v)", want, got.Outcome, got)
	}
	if want == OutcomeIncorrect && got.AttemptsLeft != left {
		t.Fatalf("expected %d attempts left, got %d", left, got.AttemptsLeft)
	}
}

func expectBetween(t *testing.T, what string, got, lo, hi time.Duration) {
	t.Helper()
	if got < lo || got > hi {
		t.Fatalf("expected %s in [%s, %s], got %s", what, lo, hi, got)
	}
}

func testRightCodeOnce(t *testing.T, s Store) {
	k := CodeKey{Template: "login", Mobile: suiteMobile}
	putCode(t, s, k, "012345", 5, time.Minute)
	expectOutcome(t, checkCode(t, s, k, "012345", lenientPolicy), OutcomeVerified, 0)
	expectOutcome(t, checkCode(t, s, k, "012345", lenientPolicy), OutcomeExpired, 0)
}

func testWrongCodesBurn(t *testing.T, s Store) {
	k := CodeKey{Template: "login", Mobile: suiteMobile}
	putCode(t, s, k, "111111", 3, time.Minute)
	steps := []struct {
		code string
		want Outcome
		left int
	}{
		{"222222", OutcomeIncorrect, 2},
		{"333333", OutcomeIncorrect, 1},
		{"444444", OutcomeBurned, 0},
		{"111111", OutcomeExpired, 0},
	}
	for i, st := range steps {
		res := checkCode(t, s, k, st.code, lenientPolicy)
		if res.Outcome != st.want || res.AttemptsLeft != st.left {
			t.Fatalf("step %d: expected %s with %d left, got %s with %d left", i, st.want, st.left, res.Outcome, res.AttemptsLeft)
		}
		if res.LockedNow {
			t.Fatalf("step %d: expected no lock, got %+v", i, res)
		}
	}
}

func testPutReplaces(t *testing.T, s Store) {
	k := CodeKey{Template: "login", Mobile: suiteMobile}
	putCode(t, s, k, "111111", 5, time.Minute)
	putCode(t, s, k, "222222", 5, time.Minute)
	res := checkCode(t, s, k, "111111", lenientPolicy)
	if res.Outcome != OutcomeIncorrect && res.Outcome != OutcomeExpired {
		t.Fatalf("expected the old code to be dead, got %s", res.Outcome)
	}
	expectOutcome(t, checkCode(t, s, k, "222222", lenientPolicy), OutcomeVerified, 0)
}

func testDropMatching(t *testing.T, s Store) {
	ctx := context.Background()
	k := CodeKey{Template: "login", Mobile: suiteMobile}
	putCode(t, s, k, "111111", 5, time.Minute)
	if err := s.DropCode(ctx, k, codeHash(k, "999999")); err != nil {
		t.Fatalf("DropCode: expected no error, got %v", err)
	}
	expectOutcome(t, checkCode(t, s, k, "111111", lenientPolicy), OutcomeVerified, 0)

	putCode(t, s, k, "111111", 5, time.Minute)
	if err := s.DropCode(ctx, k, codeHash(k, "111111")); err != nil {
		t.Fatalf("DropCode: expected no error, got %v", err)
	}
	expectOutcome(t, checkCode(t, s, k, "111111", lenientPolicy), OutcomeExpired, 0)
}

func testCodeExpires(t *testing.T, s Store) {
	k := CodeKey{Template: "login", Mobile: suiteMobile}
	putCode(t, s, k, "111111", 5, time.Second)
	time.Sleep(1200 * time.Millisecond)
	expectOutcome(t, checkCode(t, s, k, "111111", lenientPolicy), OutcomeExpired, 0)
}

func testCodesSeparate(t *testing.T, s Store) {
	a := CodeKey{Template: "login", Mobile: suiteMobile}
	b := CodeKey{Template: "signup", Mobile: suiteMobile}
	c := CodeKey{Template: "login", Mobile: "+447400999999"}
	for _, k := range []CodeKey{a, b, c} {
		putCode(t, s, k, "123456", 5, time.Minute)
	}
	for _, k := range []CodeKey{a, b, c} {
		expectOutcome(t, checkCode(t, s, k, "123456", lenientPolicy), OutcomeVerified, 0)
	}
}

func claim(t *testing.T, s Store, k CodeKey, nonce string, resend time.Duration) Decision {
	t.Helper()
	return claimIn(t, s, suiteGroup, k, nonce, resend)
}

func claimIn(t *testing.T, s Store, group string, k CodeKey, nonce string, resend time.Duration) Decision {
	t.Helper()
	d, err := s.ClaimSend(context.Background(), k, group, nonce, resend)
	if err != nil {
		t.Fatalf("ClaimSend: expected no error, got %v", err)
	}
	return d
}

func expectAllowed(t *testing.T, d Decision) {
	t.Helper()
	if !d.Allowed || d.Reason != ReasonNone {
		t.Fatalf("expected allowed, got %+v", d)
	}
}

func expectRefused(t *testing.T, d Decision, reason Reason) {
	t.Helper()
	if d.Allowed || d.Reason != reason {
		t.Fatalf("expected refusal %q, got %+v", reason, d)
	}
}

func testClaimSend(t *testing.T, s Store) {
	ctx := context.Background()
	k := CodeKey{Template: "login", Mobile: suiteMobile}
	expectAllowed(t, claim(t, s, k, "n1", time.Minute))

	d := claim(t, s, k, "n2", time.Minute)
	expectRefused(t, d, ReasonTooSoon)
	expectBetween(t, "retry after", d.RetryAfter, 50*time.Second, time.Minute)

	// the same nonce again is the same claim (a repeated request)
	expectAllowed(t, claim(t, s, k, "n1", time.Minute))

	if err := s.ReleaseSend(ctx, k, "n2"); err != nil {
		t.Fatalf("ReleaseSend: expected no error, got %v", err)
	}
	expectRefused(t, claim(t, s, k, "n3", time.Minute), ReasonTooSoon)

	// other templates and mobiles are not held back
	expectAllowed(t, claim(t, s, CodeKey{Template: "signup", Mobile: suiteMobile}, "n4", time.Minute))
	expectAllowed(t, claim(t, s, CodeKey{Template: "login", Mobile: "+447400999999"}, "n5", time.Minute))

	if err := s.ReleaseSend(ctx, k, "n1"); err != nil {
		t.Fatalf("ReleaseSend: expected no error, got %v", err)
	}
	expectAllowed(t, claim(t, s, k, "n6", time.Minute))
}

func testClaimSendMinimum(t *testing.T, s Store) {
	k := CodeKey{Template: "login", Mobile: suiteMobile}
	expectAllowed(t, claim(t, s, k, "n1", time.Millisecond))
	d := claim(t, s, k, "n2", time.Millisecond)
	expectRefused(t, d, ReasonTooSoon)
	expectBetween(t, "retry after", d.RetryAfter, time.Millisecond, time.Second)
}

// A zero interval starts none: every send is allowed (the limits still apply), but the
// lock is still checked.
func testClaimSendZero(t *testing.T, s Store) {
	k := CodeKey{Template: "login", Mobile: suiteMobile}
	expectAllowed(t, claim(t, s, k, "n1", 0))
	expectAllowed(t, claim(t, s, k, "n2", 0))
	p := LockPolicy{After: 3, Base: time.Minute, Max: time.Minute, Window: time.Hour}
	putCode(t, s, k, "111111", 5, time.Minute)
	for i := 0; i < 3; i++ {
		checkCode(t, s, k, "000000", p)
	}
	expectRefused(t, claim(t, s, k, "n3", 0), ReasonLocked)
}

func testLockAcrossCodes(t *testing.T, s Store) {
	p := LockPolicy{After: 3, Base: 200 * time.Millisecond, Max: 300 * time.Millisecond, Window: time.Minute}
	a := CodeKey{Template: "login", Mobile: suiteMobile}
	b := CodeKey{Template: "signup", Mobile: suiteMobile}
	putCode(t, s, a, "111111", 5, time.Minute)
	putCode(t, s, b, "222222", 5, time.Minute)

	expectOutcome(t, checkCode(t, s, a, "000000", p), OutcomeIncorrect, 4)
	putCode(t, s, a, "111111", 5, time.Minute) // a resend does not reset the run
	expectOutcome(t, checkCode(t, s, a, "000000", p), OutcomeIncorrect, 4)
	res := checkCode(t, s, b, "000000", p)
	expectOutcome(t, res, OutcomeIncorrect, 4)
	if !res.LockedNow {
		t.Fatalf("expected the third failure to lock, got %+v", res)
	}
	expectBetween(t, "first lock", res.RetryAfter, 150*time.Millisecond, 200*time.Millisecond)

	// while locked: no sends, nothing checked, the code left as it is
	expectRefused(t, claim(t, s, a, "n1", time.Minute), ReasonLocked)
	res = checkCode(t, s, b, "222222", p)
	expectOutcome(t, res, OutcomeLocked, 0)
	expectBetween(t, "locked retry after", res.RetryAfter, time.Millisecond, 200*time.Millisecond)

	time.Sleep(250 * time.Millisecond)
	expectOutcome(t, checkCode(t, s, a, "000000", p), OutcomeIncorrect, 3)
	expectOutcome(t, checkCode(t, s, a, "000000", p), OutcomeIncorrect, 2)
	res = checkCode(t, s, b, "000000", p)
	if !res.LockedNow {
		t.Fatalf("expected the sixth failure to lock, got %+v", res)
	}
	// doubled to 400ms, held at Max
	expectBetween(t, "second lock", res.RetryAfter, 250*time.Millisecond, 300*time.Millisecond)

	time.Sleep(350 * time.Millisecond)
	expectOutcome(t, checkCode(t, s, b, "222222", p), OutcomeVerified, 0)
	expectAllowed(t, claim(t, s, a, "n2", time.Minute))
}

func testRightCodeResetsRun(t *testing.T, s Store) {
	p := LockPolicy{After: 3, Base: time.Minute, Max: time.Hour, Window: time.Hour}
	k := CodeKey{Template: "login", Mobile: suiteMobile}
	putCode(t, s, k, "111111", 5, time.Minute)
	expectOutcome(t, checkCode(t, s, k, "000000", p), OutcomeIncorrect, 4)
	expectOutcome(t, checkCode(t, s, k, "000000", p), OutcomeIncorrect, 3)
	expectOutcome(t, checkCode(t, s, k, "111111", p), OutcomeVerified, 0)

	putCode(t, s, k, "111111", 5, time.Minute)
	for left := 4; left >= 3; left-- {
		if res := checkCode(t, s, k, "000000", p); res.LockedNow || res.AttemptsLeft != left {
			t.Fatalf("expected no lock and %d left, got %+v", left, res)
		}
	}
	res := checkCode(t, s, k, "000000", p)
	if !res.LockedNow {
		t.Fatalf("expected a lock at the third failure of the new run, got %+v", res)
	}
	expectBetween(t, "lock", res.RetryAfter, 50*time.Second, time.Minute)
}

func testBurnLocks(t *testing.T, s Store) {
	p := LockPolicy{After: 2, Base: time.Minute, Max: time.Hour, Window: time.Hour}
	k := CodeKey{Template: "login", Mobile: suiteMobile}
	putCode(t, s, k, "111111", 2, time.Minute)
	expectOutcome(t, checkCode(t, s, k, "000000", p), OutcomeIncorrect, 1)
	res := checkCode(t, s, k, "000000", p)
	expectOutcome(t, res, OutcomeBurned, 0)
	if !res.LockedNow {
		t.Fatalf("expected the burning failure to lock, got %+v", res)
	}
	expectBetween(t, "lock", res.RetryAfter, 50*time.Second, time.Minute)
}

// parallel runs f n times at once and returns the results.
func parallel[T any](n int, f func(i int) T) []T {
	out := make([]T, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			out[i] = f(i)
		}()
	}
	close(start)
	wg.Wait()
	return out
}

type checkOrErr struct {
	res CheckResult
	err error
}

func testParallelRight(t *testing.T, s Store) {
	k := CodeKey{Template: "login", Mobile: suiteMobile}
	putCode(t, s, k, "654321", 5, time.Minute)
	hash := codeHash(k, "654321")
	results := parallel(50, func(int) checkOrErr {
		res, err := s.CheckCode(context.Background(), k, suiteGroup, hash, lenientPolicy)
		return checkOrErr{res, err}
	})
	counts := map[Outcome]int{}
	for _, r := range results {
		if r.err != nil {
			t.Fatalf("CheckCode: expected no error, got %v", r.err)
		}
		counts[r.res.Outcome]++
	}
	if counts[OutcomeVerified] != 1 || counts[OutcomeExpired] != 49 {
		t.Fatalf("expected 1 verified and 49 expired, got %v", counts)
	}
}

func testParallelWrong(t *testing.T, s Store) {
	k := CodeKey{Template: "login", Mobile: suiteMobile}
	putCode(t, s, k, "654321", 5, time.Minute)
	results := parallel(50, func(i int) checkOrErr {
		res, err := s.CheckCode(context.Background(), k, suiteGroup, codeHash(k, fmt.Sprintf("%06d", i)), lenientPolicy)
		return checkOrErr{res, err}
	})
	counts := map[Outcome]int{}
	lefts := map[int]bool{}
	for _, r := range results {
		if r.err != nil {
			t.Fatalf("CheckCode: expected no error, got %v", r.err)
		}
		counts[r.res.Outcome]++
		if r.res.Outcome == OutcomeIncorrect {
			lefts[r.res.AttemptsLeft] = true
		}
	}
	if counts[OutcomeIncorrect] != 4 || counts[OutcomeBurned] != 1 || counts[OutcomeExpired] != 45 {
		t.Fatalf("expected 4 incorrect, 1 burned and 45 expired, got %v", counts)
	}
	if len(lefts) != 4 {
		t.Fatalf("expected attempts left 4, 3, 2 and 1 once each, got %v", lefts)
	}
}

// allow takes one send from the ip limit key of the template "login".
func allow(t *testing.T, s Store, key string, l Limit) Decision {
	t.Helper()
	return allowAll(t, s, "login", LimitTake{Kind: LimitIP, Key: key, Limit: l})
}

// allowAll takes one send from every limit of takes, all or nothing.
func allowAll(t *testing.T, s Store, template string, takes ...LimitTake) Decision {
	t.Helper()
	d, err := s.Allow(context.Background(), template, takes)
	if err != nil {
		t.Fatalf("Allow: expected no error, got %v", err)
	}
	return d
}

func testAllow(t *testing.T, s Store) {
	l := Limit{Count: 5, Window: 10 * time.Second}
	for i := range 5 {
		if d := allow(t, s, "mobile:"+suiteMobile, l); !d.Allowed {
			t.Fatalf("send %d: expected allowed, got %+v", i+1, d)
		}
	}
	d := allow(t, s, "mobile:"+suiteMobile, l)
	expectRefused(t, d, ReasonLimited)
	expectBetween(t, "retry after", d.RetryAfter, 1500*time.Millisecond, 2*time.Second)

	expectAllowed(t, allow(t, s, "ip:192.0.2.1", l))

	// the refill is smooth: one send back after Window/Count
	fast := Limit{Count: 2, Window: 400 * time.Millisecond}
	expectAllowed(t, allow(t, s, "fast", fast))
	expectAllowed(t, allow(t, s, "fast", fast))
	d = allow(t, s, "fast", fast)
	expectRefused(t, d, ReasonLimited)
	time.Sleep(d.RetryAfter + 20*time.Millisecond)
	expectAllowed(t, allow(t, s, "fast", fast))
	expectRefused(t, allow(t, s, "fast", fast), ReasonLimited)
}

// Issue 10, item 9: a send refused by one limit spends none of the others.
func testAllowAllOrNothing(t *testing.T, s Store) {
	mobileLimit := Limit{Count: 5, Window: time.Hour}
	ipLimit := Limit{Count: 2, Window: time.Hour}
	send := func(mobile, ip string) Decision {
		return allowAll(t, s, "login",
			LimitTake{Kind: LimitMobile, Key: mobile, Limit: mobileLimit},
			LimitTake{Kind: LimitIP, Key: ip, Limit: ipLimit},
			LimitTake{Kind: LimitTemplate, Limit: Limit{Count: 1000, Window: time.Hour}})
	}
	const attacker, victim = "203.0.113.66", suiteMobile
	expectAllowed(t, send("+447400123457", attacker))
	expectAllowed(t, send("+12025550123", attacker))
	for range 5 {
		d := send(victim, attacker)
		expectRefused(t, d, ReasonLimited)
		if d.Limit != LimitIP {
			t.Fatalf("expected the ip limit named, got %+v", d)
		}
		expectBetween(t, "retry after", d.RetryAfter, 29*time.Minute, 30*time.Minute)
	}
	for i := range 5 {
		expectAllowed(t, send(victim, fmt.Sprintf("198.51.100.%d", i)))
	}
	d := send(victim, "198.51.100.9")
	expectRefused(t, d, ReasonLimited)
	if d.Limit != LimitMobile {
		t.Fatalf("expected the mobile limit named, got %+v", d)
	}

	// Refused by a later limit: the earlier ones are not charged either. Two limits
	// without room: the first is named, the longest wait is given.
	other := "+447400123458"
	tight := LimitTake{Kind: LimitTemplate, Limit: Limit{Count: 1, Window: time.Hour}}
	expectAllowed(t, allowAll(t, s, "signup", tight))
	for range 3 {
		expectRefused(t, allowAll(t, s, "signup", LimitTake{Kind: LimitMobile, Key: other, Limit: Limit{Count: 1, Window: time.Hour}}, tight), ReasonLimited)
	}
	expectAllowed(t, allowAll(t, s, "signup", LimitTake{Kind: LimitMobile, Key: other, Limit: Limit{Count: 1, Window: time.Hour}}))
	d = allowAll(t, s, "signup", LimitTake{Kind: LimitMobile, Key: other, Limit: Limit{Count: 1, Window: time.Minute}}, tight)
	if d.Allowed || d.Limit != LimitMobile {
		t.Fatalf("expected the mobile limit named first, got %+v", d)
	}
	expectBetween(t, "retry after", d.RetryAfter, 59*time.Minute, time.Hour)

	// Limits are per template: the same kind and key of another template is untouched.
	expectAllowed(t, allowAll(t, s, "other", LimitTake{Kind: LimitIP, Key: attacker, Limit: ipLimit}))
	expectAllowed(t, allowAll(t, s, "login"))
}

// testAllowAllOrNothingParallel: sends at once for one mobile from one IP take exactly the
// mobile limit's count, and the refused ones leave the ip limit as it was.
func testAllowAllOrNothingParallel(t *testing.T, s Store) {
	mobile := LimitTake{Kind: LimitMobile, Key: suiteMobile, Limit: Limit{Count: 10, Window: time.Hour}}
	ip := LimitTake{Kind: LimitIP, Key: "2001:db8::/64", Limit: Limit{Count: 30, Window: time.Hour}}
	allowed := parallelAllowed(t, 50, "Allow", func() (bool, error) {
		d, err := s.Allow(context.Background(), "login", []LimitTake{mobile, ip})
		return d.Allowed, err
	})
	if allowed != 10 {
		t.Fatalf("expected 10 sends within the mobile limit, got %d", allowed)
	}
	for i := range 20 {
		other := mobile
		other.Key = fmt.Sprintf("+4474001234%02d", i)
		if d := allowAll(t, s, "login", other, ip); !d.Allowed {
			t.Fatalf("send %d for another mobile: expected the ip limit to have 20 left, got %+v", i+1, d)
		}
	}
	expectRefused(t, allowAll(t, s, "login", LimitTake{Kind: LimitMobile, Key: "+447400123499", Limit: mobile.Limit}, ip), ReasonLimited)
}

// Issue 10, item 7: wrong codes lock a mobile in one lock group only.
func testLockGroups(t *testing.T, s Store) {
	p := LockPolicy{After: 3, Base: time.Minute, Max: time.Hour, Window: time.Hour}
	public := CodeKey{Template: "public", Mobile: suiteMobile}
	admin := CodeKey{Template: "admin", Mobile: suiteMobile}
	putCode(t, s, public, "111111", 5, time.Minute)
	putCode(t, s, admin, "222222", 5, time.Minute)
	for i := range 3 {
		res := checkCodeIn(t, s, "public", public, "000000", p)
		if res.LockedNow != (i == 2) {
			t.Fatalf("failure %d: expected a lock only at the third, got %+v", i+1, res)
		}
	}
	expectRefused(t, claimIn(t, s, "public", public, "n1", time.Minute), ReasonLocked)
	expectOutcome(t, checkCodeIn(t, s, "public", public, "111111", p), OutcomeLocked, 0)

	// Another group is neither locked nor counting: two failures there do not lock.
	expectAllowed(t, claimIn(t, s, "admin", admin, "n2", time.Minute))
	for left := 4; left >= 3; left-- {
		if res := checkCodeIn(t, s, "admin", admin, "000000", p); res.LockedNow || res.AttemptsLeft != left {
			t.Fatalf("expected no lock and %d left in the other group, got %+v", left, res)
		}
	}
	expectOutcome(t, checkCodeIn(t, s, "admin", admin, "222222", p), OutcomeVerified, 0)

	// Two templates of one group share the run and the lock.
	a := CodeKey{Template: "shop", Mobile: "+447400123457"}
	b := CodeKey{Template: "billing", Mobile: "+447400123457"}
	putCode(t, s, a, "111111", 5, time.Minute)
	putCode(t, s, b, "222222", 5, time.Minute)
	checkCodeIn(t, s, "money", a, "000000", p)
	checkCodeIn(t, s, "money", b, "000000", p)
	if res := checkCodeIn(t, s, "money", a, "000000", p); !res.LockedNow {
		t.Fatalf("expected the third failure of the group to lock, got %+v", res)
	}
	expectRefused(t, claimIn(t, s, "money", b, "n3", time.Minute), ReasonLocked)
	expectOutcome(t, checkCodeIn(t, s, "money", b, "222222", p), OutcomeLocked, 0)
	// the same templates' mobile in another group is free
	expectAllowed(t, claimIn(t, s, "shop", a, "n4", time.Minute))
}

// Issue 10, item 8: from the ceiling on, every failure locks for the run's window, and the
// run outlives the lock; a new code does not end it, a right code does.
func testCeiling(t *testing.T, s Store) {
	const window = 800 * time.Millisecond
	p := LockPolicy{After: 2, Base: 20 * time.Millisecond, Max: 40 * time.Millisecond, Window: window, Ceiling: 5}
	k := CodeKey{Template: "login", Mobile: suiteMobile}
	putCode(t, s, k, "111111", 10, time.Minute)
	for i := 1; i <= 4; i++ {
		res := checkCode(t, s, k, "000000", p)
		if res.LockedNow != (i%2 == 0) {
			t.Fatalf("failure %d: expected a lock only at every second, got %+v", i, res)
		}
		time.Sleep(res.RetryAfter + 10*time.Millisecond)
	}
	res := checkCode(t, s, k, "000000", p)
	if !res.LockedNow {
		t.Fatalf("expected the fifth failure (the ceiling) to lock, got %+v", res)
	}
	expectBetween(t, "ceiling lock", res.RetryAfter, window-50*time.Millisecond, window)
	d := claim(t, s, k, "n1", 0)
	expectRefused(t, d, ReasonLocked)
	expectBetween(t, "locked retry after", d.RetryAfter, window/2, window)

	// A new code does not end the run: once the lock is over, the next failure locks again
	// for the window (a run without the ceiling would have ended with the lock).
	time.Sleep(window + 50*time.Millisecond)
	putCode(t, s, k, "111111", 10, time.Minute)
	res = checkCode(t, s, k, "000000", p)
	if !res.LockedNow {
		t.Fatalf("expected the failure after the ceiling's lock to lock again, got %+v", res)
	}
	expectBetween(t, "second ceiling lock", res.RetryAfter, window-50*time.Millisecond, window)

	// A right code ends the run: the next failure is the first of a new one.
	time.Sleep(window + 50*time.Millisecond)
	expectOutcome(t, checkCode(t, s, k, "111111", p), OutcomeVerified, 0)
	putCode(t, s, k, "111111", 10, time.Minute)
	if res := checkCode(t, s, k, "000000", p); res.LockedNow || res.Outcome != OutcomeIncorrect {
		t.Fatalf("expected a new run without a lock, got %+v", res)
	}
}

func reserve(t *testing.T, s Store, at time.Time, amount int64, caps BudgetCaps) Decision {
	t.Helper()
	d, err := s.ReserveBudget(context.Background(), at, amount, caps)
	if err != nil {
		t.Fatalf("ReserveBudget: expected no error, got %v", err)
	}
	return d
}

func release(t *testing.T, s Store, at time.Time, amount int64) {
	t.Helper()
	if err := s.ReleaseBudget(context.Background(), at, amount); err != nil {
		t.Fatalf("ReleaseBudget: expected no error, got %v", err)
	}
}

func testBudgetCaps(t *testing.T, s Store) {
	day := time.Date(2030, 1, 15, 18, 0, 0, 0, time.UTC)
	dayCap := BudgetCaps{DailyMicroUSD: 1000}
	expectAllowed(t, reserve(t, s, day, 600, dayCap))
	d := reserve(t, s, day, 600, dayCap)
	expectRefused(t, d, ReasonBudget)
	if d.RetryAfter != 6*time.Hour {
		t.Fatalf("expected retry after 6h (next UTC day), got %s", d.RetryAfter)
	}
	expectAllowed(t, reserve(t, s, day, 400, dayCap)) // exactly the cap
	release(t, s, day, 400)
	release(t, s, day, 600)
	expectAllowed(t, reserve(t, s, day, 1000, dayCap))
	// never below zero
	release(t, s, day, 5000)
	expectAllowed(t, reserve(t, s, day, 1000, dayCap))
	expectRefused(t, reserve(t, s, day, 1, dayCap), ReasonBudget)
	// the next day has its own spend, and no cap means no limit
	expectAllowed(t, reserve(t, s, day.Add(24*time.Hour), 1000, dayCap))
	expectAllowed(t, reserve(t, s, day, 1_000_000, BudgetCaps{}))

	// the month: a cap across days; refused until the next month when both are spent
	end := time.Date(2030, 3, 31, 22, 0, 0, 0, time.UTC)
	caps := BudgetCaps{DailyMicroUSD: 500, MonthlyMicroUSD: 800}
	expectAllowed(t, reserve(t, s, end.Add(-48*time.Hour), 500, caps))
	expectAllowed(t, reserve(t, s, end, 300, caps))
	d = reserve(t, s, end, 300, caps)
	expectRefused(t, d, ReasonBudget)
	if d.RetryAfter != 2*time.Hour {
		t.Fatalf("expected retry after 2h (next UTC month), got %s", d.RetryAfter)
	}
	// a zone other than UTC names the same day
	if d := reserve(t, s, end.In(time.FixedZone("X", 5*3600)), 1, caps); d.Allowed {
		t.Fatalf("expected the same UTC month to be spent, got %+v", d)
	}
}

func testBudgetParallel(t *testing.T, s Store) {
	at := time.Now()
	caps := BudgetCaps{DailyMicroUSD: 1000, MonthlyMicroUSD: 2000}
	allowed := parallelAllowed(t, 50, "ReserveBudget", func() (bool, error) {
		d, err := s.ReserveBudget(context.Background(), at, 100, caps)
		return d.Allowed, err
	})
	if allowed != 10 {
		t.Fatalf("expected 10 reservations within the cap, got %d", allowed)
	}
	release(t, s, at, 100)
	expectAllowed(t, reserve(t, s, at, 100, caps))
	expectRefused(t, reserve(t, s, at, 100, caps), ReasonBudget)
}

// parallelAllowed runs try n times at once and counts the allowed ones, failing the test
// on any error of op.
func parallelAllowed(t *testing.T, n int, op string, try func() (bool, error)) int {
	t.Helper()
	type result struct {
		allowed bool
		err     error
	}
	results := parallel(n, func(int) result {
		allowed, err := try()
		return result{allowed, err}
	})
	allowed := 0
	for _, r := range results {
		if r.err != nil {
			t.Fatalf("%s: expected no error, got %v", op, r.err)
		}
		if r.allowed {
			allowed++
		}
	}
	return allowed
}

func ledgerEntry(template string, i int) LedgerEntry {
	return LedgerEntry{
		Time:      time.Date(2030, 1, 1, 0, 0, i%60, 0, time.UTC),
		Template:  template,
		MessageID: fmt.Sprintf("m-%d", i),
		Mobile:    "+44•••••••456",
		Country:   "GB",
		Parts:     1,
		PriceUSD:  0.0463,
		Status:    "sent",
	}
}

func appendLedger(t *testing.T, s Store, e LedgerEntry) {
	t.Helper()
	if err := s.AppendLedger(context.Background(), e); err != nil {
		t.Fatalf("AppendLedger: expected no error, got %v", err)
	}
}

func recentLedger(t *testing.T, s Store, template string, n int) []LedgerEntry {
	t.Helper()
	got, err := s.RecentLedger(context.Background(), template, n)
	if err != nil {
		t.Fatalf("RecentLedger: expected no error, got %v", err)
	}
	return got
}

func testLedgerOrder(t *testing.T, s Store) {
	for i := range 5 {
		appendLedger(t, s, ledgerEntry("login", i))
	}
	failed := ledgerEntry("login", 5)
	failed.Status, failed.Error = "failed", "throttled"
	appendLedger(t, s, failed)
	appendLedger(t, s, ledgerEntry("signup", 99))

	got := recentLedger(t, s, "login", 3)
	if len(got) != 3 {
		t.Fatalf("expected 3 entries, got %d", len(got))
	}
	if got[0].Status != "failed" || got[0].Error != "throttled" {
		t.Fatalf("expected the failed entry first, got %+v", got[0])
	}
	for i, want := range []string{"m-5", "m-4", "m-3"} {
		if got[i].MessageID != want {
			t.Fatalf("entry %d: expected %s, got %s", i, want, got[i].MessageID)
		}
	}
	if e := got[1]; e.Template != "login" || e.Mobile != "+44•••••••456" || e.Country != "GB" || e.Parts != 1 || e.PriceUSD != 0.0463 || e.Status != "sent" || !e.Time.Equal(time.Date(2030, 1, 1, 0, 0, 4, 0, time.UTC)) {
		t.Fatalf("expected the entry as appended, got %+v", e)
	}
	if got := recentLedger(t, s, "login", 100); len(got) != 6 {
		t.Fatalf("expected 6 entries, got %d", len(got))
	}
	if got := recentLedger(t, s, "signup", 100); len(got) != 1 || got[0].MessageID != "m-99" {
		t.Fatalf("expected the signup entry alone, got %+v", got)
	}
	for _, n := range []int{0, -1} {
		if got := recentLedger(t, s, "login", n); len(got) != 0 {
			t.Fatalf("n=%d: expected no entries, got %d", n, len(got))
		}
	}
	if got := recentLedger(t, s, "none", 10); got == nil || len(got) != 0 {
		t.Fatalf("expected an empty list, got %#v", got)
	}
}

func testLedgerCapped(t *testing.T, s Store) {
	const extra = 150
	const workers = 8
	errs := parallel(workers, func(w int) error {
		for i := w; i < ledgerKeep+extra; i += workers {
			if err := s.AppendLedger(context.Background(), ledgerEntry("login", i)); err != nil {
				return err
			}
		}
		return nil
	})
	for _, err := range errs {
		if err != nil {
			t.Fatalf("AppendLedger: expected no error, got %v", err)
		}
	}
	for i := range 3 {
		appendLedger(t, s, ledgerEntry("login", 100000+i))
	}
	got := recentLedger(t, s, "login", 2*ledgerKeep)
	// Redis trims whole stream nodes (MAXLEN ~): at least ledgerKeep stay, a few more may.
	if len(got) < ledgerKeep || len(got) > ledgerKeep+extra {
		t.Fatalf("expected %d to %d entries, got %d", ledgerKeep, ledgerKeep+extra, len(got))
	}
	for i, want := range []string{"m-100002", "m-100001", "m-100000"} {
		if got[i].MessageID != want {
			t.Fatalf("entry %d: expected %s, got %s", i, want, got[i].MessageID)
		}
	}
}

// sessionID is a made-up gate session id: 32 lower-case hex digits.
func revocationID(n int) string {
	return fmt.Sprintf("%032x", n)
}

func revoke(t *testing.T, s Store, id string, until time.Time) {
	t.Helper()
	if err := s.RevokeSession(context.Background(), id, until); err != nil {
		t.Fatalf("RevokeSession: expected no error, got %v", err)
	}
}

// feedEvent is one call a watcher received: a revocation, or health when isHealth.
type feedEvent struct {
	id       string
	until    time.Time
	isHealth bool
	ok       bool
}

func (e feedEvent) String() string {
	if e.isHealth {
		return fmt.Sprintf("health(%t)", e.ok)
	}
	return fmt.Sprintf("revoked %s until %s", e.id, e.until.Format(time.RFC3339Nano))
}

// feed is a running WatchRevocations, stopped when the test ends.
type feed struct {
	events chan feedEvent
	cancel context.CancelFunc
	done   chan struct{}
}

func watch(t *testing.T, s Store) *feed {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	f := &feed{events: make(chan feedEvent, 1000), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(f.done)
		s.WatchRevocations(ctx,
			func(id string, until time.Time) { f.events <- feedEvent{id: id, until: until} },
			func(ok bool) { f.events <- feedEvent{isHealth: true, ok: ok} })
	}()
	t.Cleanup(func() { f.stop(t) })
	return f
}

// stop cancels the watch and waits for WatchRevocations to return.
func (f *feed) stop(t *testing.T) {
	t.Helper()
	f.cancel()
	select {
	case <-f.done:
	case <-time.After(2 * time.Second):
		t.Errorf("expected WatchRevocations to return once its context ended, still running after 2s")
	}
}

// next returns the next event, failing the test after within.
func (f *feed) next(t *testing.T, within time.Duration) feedEvent {
	t.Helper()
	select {
	case e := <-f.events:
		return e
	case <-time.After(within):
		t.Fatalf("expected an event within %s, got none", within)
		return feedEvent{}
	}
}

// untilHealth returns the revocations delivered before the next health call, which must
// be health(ok).
func (f *feed) untilHealth(t *testing.T, ok bool, within time.Duration) []feedEvent {
	t.Helper()
	var revs []feedEvent
	deadline := time.Now().Add(within)
	for {
		e := f.next(t, max(time.Until(deadline), time.Millisecond))
		if !e.isHealth {
			revs = append(revs, e)
			continue
		}
		if e.ok != ok {
			t.Fatalf("expected health(%t), got %s", ok, e)
		}
		return revs
	}
}

// expectRevoked waits for the revocation of id, skipping repeats of other revocations.
func (f *feed) expectRevoked(t *testing.T, id string, until time.Time, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		e := f.next(t, max(time.Until(deadline), time.Millisecond))
		if e.isHealth {
			t.Fatalf("expected the revocation of %s, got %s", id, e)
		}
		if e.id == id {
			expectRevocationEnd(t, e, until)
			return
		}
	}
}

// expectRevocationEnd checks the end a store delivers: until rounded up to the millisecond.
func expectRevocationEnd(t *testing.T, e feedEvent, until time.Time) {
	t.Helper()
	if d := e.until.Sub(until); d < 0 || d >= time.Millisecond {
		t.Fatalf("expected %s to end at %s (to the millisecond), got %s", e.id, until.Format(time.RFC3339Nano), e)
	}
}

func testRevocationBeforeWatch(t *testing.T, s Store) {
	a, b := revocationID(1), revocationID(2)
	untilA, untilB := time.Now().Add(time.Hour), time.Now().Add(12*time.Hour)
	revoke(t, s, a, untilA)
	revoke(t, s, b, untilB)

	f := watch(t, s)
	revs := f.untilHealth(t, true, 2*time.Second)
	got := make(map[string]feedEvent)
	for _, e := range revs {
		got[e.id] = e
	}
	if len(got) != 2 {
		t.Fatalf("expected %s and %s before health(true), got %v", a, b, revs)
	}
	expectRevocationEnd(t, got[a], untilA)
	expectRevocationEnd(t, got[b], untilB)
}

func testRevocationAfterWatch(t *testing.T, s Store) {
	f := watch(t, s)
	if revs := f.untilHealth(t, true, 2*time.Second); len(revs) != 0 {
		t.Fatalf("expected no revocations yet, got %v", revs)
	}
	id, until := revocationID(3), time.Now().Add(8*time.Hour)
	start := time.Now()
	revoke(t, s, id, until)
	f.expectRevoked(t, id, until, time.Second)
	t.Logf("delivered %s after the revocation", time.Since(start))
}

func testRevocationPast(t *testing.T, s Store) {
	past, live := revocationID(4), revocationID(5)
	revoke(t, s, past, time.Now().Add(100*time.Millisecond))
	revoke(t, s, live, time.Now().Add(time.Hour))
	time.Sleep(200 * time.Millisecond)

	f := watch(t, s)
	revs := f.untilHealth(t, true, 2*time.Second)
	if len(revs) != 1 || revs[0].id != live {
		t.Fatalf("expected only %s, got %v", live, revs)
	}
}

func testRevocationLaterEnd(t *testing.T, s Store) {
	id := revocationID(6)
	later := time.Now().Add(2 * time.Hour)
	revoke(t, s, id, later)
	revoke(t, s, id, time.Now().Add(time.Hour))

	f := watch(t, s)
	revs := f.untilHealth(t, true, 2*time.Second)
	if len(revs) != 1 {
		t.Fatalf("expected one revocation, got %v", revs)
	}
	expectRevocationEnd(t, revs[0], later)
}

func testRevocationTwoWatchers(t *testing.T, s Store) {
	f1, f2 := watch(t, s), watch(t, s)
	f1.untilHealth(t, true, 2*time.Second)
	f2.untilHealth(t, true, 2*time.Second)
	id, until := revocationID(7), time.Now().Add(time.Hour)
	revoke(t, s, id, until)
	f1.expectRevoked(t, id, until, time.Second)
	f2.expectRevoked(t, id, until, time.Second)

	// one watcher's end leaves the other one fed
	f1.stop(t)
	id2 := revocationID(8)
	revoke(t, s, id2, until)
	f2.expectRevoked(t, id2, until, time.Second)
}
