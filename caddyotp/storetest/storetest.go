// Package storetest is the conformance suite every caddyotp.Store passes, in this module
// or outside it: Run(t, newStore) from the store's own tests, and Benchmark(b, newStore)
// for the cost of each operation.
package storetest

import (
	"errors"
	"math"
	"strings"

	"github.com/caddyotp/caddyotp/caddyotp"

	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/caddyotp/internal/otpcode"
)

// The behaviour every Store keeps. store_memory_test.go and store_redis_test.go run it.

var suiteSecret = []byte("store-suite-secret-0123456789abcdef")

const Mobile = "+447400123456"

// CodeHash is the hash a service would store for code.
func CodeHash(k caddyotp.CodeKey, code string) []byte {
	return otpcode.Hash(suiteSecret, k.Template, k.Mobile, code)
}

// LenientPolicy never locks within a test.
var LenientPolicy = caddyotp.LockPolicy{After: 1000, Base: time.Minute, Max: time.Hour, Window: time.Hour}

type storeCase struct {
	name string
	run  func(t *testing.T, s caddyotp.Store)
}

// Run runs every case on a new store of newStore's, in parallel. The stores must keep the
// pumping guard and the remembered devices, which are part of caddyotp.Store.
func Run(t *testing.T, newStore func(t *testing.T) caddyotp.Store) {
	t.Helper()
	cases := []storeCase{
		{"right code verifies once", testRightCodeOnce},
		{"wrong codes count down and the last burns", testWrongCodesBurn},
		{"put replaces the old code", testPutReplaces},
		{"drop removes only the matching code", testDropMatching},
		{"code expires", testCodeExpires},
		{"codes are per template and mobile", testCodesSeparate},
		{"code message returned with a right code", testCodeMessage},
		{"Claim send", testClaimSend},
		{"Claim send at least one Second", testClaimSendMinimum},
		{"Claim send zero interval", testClaimSendZero},
		{"lock across codes and the templates of a lock group", testLockAcrossCodes},
		{"right code ends the failure run", testRightCodeResetsRun},
		{"burning failure can lock", testBurnLocks},
		{"parallel right codes verify once", testParallelRight},
		{"parallel wrong codes", testParallelWrong},
		{"Allow trips at count", testAllow},
		{"Allow is all or nothing", testAllowAllOrNothing},
		{"Allow all or nothing in parallel", testAllowAllOrNothingParallel},
		{"locks per lock group", testLockGroups},
		{"ceiling locks until the run ends", testCeiling},
		{"budget caps", testBudgetCaps},
		{"budget caps in parallel", testBudgetParallel},
		{"ledger newest first", testLedgerOrder},
		{"ledger capped", testLedgerCapped},
		{"revocation before Watch comes first", testRevocationBeforeWatch},
		{"revocation after Watch", testRevocationAfterWatch},
		{"revocation in the past", testRevocationPast},
		{"revocation keeps the later end", testRevocationLaterEnd},
		{"revocation to two watchers", testRevocationTwoWatchers},
	}
	cases = append(cases, reportCases...)
	cases = append(cases, billedCases...)
	cases = append(cases, readerCases...)
	cases = append(cases, statsCases...)
	cases = append(cases, guardCases...)
	cases = append(cases, deviceCases...)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t, newStore(t))
		})
	}
}

func PutCode(t *testing.T, s caddyotp.Store, k caddyotp.CodeKey, code string, attempts int, ttl time.Duration) {
	t.Helper()
	if err := s.PutCode(context.Background(), k, CodeHash(k, code), attempts, ttl); err != nil {
		t.Fatalf("PutCode: expected no error, got %v", err)
	}
}

// suiteGroup is the lock group of the suite's templates unless a test names another: one
// group, so that wrong codes at "login" and "signup" add up.
const suiteGroup = "staff"

func CheckCode(t *testing.T, s caddyotp.Store, k caddyotp.CodeKey, code string, p caddyotp.LockPolicy) caddyotp.CheckResult {
	t.Helper()
	return checkCodeIn(t, s, suiteGroup, k, code, p)
}

func checkCodeIn(t *testing.T, s caddyotp.Store, group string, k caddyotp.CodeKey, code string, p caddyotp.LockPolicy) caddyotp.CheckResult {
	t.Helper()
	res, err := s.CheckCode(context.Background(), k, group, CodeHash(k, code), p)
	if err != nil {
		t.Fatalf("CheckCode: expected no error, got %v", err)
	}
	return res
}

func ExpectOutcome(t *testing.T, got caddyotp.CheckResult, want caddyotp.Outcome, left int) {
	t.Helper()
	if got.Outcome != want {
		t.Fatalf("expected outcome %s, got %s (%+v)", want, got.Outcome, got)
	}
	if want == caddyotp.OutcomeIncorrect && got.AttemptsLeft != left {
		t.Fatalf("expected %d attempts left, got %d", left, got.AttemptsLeft)
	}
}

func expectBetween(t *testing.T, what string, got, lo, hi time.Duration) {
	t.Helper()
	if got < lo || got > hi {
		t.Fatalf("expected %s in [%s, %s], got %s", what, lo, hi, got)
	}
}

func testRightCodeOnce(t *testing.T, s caddyotp.Store) {
	k := caddyotp.CodeKey{Template: "login", Mobile: Mobile}
	PutCode(t, s, k, "012345", 5, time.Minute)
	ExpectOutcome(t, CheckCode(t, s, k, "012345", LenientPolicy), caddyotp.OutcomeVerified, 0)
	ExpectOutcome(t, CheckCode(t, s, k, "012345", LenientPolicy), caddyotp.OutcomeExpired, 0)
}

func testWrongCodesBurn(t *testing.T, s caddyotp.Store) {
	k := caddyotp.CodeKey{Template: "login", Mobile: Mobile}
	PutCode(t, s, k, "111111", 3, time.Minute)
	steps := []struct {
		code string
		want caddyotp.Outcome
		left int
	}{
		{"222222", caddyotp.OutcomeIncorrect, 2},
		{"333333", caddyotp.OutcomeIncorrect, 1},
		{"444444", caddyotp.OutcomeBurned, 0},
		{"111111", caddyotp.OutcomeExpired, 0},
	}
	for i, st := range steps {
		res := CheckCode(t, s, k, st.code, LenientPolicy)
		if res.Outcome != st.want || res.AttemptsLeft != st.left {
			t.Fatalf("step %d: expected %s with %d left, got %s with %d left", i, st.want, st.left, res.Outcome, res.AttemptsLeft)
		}
		if res.LockedNow {
			t.Fatalf("step %d: expected no lock, got %+v", i, res)
		}
	}
}

func testPutReplaces(t *testing.T, s caddyotp.Store) {
	k := caddyotp.CodeKey{Template: "login", Mobile: Mobile}
	PutCode(t, s, k, "111111", 5, time.Minute)
	PutCode(t, s, k, "222222", 5, time.Minute)
	res := CheckCode(t, s, k, "111111", LenientPolicy)
	if res.Outcome != caddyotp.OutcomeIncorrect && res.Outcome != caddyotp.OutcomeExpired {
		t.Fatalf("expected the old code to be dead, got %s", res.Outcome)
	}
	ExpectOutcome(t, CheckCode(t, s, k, "222222", LenientPolicy), caddyotp.OutcomeVerified, 0)
}

func testDropMatching(t *testing.T, s caddyotp.Store) {
	ctx := context.Background()
	k := caddyotp.CodeKey{Template: "login", Mobile: Mobile}
	PutCode(t, s, k, "111111", 5, time.Minute)
	if err := s.DropCode(ctx, k, CodeHash(k, "999999")); err != nil {
		t.Fatalf("DropCode: expected no error, got %v", err)
	}
	ExpectOutcome(t, CheckCode(t, s, k, "111111", LenientPolicy), caddyotp.OutcomeVerified, 0)

	PutCode(t, s, k, "111111", 5, time.Minute)
	if err := s.DropCode(ctx, k, CodeHash(k, "111111")); err != nil {
		t.Fatalf("DropCode: expected no error, got %v", err)
	}
	ExpectOutcome(t, CheckCode(t, s, k, "111111", LenientPolicy), caddyotp.OutcomeExpired, 0)
}

func testCodeExpires(t *testing.T, s caddyotp.Store) {
	k := caddyotp.CodeKey{Template: "login", Mobile: Mobile}
	PutCode(t, s, k, "111111", 5, time.Second)
	time.Sleep(1200 * time.Millisecond)
	ExpectOutcome(t, CheckCode(t, s, k, "111111", LenientPolicy), caddyotp.OutcomeExpired, 0)
}

func testCodesSeparate(t *testing.T, s caddyotp.Store) {
	a := caddyotp.CodeKey{Template: "login", Mobile: Mobile}
	b := caddyotp.CodeKey{Template: "signup", Mobile: Mobile}
	c := caddyotp.CodeKey{Template: "login", Mobile: "+447400999999"}
	for _, k := range []caddyotp.CodeKey{a, b, c} {
		PutCode(t, s, k, "123456", 5, time.Minute)
	}
	for _, k := range []caddyotp.CodeKey{a, b, c} {
		ExpectOutcome(t, CheckCode(t, s, k, "123456", LenientPolicy), caddyotp.OutcomeVerified, 0)
	}
}

// SetCodeMessage notes messageID on k's code if it is still code, failing the test on an
// error.
func SetCodeMessage(t *testing.T, s caddyotp.Store, k caddyotp.CodeKey, code, messageID string) {
	t.Helper()
	if err := s.SetCodeMessage(context.Background(), k, CodeHash(k, code), messageID); err != nil {
		t.Fatalf("SetCodeMessage: expected no error, got %v", err)
	}
}

func expectMessage(t *testing.T, res caddyotp.CheckResult, want string) {
	t.Helper()
	ExpectOutcome(t, res, caddyotp.OutcomeVerified, 0)
	if res.MessageID != want {
		t.Fatalf("expected message id %q, got %q", want, res.MessageID)
	}
}

func testCodeMessage(t *testing.T, s caddyotp.Store) {
	k := caddyotp.CodeKey{Template: "login", Mobile: Mobile}
	PutCode(t, s, k, "111111", 5, time.Minute)
	SetCodeMessage(t, s, k, "111111", "msg-1")
	ExpectOutcome(t, CheckCode(t, s, k, "000000", LenientPolicy), caddyotp.OutcomeIncorrect, 4)
	expectMessage(t, CheckCode(t, s, k, "111111", LenientPolicy), "msg-1")

	// A newer code has no message of its own, and a note for the older one misses it.
	PutCode(t, s, k, "111111", 5, time.Minute)
	SetCodeMessage(t, s, k, "111111", "msg-2")
	PutCode(t, s, k, "222222", 5, time.Minute)
	SetCodeMessage(t, s, k, "111111", "msg-3")
	expectMessage(t, CheckCode(t, s, k, "222222", LenientPolicy), "")

	// No code: nothing is noted, and nothing made.
	SetCodeMessage(t, s, k, "333333", "msg-4")
	ExpectOutcome(t, CheckCode(t, s, k, "333333", LenientPolicy), caddyotp.OutcomeExpired, 0)

	// Another template's code keeps its own.
	other := caddyotp.CodeKey{Template: "signup", Mobile: Mobile}
	PutCode(t, s, k, "444444", 5, time.Minute)
	PutCode(t, s, other, "444444", 5, time.Minute)
	SetCodeMessage(t, s, other, "444444", "msg-5")
	expectMessage(t, CheckCode(t, s, k, "444444", LenientPolicy), "")
	expectMessage(t, CheckCode(t, s, other, "444444", LenientPolicy), "msg-5")
}

func Claim(t *testing.T, s caddyotp.Store, k caddyotp.CodeKey, nonce string, resend time.Duration) caddyotp.Decision {
	t.Helper()
	return claimIn(t, s, suiteGroup, k, nonce, resend)
}

func claimIn(t *testing.T, s caddyotp.Store, group string, k caddyotp.CodeKey, nonce string, resend time.Duration) caddyotp.Decision {
	t.Helper()
	d, err := s.ClaimSend(context.Background(), k, group, nonce, resend)
	if err != nil {
		t.Fatalf("ClaimSend: expected no error, got %v", err)
	}
	return d
}

func ExpectAllowed(t *testing.T, d caddyotp.Decision) {
	t.Helper()
	if !d.Allowed || d.Reason != caddyotp.ReasonNone {
		t.Fatalf("expected allowed, got %+v", d)
	}
}

func ExpectRefused(t *testing.T, d caddyotp.Decision, reason caddyotp.Reason) {
	t.Helper()
	if d.Allowed || d.Reason != reason {
		t.Fatalf("expected refusal %q, got %+v", reason, d)
	}
}

func testClaimSend(t *testing.T, s caddyotp.Store) {
	ctx := context.Background()
	k := caddyotp.CodeKey{Template: "login", Mobile: Mobile}
	ExpectAllowed(t, Claim(t, s, k, "n1", time.Minute))

	d := Claim(t, s, k, "n2", time.Minute)
	ExpectRefused(t, d, caddyotp.ReasonTooSoon)
	expectBetween(t, "retry after", d.RetryAfter, 50*time.Second, time.Minute)

	// the same nonce again is the same Claim (a repeated request)
	ExpectAllowed(t, Claim(t, s, k, "n1", time.Minute))

	if err := s.ReleaseSend(ctx, k, "n2"); err != nil {
		t.Fatalf("ReleaseSend: expected no error, got %v", err)
	}
	ExpectRefused(t, Claim(t, s, k, "n3", time.Minute), caddyotp.ReasonTooSoon)

	// other templates and mobiles are not held back
	ExpectAllowed(t, Claim(t, s, caddyotp.CodeKey{Template: "signup", Mobile: Mobile}, "n4", time.Minute))
	ExpectAllowed(t, Claim(t, s, caddyotp.CodeKey{Template: "login", Mobile: "+447400999999"}, "n5", time.Minute))

	if err := s.ReleaseSend(ctx, k, "n1"); err != nil {
		t.Fatalf("ReleaseSend: expected no error, got %v", err)
	}
	ExpectAllowed(t, Claim(t, s, k, "n6", time.Minute))
}

func testClaimSendMinimum(t *testing.T, s caddyotp.Store) {
	k := caddyotp.CodeKey{Template: "login", Mobile: Mobile}
	ExpectAllowed(t, Claim(t, s, k, "n1", time.Millisecond))
	d := Claim(t, s, k, "n2", time.Millisecond)
	ExpectRefused(t, d, caddyotp.ReasonTooSoon)
	expectBetween(t, "retry after", d.RetryAfter, time.Millisecond, time.Second)
}

// A zero interval starts none: every send is allowed (the limits still apply), but the
// lock is still checked.
func testClaimSendZero(t *testing.T, s caddyotp.Store) {
	k := caddyotp.CodeKey{Template: "login", Mobile: Mobile}
	ExpectAllowed(t, Claim(t, s, k, "n1", 0))
	ExpectAllowed(t, Claim(t, s, k, "n2", 0))
	p := caddyotp.LockPolicy{After: 3, Base: time.Minute, Max: time.Minute, Window: time.Hour}
	PutCode(t, s, k, "111111", 5, time.Minute)
	for i := 0; i < 3; i++ {
		CheckCode(t, s, k, "000000", p)
	}
	ExpectRefused(t, Claim(t, s, k, "n3", 0), caddyotp.ReasonLocked)
}

func testLockAcrossCodes(t *testing.T, s caddyotp.Store) {
	p := caddyotp.LockPolicy{After: 3, Base: 200 * time.Millisecond, Max: 300 * time.Millisecond, Window: time.Minute}
	a := caddyotp.CodeKey{Template: "login", Mobile: Mobile}
	b := caddyotp.CodeKey{Template: "signup", Mobile: Mobile}
	PutCode(t, s, a, "111111", 5, time.Minute)
	PutCode(t, s, b, "222222", 5, time.Minute)

	ExpectOutcome(t, CheckCode(t, s, a, "000000", p), caddyotp.OutcomeIncorrect, 4)
	PutCode(t, s, a, "111111", 5, time.Minute) // a resend does not reset the run
	ExpectOutcome(t, CheckCode(t, s, a, "000000", p), caddyotp.OutcomeIncorrect, 4)
	res := CheckCode(t, s, b, "000000", p)
	ExpectOutcome(t, res, caddyotp.OutcomeIncorrect, 4)
	if !res.LockedNow {
		t.Fatalf("expected the third failure to lock, got %+v", res)
	}
	expectBetween(t, "first lock", res.RetryAfter, 150*time.Millisecond, 200*time.Millisecond)

	// while locked: no sends, nothing checked, the code left as it is
	ExpectRefused(t, Claim(t, s, a, "n1", time.Minute), caddyotp.ReasonLocked)
	res = CheckCode(t, s, b, "222222", p)
	ExpectOutcome(t, res, caddyotp.OutcomeLocked, 0)
	expectBetween(t, "locked retry after", res.RetryAfter, time.Millisecond, 200*time.Millisecond)

	time.Sleep(250 * time.Millisecond)
	ExpectOutcome(t, CheckCode(t, s, a, "000000", p), caddyotp.OutcomeIncorrect, 3)
	ExpectOutcome(t, CheckCode(t, s, a, "000000", p), caddyotp.OutcomeIncorrect, 2)
	res = CheckCode(t, s, b, "000000", p)
	if !res.LockedNow {
		t.Fatalf("expected the sixth failure to lock, got %+v", res)
	}
	// doubled to 400ms, held at Max
	expectBetween(t, "Second lock", res.RetryAfter, 250*time.Millisecond, 300*time.Millisecond)

	time.Sleep(350 * time.Millisecond)
	ExpectOutcome(t, CheckCode(t, s, b, "222222", p), caddyotp.OutcomeVerified, 0)
	ExpectAllowed(t, Claim(t, s, a, "n2", time.Minute))
}

func testRightCodeResetsRun(t *testing.T, s caddyotp.Store) {
	p := caddyotp.LockPolicy{After: 3, Base: time.Minute, Max: time.Hour, Window: time.Hour}
	k := caddyotp.CodeKey{Template: "login", Mobile: Mobile}
	PutCode(t, s, k, "111111", 5, time.Minute)
	ExpectOutcome(t, CheckCode(t, s, k, "000000", p), caddyotp.OutcomeIncorrect, 4)
	ExpectOutcome(t, CheckCode(t, s, k, "000000", p), caddyotp.OutcomeIncorrect, 3)
	ExpectOutcome(t, CheckCode(t, s, k, "111111", p), caddyotp.OutcomeVerified, 0)

	PutCode(t, s, k, "111111", 5, time.Minute)
	for left := 4; left >= 3; left-- {
		if res := CheckCode(t, s, k, "000000", p); res.LockedNow || res.AttemptsLeft != left {
			t.Fatalf("expected no lock and %d left, got %+v", left, res)
		}
	}
	res := CheckCode(t, s, k, "000000", p)
	if !res.LockedNow {
		t.Fatalf("expected a lock at the third failure of the new run, got %+v", res)
	}
	expectBetween(t, "lock", res.RetryAfter, 50*time.Second, time.Minute)
}

func testBurnLocks(t *testing.T, s caddyotp.Store) {
	p := caddyotp.LockPolicy{After: 2, Base: time.Minute, Max: time.Hour, Window: time.Hour}
	k := caddyotp.CodeKey{Template: "login", Mobile: Mobile}
	PutCode(t, s, k, "111111", 2, time.Minute)
	ExpectOutcome(t, CheckCode(t, s, k, "000000", p), caddyotp.OutcomeIncorrect, 1)
	res := CheckCode(t, s, k, "000000", p)
	ExpectOutcome(t, res, caddyotp.OutcomeBurned, 0)
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
	res caddyotp.CheckResult
	err error
}

func testParallelRight(t *testing.T, s caddyotp.Store) {
	k := caddyotp.CodeKey{Template: "login", Mobile: Mobile}
	PutCode(t, s, k, "654321", 5, time.Minute)
	hash := CodeHash(k, "654321")
	results := parallel(50, func(int) checkOrErr {
		res, err := s.CheckCode(context.Background(), k, suiteGroup, hash, LenientPolicy)
		return checkOrErr{res, err}
	})
	counts := map[caddyotp.Outcome]int{}
	for _, r := range results {
		if r.err != nil {
			t.Fatalf("CheckCode: expected no error, got %v", r.err)
		}
		counts[r.res.Outcome]++
	}
	if counts[caddyotp.OutcomeVerified] != 1 || counts[caddyotp.OutcomeExpired] != 49 {
		t.Fatalf("expected 1 verified and 49 expired, got %v", counts)
	}
}

func testParallelWrong(t *testing.T, s caddyotp.Store) {
	k := caddyotp.CodeKey{Template: "login", Mobile: Mobile}
	PutCode(t, s, k, "654321", 5, time.Minute)
	results := parallel(50, func(i int) checkOrErr {
		res, err := s.CheckCode(context.Background(), k, suiteGroup, CodeHash(k, fmt.Sprintf("%06d", i)), LenientPolicy)
		return checkOrErr{res, err}
	})
	counts := map[caddyotp.Outcome]int{}
	lefts := map[int]bool{}
	for _, r := range results {
		if r.err != nil {
			t.Fatalf("CheckCode: expected no error, got %v", r.err)
		}
		counts[r.res.Outcome]++
		if r.res.Outcome == caddyotp.OutcomeIncorrect {
			lefts[r.res.AttemptsLeft] = true
		}
	}
	if counts[caddyotp.OutcomeIncorrect] != 4 || counts[caddyotp.OutcomeBurned] != 1 || counts[caddyotp.OutcomeExpired] != 45 {
		t.Fatalf("expected 4 incorrect, 1 burned and 45 expired, got %v", counts)
	}
	if len(lefts) != 4 {
		t.Fatalf("expected attempts left 4, 3, 2 and 1 once each, got %v", lefts)
	}
}

// Allow takes one send from the ip limit key of the template "login".
func Allow(t *testing.T, s caddyotp.Store, key string, l caddyotp.Limit) caddyotp.Decision {
	t.Helper()
	return AllowAll(t, s, "login", caddyotp.LimitTake{Kind: caddyotp.LimitIP, Key: key, Limit: l})
}

// AllowAll takes one send from every limit of takes, all or nothing.
func AllowAll(t *testing.T, s caddyotp.Store, template string, takes ...caddyotp.LimitTake) caddyotp.Decision {
	t.Helper()
	d, err := s.Allow(context.Background(), template, takes)
	if err != nil {
		t.Fatalf("Allow: expected no error, got %v", err)
	}
	return d
}

func testAllow(t *testing.T, s caddyotp.Store) {
	l := caddyotp.Limit{Count: 5, Window: 10 * time.Second}
	for i := range 5 {
		if d := Allow(t, s, "mobile:"+Mobile, l); !d.Allowed {
			t.Fatalf("send %d: expected allowed, got %+v", i+1, d)
		}
	}
	d := Allow(t, s, "mobile:"+Mobile, l)
	ExpectRefused(t, d, caddyotp.ReasonLimited)
	expectBetween(t, "retry after", d.RetryAfter, 1500*time.Millisecond, 2*time.Second)

	ExpectAllowed(t, Allow(t, s, "ip:192.0.2.1", l))

	// the refill is smooth: one send back after Window/Count
	fast := caddyotp.Limit{Count: 2, Window: 400 * time.Millisecond}
	ExpectAllowed(t, Allow(t, s, "fast", fast))
	ExpectAllowed(t, Allow(t, s, "fast", fast))
	d = Allow(t, s, "fast", fast)
	ExpectRefused(t, d, caddyotp.ReasonLimited)
	time.Sleep(d.RetryAfter + 20*time.Millisecond)
	ExpectAllowed(t, Allow(t, s, "fast", fast))
	ExpectRefused(t, Allow(t, s, "fast", fast), caddyotp.ReasonLimited)
}

// Issue 10, item 9: a send refused by one limit spends none of the others.
func testAllowAllOrNothing(t *testing.T, s caddyotp.Store) {
	mobileLimit := caddyotp.Limit{Count: 5, Window: time.Hour}
	ipLimit := caddyotp.Limit{Count: 2, Window: time.Hour}
	send := func(mobile, ip string) caddyotp.Decision {
		return AllowAll(t, s, "login",
			caddyotp.LimitTake{Kind: caddyotp.LimitMobile, Key: mobile, Limit: mobileLimit},
			caddyotp.LimitTake{Kind: caddyotp.LimitIP, Key: ip, Limit: ipLimit},
			caddyotp.LimitTake{Kind: caddyotp.LimitTemplate, Limit: caddyotp.Limit{Count: 1000, Window: time.Hour}})
	}
	const attacker, victim = "203.0.113.66", Mobile
	ExpectAllowed(t, send("+447400123457", attacker))
	ExpectAllowed(t, send("+12025550123", attacker))
	for range 5 {
		d := send(victim, attacker)
		ExpectRefused(t, d, caddyotp.ReasonLimited)
		if d.Limit != caddyotp.LimitIP {
			t.Fatalf("expected the ip limit named, got %+v", d)
		}
		expectBetween(t, "retry after", d.RetryAfter, 29*time.Minute, 30*time.Minute)
	}
	for i := range 5 {
		ExpectAllowed(t, send(victim, fmt.Sprintf("198.51.100.%d", i)))
	}
	d := send(victim, "198.51.100.9")
	ExpectRefused(t, d, caddyotp.ReasonLimited)
	if d.Limit != caddyotp.LimitMobile {
		t.Fatalf("expected the mobile limit named, got %+v", d)
	}

	// Refused by a later limit: the earlier ones are not charged either. Two limits
	// without room: the first is named, the longest wait is given.
	other := "+447400123458"
	tight := caddyotp.LimitTake{Kind: caddyotp.LimitTemplate, Limit: caddyotp.Limit{Count: 1, Window: time.Hour}}
	ExpectAllowed(t, AllowAll(t, s, "signup", tight))
	for range 3 {
		ExpectRefused(t, AllowAll(t, s, "signup", caddyotp.LimitTake{Kind: caddyotp.LimitMobile, Key: other, Limit: caddyotp.Limit{Count: 1, Window: time.Hour}}, tight), caddyotp.ReasonLimited)
	}
	ExpectAllowed(t, AllowAll(t, s, "signup", caddyotp.LimitTake{Kind: caddyotp.LimitMobile, Key: other, Limit: caddyotp.Limit{Count: 1, Window: time.Hour}}))
	d = AllowAll(t, s, "signup", caddyotp.LimitTake{Kind: caddyotp.LimitMobile, Key: other, Limit: caddyotp.Limit{Count: 1, Window: time.Minute}}, tight)
	if d.Allowed || d.Limit != caddyotp.LimitMobile {
		t.Fatalf("expected the mobile limit named first, got %+v", d)
	}
	expectBetween(t, "retry after", d.RetryAfter, 59*time.Minute, time.Hour)

	// Limits are per template: the same kind and key of another template is untouched.
	ExpectAllowed(t, AllowAll(t, s, "other", caddyotp.LimitTake{Kind: caddyotp.LimitIP, Key: attacker, Limit: ipLimit}))
	ExpectAllowed(t, AllowAll(t, s, "login"))
}

// testAllowAllOrNothingParallel: sends at once for one mobile from one IP take exactly the
// mobile limit's count, and the refused ones leave the ip limit as it was.
func testAllowAllOrNothingParallel(t *testing.T, s caddyotp.Store) {
	mobile := caddyotp.LimitTake{Kind: caddyotp.LimitMobile, Key: Mobile, Limit: caddyotp.Limit{Count: 10, Window: time.Hour}}
	ip := caddyotp.LimitTake{Kind: caddyotp.LimitIP, Key: "2001:db8::/64", Limit: caddyotp.Limit{Count: 30, Window: time.Hour}}
	allowed := parallelAllowed(t, 50, "Allow", func() (bool, error) {
		d, err := s.Allow(context.Background(), "login", []caddyotp.LimitTake{mobile, ip})
		return d.Allowed, err
	})
	if allowed != 10 {
		t.Fatalf("expected 10 sends within the mobile limit, got %d", allowed)
	}
	for i := range 20 {
		other := mobile
		other.Key = fmt.Sprintf("+4474001234%02d", i)
		if d := AllowAll(t, s, "login", other, ip); !d.Allowed {
			t.Fatalf("send %d for another mobile: expected the ip limit to have 20 left, got %+v", i+1, d)
		}
	}
	ExpectRefused(t, AllowAll(t, s, "login", caddyotp.LimitTake{Kind: caddyotp.LimitMobile, Key: "+447400123499", Limit: mobile.Limit}, ip), caddyotp.ReasonLimited)
}

// Issue 10, item 7: wrong codes lock a mobile in one lock group only.
func testLockGroups(t *testing.T, s caddyotp.Store) {
	p := caddyotp.LockPolicy{After: 3, Base: time.Minute, Max: time.Hour, Window: time.Hour}
	public := caddyotp.CodeKey{Template: "public", Mobile: Mobile}
	admin := caddyotp.CodeKey{Template: "admin", Mobile: Mobile}
	PutCode(t, s, public, "111111", 5, time.Minute)
	PutCode(t, s, admin, "222222", 5, time.Minute)
	for i := range 3 {
		res := checkCodeIn(t, s, "public", public, "000000", p)
		if res.LockedNow != (i == 2) {
			t.Fatalf("failure %d: expected a lock only at the third, got %+v", i+1, res)
		}
	}
	ExpectRefused(t, claimIn(t, s, "public", public, "n1", time.Minute), caddyotp.ReasonLocked)
	ExpectOutcome(t, checkCodeIn(t, s, "public", public, "111111", p), caddyotp.OutcomeLocked, 0)

	// Another group is neither locked nor counting: two failures there do not lock.
	ExpectAllowed(t, claimIn(t, s, "admin", admin, "n2", time.Minute))
	for left := 4; left >= 3; left-- {
		if res := checkCodeIn(t, s, "admin", admin, "000000", p); res.LockedNow || res.AttemptsLeft != left {
			t.Fatalf("expected no lock and %d left in the other group, got %+v", left, res)
		}
	}
	ExpectOutcome(t, checkCodeIn(t, s, "admin", admin, "222222", p), caddyotp.OutcomeVerified, 0)

	// Two templates of one group share the run and the lock.
	a := caddyotp.CodeKey{Template: "shop", Mobile: "+447400123457"}
	b := caddyotp.CodeKey{Template: "billing", Mobile: "+447400123457"}
	PutCode(t, s, a, "111111", 5, time.Minute)
	PutCode(t, s, b, "222222", 5, time.Minute)
	checkCodeIn(t, s, "money", a, "000000", p)
	checkCodeIn(t, s, "money", b, "000000", p)
	if res := checkCodeIn(t, s, "money", a, "000000", p); !res.LockedNow {
		t.Fatalf("expected the third failure of the group to lock, got %+v", res)
	}
	ExpectRefused(t, claimIn(t, s, "money", b, "n3", time.Minute), caddyotp.ReasonLocked)
	ExpectOutcome(t, checkCodeIn(t, s, "money", b, "222222", p), caddyotp.OutcomeLocked, 0)
	// the same templates' mobile in another group is free
	ExpectAllowed(t, claimIn(t, s, "shop", a, "n4", time.Minute))
}

// Issue 10, item 8: from the ceiling on, every failure locks for the run's window, and the
// run outlives the lock; a new code does not end it, a right code does.
func testCeiling(t *testing.T, s caddyotp.Store) {
	const window = 800 * time.Millisecond
	p := caddyotp.LockPolicy{After: 2, Base: 20 * time.Millisecond, Max: 40 * time.Millisecond, Window: window, Ceiling: 5}
	k := caddyotp.CodeKey{Template: "login", Mobile: Mobile}
	PutCode(t, s, k, "111111", 10, time.Minute)
	for i := 1; i <= 4; i++ {
		res := CheckCode(t, s, k, "000000", p)
		if res.LockedNow != (i%2 == 0) {
			t.Fatalf("failure %d: expected a lock only at every Second, got %+v", i, res)
		}
		time.Sleep(res.RetryAfter + 10*time.Millisecond)
	}
	res := CheckCode(t, s, k, "000000", p)
	if !res.LockedNow {
		t.Fatalf("expected the fifth failure (the ceiling) to lock, got %+v", res)
	}
	expectBetween(t, "ceiling lock", res.RetryAfter, window-50*time.Millisecond, window)
	d := Claim(t, s, k, "n1", 0)
	ExpectRefused(t, d, caddyotp.ReasonLocked)
	expectBetween(t, "locked retry after", d.RetryAfter, window/2, window)

	// A new code does not end the run: once the lock is over, the next failure locks again
	// for the window (a run without the ceiling would have ended with the lock).
	time.Sleep(window + 50*time.Millisecond)
	PutCode(t, s, k, "111111", 10, time.Minute)
	res = CheckCode(t, s, k, "000000", p)
	if !res.LockedNow {
		t.Fatalf("expected the failure after the ceiling's lock to lock again, got %+v", res)
	}
	expectBetween(t, "Second ceiling lock", res.RetryAfter, window-50*time.Millisecond, window)

	// A right code ends the run: the next failure is the first of a new one.
	time.Sleep(window + 50*time.Millisecond)
	ExpectOutcome(t, CheckCode(t, s, k, "111111", p), caddyotp.OutcomeVerified, 0)
	PutCode(t, s, k, "111111", 10, time.Minute)
	if res := CheckCode(t, s, k, "000000", p); res.LockedNow || res.Outcome != caddyotp.OutcomeIncorrect {
		t.Fatalf("expected a new run without a lock, got %+v", res)
	}
}

func Reserve(t *testing.T, s caddyotp.Store, at time.Time, amount int64, caps caddyotp.BudgetCaps) caddyotp.Decision {
	t.Helper()
	d, err := s.ReserveBudget(context.Background(), at, amount, caps)
	if err != nil {
		t.Fatalf("ReserveBudget: expected no error, got %v", err)
	}
	return d
}

func release(t *testing.T, s caddyotp.Store, at time.Time, amount int64) {
	t.Helper()
	if err := s.ReleaseBudget(context.Background(), at, amount); err != nil {
		t.Fatalf("ReleaseBudget: expected no error, got %v", err)
	}
}

func testBudgetCaps(t *testing.T, s caddyotp.Store) {
	day := time.Date(2030, 1, 15, 18, 0, 0, 0, time.UTC)
	dayCap := caddyotp.BudgetCaps{DailyMicroUSD: 1000}
	ExpectAllowed(t, Reserve(t, s, day, 600, dayCap))
	d := Reserve(t, s, day, 600, dayCap)
	ExpectRefused(t, d, caddyotp.ReasonBudget)
	if d.RetryAfter != 6*time.Hour {
		t.Fatalf("expected retry after 6h (next UTC day), got %s", d.RetryAfter)
	}
	ExpectAllowed(t, Reserve(t, s, day, 400, dayCap)) // exactly the cap
	release(t, s, day, 400)
	release(t, s, day, 600)
	ExpectAllowed(t, Reserve(t, s, day, 1000, dayCap))
	// never below zero
	release(t, s, day, 5000)
	ExpectAllowed(t, Reserve(t, s, day, 1000, dayCap))
	ExpectRefused(t, Reserve(t, s, day, 1, dayCap), caddyotp.ReasonBudget)
	// the next day has its own spend, and no cap means no limit
	ExpectAllowed(t, Reserve(t, s, day.Add(24*time.Hour), 1000, dayCap))
	ExpectAllowed(t, Reserve(t, s, day, 1_000_000, caddyotp.BudgetCaps{}))

	// the month: a cap across days; refused until the next month when both are spent
	end := time.Date(2030, 3, 31, 22, 0, 0, 0, time.UTC)
	caps := caddyotp.BudgetCaps{DailyMicroUSD: 500, MonthlyMicroUSD: 800}
	ExpectAllowed(t, Reserve(t, s, end.Add(-48*time.Hour), 500, caps))
	ExpectAllowed(t, Reserve(t, s, end, 300, caps))
	d = Reserve(t, s, end, 300, caps)
	ExpectRefused(t, d, caddyotp.ReasonBudget)
	if d.RetryAfter != 2*time.Hour {
		t.Fatalf("expected retry after 2h (next UTC month), got %s", d.RetryAfter)
	}
	// a zone other than UTC names the same day
	if d := Reserve(t, s, end.In(time.FixedZone("X", 5*3600)), 1, caps); d.Allowed {
		t.Fatalf("expected the same UTC month to be spent, got %+v", d)
	}
}

func testBudgetParallel(t *testing.T, s caddyotp.Store) {
	at := time.Now()
	caps := caddyotp.BudgetCaps{DailyMicroUSD: 1000, MonthlyMicroUSD: 2000}
	allowed := parallelAllowed(t, 50, "ReserveBudget", func() (bool, error) {
		d, err := s.ReserveBudget(context.Background(), at, 100, caps)
		return d.Allowed, err
	})
	if allowed != 10 {
		t.Fatalf("expected 10 reservations within the cap, got %d", allowed)
	}
	release(t, s, at, 100)
	ExpectAllowed(t, Reserve(t, s, at, 100, caps))
	ExpectRefused(t, Reserve(t, s, at, 100, caps), caddyotp.ReasonBudget)
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

func LedgerEntry(template string, i int) caddyotp.LedgerEntry {
	return caddyotp.LedgerEntry{
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

func AppendLedger(t *testing.T, s caddyotp.Store, e caddyotp.LedgerEntry) {
	t.Helper()
	if err := s.AppendLedger(context.Background(), e); err != nil {
		t.Fatalf("AppendLedger: expected no error, got %v", err)
	}
}

func RecentLedger(t *testing.T, s caddyotp.Store, template string, n int) []caddyotp.LedgerEntry {
	t.Helper()
	got, err := s.RecentLedger(context.Background(), template, n)
	if err != nil {
		t.Fatalf("RecentLedger: expected no error, got %v", err)
	}
	return got
}

func testLedgerOrder(t *testing.T, s caddyotp.Store) {
	for i := range 5 {
		AppendLedger(t, s, LedgerEntry("login", i))
	}
	failed := LedgerEntry("login", 5)
	failed.Status, failed.Error = "failed", "throttled"
	AppendLedger(t, s, failed)
	AppendLedger(t, s, LedgerEntry("signup", 99))

	got := RecentLedger(t, s, "login", 3)
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
	if got := RecentLedger(t, s, "login", 100); len(got) != 6 {
		t.Fatalf("expected 6 entries, got %d", len(got))
	}
	if got := RecentLedger(t, s, "signup", 100); len(got) != 1 || got[0].MessageID != "m-99" {
		t.Fatalf("expected the signup entry alone, got %+v", got)
	}
	for _, n := range []int{0, -1} {
		if got := RecentLedger(t, s, "login", n); len(got) != 0 {
			t.Fatalf("n=%d: expected no entries, got %d", n, len(got))
		}
	}
	if got := RecentLedger(t, s, "none", 10); got == nil || len(got) != 0 {
		t.Fatalf("expected an empty list, got %#v", got)
	}
}

func testLedgerCapped(t *testing.T, s caddyotp.Store) {
	const extra = 150
	fillLedger(t, s, caddyotp.LedgerKeep+extra)
	for i := range 3 {
		AppendLedger(t, s, LedgerEntry("login", 100000+i))
	}
	got := RecentLedger(t, s, "login", 2*caddyotp.LedgerKeep)
	// At least LedgerKeep stay; a store may keep a few more (this module's stores keep
	// exactly LedgerKeep).
	if len(got) < caddyotp.LedgerKeep || len(got) > caddyotp.LedgerKeep+extra {
		t.Fatalf("expected %d to %d entries, got %d", caddyotp.LedgerKeep, caddyotp.LedgerKeep+extra, len(got))
	}
	for i, want := range []string{"m-100002", "m-100001", "m-100000"} {
		if got[i].MessageID != want {
			t.Fatalf("entry %d: expected %s, got %s", i, want, got[i].MessageID)
		}
	}
}

// sessionID is a made-up gate session id: 32 lower-case hex digits.
func RevocationID(n int) string {
	return fmt.Sprintf("%032x", n)
}

func Revoke(t *testing.T, s caddyotp.Store, id string, until time.Time) {
	t.Helper()
	if err := s.RevokeSession(context.Background(), id, until); err != nil {
		t.Fatalf("RevokeSession: expected no error, got %v", err)
	}
}

// FeedEvent is one call a watcher received: a revocation, or health when IsHealth.
type FeedEvent struct {
	ID       string
	Until    time.Time
	IsHealth bool
	OK       bool
}

func (e FeedEvent) String() string {
	if e.IsHealth {
		return fmt.Sprintf("health(%t)", e.OK)
	}
	return fmt.Sprintf("revoked %s until %s", e.ID, e.Until.Format(time.RFC3339Nano))
}

// Feed is a running WatchRevocations, stopped when the test ends.
type Feed struct {
	events chan FeedEvent
	cancel context.CancelFunc
	done   chan struct{}
}

func Watch(t *testing.T, s caddyotp.Store) *Feed {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	f := &Feed{events: make(chan FeedEvent, 1000), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(f.done)
		s.WatchRevocations(ctx,
			func(id string, until time.Time) { f.events <- FeedEvent{ID: id, Until: until} },
			func(ok bool) { f.events <- FeedEvent{IsHealth: true, OK: ok} })
	}()
	t.Cleanup(func() { f.Stop(t) })
	return f
}

// Stop cancels the Watch and waits for WatchRevocations to return.
func (f *Feed) Stop(t *testing.T) {
	t.Helper()
	f.cancel()
	select {
	case <-f.done:
	case <-time.After(2 * time.Second):
		t.Errorf("expected WatchRevocations to return once its context ended, still running after 2s")
	}
}

// next returns the next event, failing the test after within.
func (f *Feed) next(t *testing.T, within time.Duration) FeedEvent {
	t.Helper()
	select {
	case e := <-f.events:
		return e
	case <-time.After(within):
		t.Fatalf("expected an event within %s, got none", within)
		return FeedEvent{}
	}
}

// UntilHealth returns the revocations delivered before the next health call, which must
// be health(ok).
func (f *Feed) UntilHealth(t *testing.T, ok bool, within time.Duration) []FeedEvent {
	t.Helper()
	var revs []FeedEvent
	deadline := time.Now().Add(within)
	for {
		e := f.next(t, max(time.Until(deadline), time.Millisecond))
		if !e.IsHealth {
			revs = append(revs, e)
			continue
		}
		if e.OK != ok {
			t.Fatalf("expected health(%t), got %s", ok, e)
		}
		return revs
	}
}

// ExpectRevoked waits for the revocation of id, skipping repeats of other revocations.
func (f *Feed) ExpectRevoked(t *testing.T, id string, until time.Time, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		e := f.next(t, max(time.Until(deadline), time.Millisecond))
		if e.IsHealth {
			t.Fatalf("expected the revocation of %s, got %s", id, e)
		}
		if e.ID == id {
			expectRevocationEnd(t, e, until)
			return
		}
	}
}

// expectRevocationEnd checks the end a store delivers: until rounded up to the millisecond.
func expectRevocationEnd(t *testing.T, e FeedEvent, until time.Time) {
	t.Helper()
	if d := e.Until.Sub(until); d < 0 || d >= time.Millisecond {
		t.Fatalf("expected %s to end at %s (to the millisecond), got %s", e.ID, until.Format(time.RFC3339Nano), e)
	}
}

func testRevocationBeforeWatch(t *testing.T, s caddyotp.Store) {
	a, b := RevocationID(1), RevocationID(2)
	untilA, untilB := time.Now().Add(time.Hour), time.Now().Add(12*time.Hour)
	Revoke(t, s, a, untilA)
	Revoke(t, s, b, untilB)

	f := Watch(t, s)
	revs := f.UntilHealth(t, true, 2*time.Second)
	got := make(map[string]FeedEvent)
	for _, e := range revs {
		got[e.ID] = e
	}
	if len(got) != 2 {
		t.Fatalf("expected %s and %s before health(true), got %v", a, b, revs)
	}
	expectRevocationEnd(t, got[a], untilA)
	expectRevocationEnd(t, got[b], untilB)
}

func testRevocationAfterWatch(t *testing.T, s caddyotp.Store) {
	f := Watch(t, s)
	if revs := f.UntilHealth(t, true, 2*time.Second); len(revs) != 0 {
		t.Fatalf("expected no revocations yet, got %v", revs)
	}
	id, until := RevocationID(3), time.Now().Add(8*time.Hour)
	start := time.Now()
	Revoke(t, s, id, until)
	f.ExpectRevoked(t, id, until, time.Second)
	t.Logf("delivered %s after the revocation", time.Since(start))
}

func testRevocationPast(t *testing.T, s caddyotp.Store) {
	past, live := RevocationID(4), RevocationID(5)
	Revoke(t, s, past, time.Now().Add(100*time.Millisecond))
	Revoke(t, s, live, time.Now().Add(time.Hour))
	time.Sleep(200 * time.Millisecond)

	f := Watch(t, s)
	revs := f.UntilHealth(t, true, 2*time.Second)
	if len(revs) != 1 || revs[0].ID != live {
		t.Fatalf("expected only %s, got %v", live, revs)
	}
}

func testRevocationLaterEnd(t *testing.T, s caddyotp.Store) {
	id := RevocationID(6)
	later := time.Now().Add(2 * time.Hour)
	Revoke(t, s, id, later)
	Revoke(t, s, id, time.Now().Add(time.Hour))

	f := Watch(t, s)
	revs := f.UntilHealth(t, true, 2*time.Second)
	if len(revs) != 1 {
		t.Fatalf("expected one revocation, got %v", revs)
	}
	expectRevocationEnd(t, revs[0], later)
}

func testRevocationTwoWatchers(t *testing.T, s caddyotp.Store) {
	f1, f2 := Watch(t, s), Watch(t, s)
	f1.UntilHealth(t, true, 2*time.Second)
	f2.UntilHealth(t, true, 2*time.Second)
	id, until := RevocationID(7), time.Now().Add(time.Hour)
	Revoke(t, s, id, until)
	f1.ExpectRevoked(t, id, until, time.Second)
	f2.ExpectRevoked(t, id, until, time.Second)

	// one watcher's end leaves the other one fed
	f1.Stop(t)
	id2 := RevocationID(8)
	Revoke(t, s, id2, until)
	f2.ExpectRevoked(t, id2, until, time.Second)
}

// InvalidArguments checks that both stores refuse nonsense alike.
func InvalidArguments(t *testing.T, s caddyotp.Store) {
	t.Helper()
	ctx := context.Background()
	k := caddyotp.CodeKey{Template: "login", Mobile: Mobile}
	h := CodeHash(k, "111111")
	reportErr := func(r caddyotp.Report) error {
		_, _, err := s.ApplyReport(ctx, "login", r)
		return err
	}
	calls := map[string]error{
		"put without hash":     s.PutCode(ctx, k, nil, 5, time.Minute),
		"put without attempts": s.PutCode(ctx, k, h, 0, time.Minute),
		"put without ttl":      s.PutCode(ctx, k, h, 5, 0),
		"limit without count":  Second(s.Allow(ctx, "t", []caddyotp.LimitTake{{Kind: caddyotp.LimitIP, Key: "k", Limit: caddyotp.Limit{Window: time.Minute}}})),
		"limit without window": Second(s.Allow(ctx, "t", []caddyotp.LimitTake{{Kind: caddyotp.LimitIP, Key: "k", Limit: caddyotp.Limit{Count: 1}}})),
		"policy without window": Second(s.CheckCode(ctx, k, k.Template, h,
			caddyotp.LockPolicy{After: 1, Base: time.Minute, Max: time.Minute})),
		"policy without base": Second(s.CheckCode(ctx, k, k.Template, h,
			caddyotp.LockPolicy{After: 1, Window: time.Minute})),
		"policy with a negative ceiling": Second(s.CheckCode(ctx, k, k.Template, h,
			caddyotp.LockPolicy{After: 1, Base: time.Minute, Window: time.Hour, Ceiling: -1})),
		"check without lock group":         Second(s.CheckCode(ctx, k, "", h, LenientPolicy)),
		"Claim without lock group":         Second(s.ClaimSend(ctx, k, "", "n", time.Minute)),
		"negative reservation":             Second(s.ReserveBudget(ctx, time.Now(), -1, caddyotp.BudgetCaps{})),
		"negative release":                 s.ReleaseBudget(ctx, time.Now(), -1),
		"Revoke a short id":                s.RevokeSession(ctx, RevocationID(1)[1:], time.Now().Add(time.Hour)),
		"Revoke a long id":                 s.RevokeSession(ctx, RevocationID(1)+"0", time.Now().Add(time.Hour)),
		"Revoke upper case":                s.RevokeSession(ctx, "ABCDEF0123456789ABCDEF0123456789", time.Now().Add(time.Hour)),
		"Revoke not hex":                   s.RevokeSession(ctx, "g0000000000000000000000000000000", time.Now().Add(time.Hour)),
		"Revoke until past":                s.RevokeSession(ctx, RevocationID(1), time.Now().Add(-time.Second)),
		"Revoke past MaxRevocation":        s.RevokeSession(ctx, RevocationID(1), time.Now().Add(caddyotp.MaxRevocation+time.Minute)),
		"report without a message id":      reportErr(caddyotp.Report{Status: caddyotp.ReportDelivered}),
		"report with a 257-byte id":        reportErr(caddyotp.Report{MessageID: strings.Repeat("m", 257), Status: caddyotp.ReportDelivered}),
		"report without a status":          reportErr(caddyotp.Report{MessageID: "m-1"}),
		"report of status sent":            reportErr(caddyotp.Report{MessageID: "m-1", Status: "sent"}),
		"report billed below zero":         reportErr(caddyotp.Report{MessageID: "m-1", Status: caddyotp.ReportDelivered, HasPrice: true, BilledUSD: -0.01}),
		"report billed over 100":           reportErr(caddyotp.Report{MessageID: "m-1", Status: caddyotp.ReportDelivered, HasPrice: true, BilledUSD: 100.01}),
		"report billed NaN":                reportErr(caddyotp.Report{MessageID: "m-1", Status: caddyotp.ReportDelivered, HasPrice: true, BilledUSD: math.NaN()}),
		"lease without a name":             Second(s.TakeLease(ctx, "", "a", time.Minute)),
		"lease without a holder":           Second(s.TakeLease(ctx, "logs", "", time.Minute)),
		"lease below 1ms":                  Second(s.TakeLease(ctx, "logs", "a", time.Millisecond-1)),
		"lease past MaxLease":              Second(s.TakeLease(ctx, "logs", "a", caddyotp.MaxLease+time.Millisecond)),
		"cursor without a name":            Second(s.Cursor(ctx, "")),
		"save a cursor without a name":     s.SetCursor(ctx, "", "v"),
		"count verified without a country": s.CountVerified(ctx, "login", "", time.Now()),
		"count verified in lower case":     s.CountVerified(ctx, "login", "gb", time.Now()),
		"count verified of 4 letters":      s.CountVerified(ctx, "login", "GBRX", time.Now()),
		"count verified with a colon":      s.CountVerified(ctx, "login", "G:", time.Now()),
		"counts from after to":             Second(s.DailyCounts(ctx, "login", time.Now(), time.Now().Add(-24*time.Hour))),
		"counts of 401 days":               Second(s.DailyCounts(ctx, "login", time.Now().Add(-caddyotp.MaxStatsDays*24*time.Hour), time.Now())),
	}
	for name, err := range guardInvalidCalls(s) {
		calls[name] = err
	}
	for name, err := range deviceInvalidCalls(s) {
		calls[name] = err
	}
	for name, err := range calls {
		if !errors.Is(err, caddyotp.ErrInvalidArgument) {
			t.Errorf("%s: expected ErrInvalidArgument, got %v", name, err)
		}
	}
}

func Second[T any](_ T, err error) error { return err }

// ExpectQuiet fails t if the watcher receives anything within d.
func (f *Feed) ExpectQuiet(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case e := <-f.events:
		t.Fatalf("expected nothing from the watcher, got %s", e)
	case <-time.After(d):
	}
}

// fillLedger appends entries 0..n-1 of the template login, from 8 goroutines at once.
func fillLedger(t *testing.T, s caddyotp.Store, n int) {
	t.Helper()
	const workers = 8
	errs := parallel(workers, func(w int) error {
		for i := w; i < n; i += workers {
			if err := s.AppendLedger(context.Background(), LedgerEntry("login", i)); err != nil {
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
}
