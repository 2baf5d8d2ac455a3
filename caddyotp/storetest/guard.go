package storetest

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/caddyotp"
)

// The pumping guard: GuardCount, GuardBlocked and GuardBlocks. Run expects every store to
// keep the guard (caddyotp.GuardStore, part of caddyotp.Store).

// guardCases are Run's cases for the pumping guard.
var guardCases = []storeCase{
	{"guard blocks a destination of low conversion", testGuardBlocks},
	{"guard never blocks a destination whose codes are used", testGuardGoodConversion},
	{"guard counts used codes against the sends", testGuardVerifiedCount},
	{"guard judges each key and template apart", testGuardApart},
	{"guard block ends", testGuardBlockEnds},
	{"guard counts roll off", testGuardRollOff},
	{"guard returns a block once", testGuardOnce},
	{"guard returns a block once in parallel", testGuardParallel},
	{"guard refuses bad arguments", testGuardInvalid},
}

// The guard keys of Mobile (GB) and of a US mobile, country first, as the app makes them.
var (
	GuardKeysGB = []string{"country:GB", "prefix:+4474001"}
	GuardKeysUS = []string{"country:US", "prefix:+1202555"}
)

// GuardPolicy is the suite's guard: judged from 25 sends, blocking below one code used in
// five, for an hour, over a window of an hour.
var GuardPolicy = caddyotp.GuardPolicy{Window: time.Hour, MinSends: 25, MinConversion: 0.2, Block: time.Hour}

// guardAt is a time minutes into a window of the suite's guard (a window of an hour
// starts on the hour), n windows after the first of the suite.
func guardAt(n int, minutes int) time.Time {
	return time.Date(2030, 1, 1, 0, minutes, 0, 0, time.UTC).Add(time.Duration(n) * time.Hour)
}

// GuardCount counts one send (verified false) or one code used under keys at at, and fails
// the test on an error. It returns the keys the count blocked.
func GuardCount(t *testing.T, s caddyotp.Store, template string, keys []string, verified bool, p caddyotp.GuardPolicy, at time.Time) []string {
	t.Helper()
	hits, err := s.GuardCount(context.Background(), template, keys, verified, p, at)
	if err != nil {
		t.Fatalf("GuardCount: expected no error, got %v", err)
	}
	return hits
}

// GuardBlocked returns how long the longest block of keys still lasts, and fails the test
// on an error.
func GuardBlocked(t *testing.T, s caddyotp.Store, template string, keys []string) time.Duration {
	t.Helper()
	d, err := s.GuardBlocked(context.Background(), template, keys)
	if err != nil {
		t.Fatalf("GuardBlocked: expected no error, got %v", err)
	}
	return d
}

// GuardBlocks returns the template's blocks, and fails the test on an error.
func GuardBlocks(t *testing.T, s caddyotp.Store, template string) map[string]time.Duration {
	t.Helper()
	blocks, err := s.GuardBlocks(context.Background(), template)
	if err != nil {
		t.Fatalf("GuardBlocks: expected no error, got %v", err)
	}
	return blocks
}

// guardSends counts n sends under keys at at, and fails the test if one of them blocks.
func guardSends(t *testing.T, s caddyotp.Store, template string, keys []string, n int, p caddyotp.GuardPolicy, at time.Time) {
	t.Helper()
	for i := range n {
		if hits := GuardCount(t, s, template, keys, false, p, at); len(hits) != 0 {
			t.Fatalf("send %d of %d to %v in %s: expected no block, got %v", i+1, n, keys, template, hits)
		}
	}
}

// guardUsed counts n codes used under keys at at.
func guardUsed(t *testing.T, s caddyotp.Store, template string, keys []string, n int, p caddyotp.GuardPolicy, at time.Time) {
	t.Helper()
	for range n {
		if hits := GuardCount(t, s, template, keys, true, p, at); len(hits) != 0 {
			t.Fatalf("a code used under %v in %s: expected no block, got %v", keys, template, hits)
		}
	}
}

// expectHits checks the keys a count blocked, in any order.
func expectHits(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))) {
		t.Fatalf("%s: expected the count to block %v, got %v", what, want, got)
	}
}

// expectBlocked checks that the longest block of keys lasts (0, most].
func expectBlocked(t *testing.T, s caddyotp.Store, template string, keys []string, most time.Duration) {
	t.Helper()
	if d := GuardBlocked(t, s, template, keys); d <= 0 || d > most {
		t.Fatalf("%v in %s: expected blocked for at most %s, got %s", keys, template, most, d)
	}
}

// expectNotBlocked checks that none of keys is blocked.
func expectNotBlocked(t *testing.T, s caddyotp.Store, template string, keys []string) {
	t.Helper()
	if d := GuardBlocked(t, s, template, keys); d != 0 {
		t.Fatalf("%v in %s: expected no block, got %s", keys, template, d)
	}
}

// expectBlocks checks the template's blocks: exactly the keys of want, each lasting more
// than what is left of want's length less a minute, and at most that length.
func expectBlocks(t *testing.T, s caddyotp.Store, template string, want map[string]time.Duration) {
	t.Helper()
	got := GuardBlocks(t, s, template)
	if len(got) != len(want) {
		t.Fatalf("blocks of %s: expected %v, got %v", template, want, got)
	}
	for key, most := range want {
		d, ok := got[key]
		if !ok || d <= 0 || d > most || d < most-time.Minute {
			t.Fatalf("blocks of %s: expected %s blocked for up to %s, got %v", template, key, most, got)
		}
	}
}

// Sends to a destination whose codes are hardly used: the send that reaches MinSends
// blocks the country and the prefix for Block.
func testGuardBlocks(t *testing.T, s caddyotp.Store) {
	at := guardAt(0, 10)
	guardUsed(t, s, "login", GuardKeysGB, 1, GuardPolicy, at)
	guardSends(t, s, "login", GuardKeysGB, 24, GuardPolicy, at)
	expectNotBlocked(t, s, "login", GuardKeysGB)
	expectBlocks(t, s, "login", nil)

	hits := GuardCount(t, s, "login", GuardKeysGB, false, GuardPolicy, at)
	expectHits(t, "send 25 with 1 code used", hits, GuardKeysGB...)
	expectBlocked(t, s, "login", GuardKeysGB, time.Hour)
	expectBlocked(t, s, "login", GuardKeysGB[:1], time.Hour) // either key alone
	expectBlocked(t, s, "login", GuardKeysGB[1:], time.Hour)
	expectBlocked(t, s, "login", []string{"country:US", "prefix:+4474001"}, time.Hour)
	expectNotBlocked(t, s, "login", GuardKeysUS)
	expectBlocks(t, s, "login", map[string]time.Duration{"country:GB": time.Hour, "prefix:+4474001": time.Hour})
}

// A destination whose codes are used is never blocked, however many codes it gets.
func testGuardGoodConversion(t *testing.T, s caddyotp.Store) {
	at := guardAt(0, 10)
	for i := range 100 {
		if hits := GuardCount(t, s, "login", GuardKeysGB, false, GuardPolicy, at); len(hits) != 0 {
			t.Fatalf("send %d: expected no block, got %v", i+1, hits)
		}
		if i%2 == 0 {
			guardUsed(t, s, "login", GuardKeysGB, 1, GuardPolicy, at)
		}
	}
	expectNotBlocked(t, s, "login", GuardKeysGB)
	expectBlocks(t, s, "login", nil)
}

// Codes used count against the sends: 6 of 25 (0.24) passes, 5 of 25 (exactly 0.2)
// passes too, and the 26th send of those (5 of 26) blocks.
func testGuardVerifiedCount(t *testing.T, s caddyotp.Store) {
	at := guardAt(0, 10)
	guardUsed(t, s, "login", GuardKeysGB, 6, GuardPolicy, at)
	guardSends(t, s, "login", GuardKeysGB, 25, GuardPolicy, at)
	expectNotBlocked(t, s, "login", GuardKeysGB)

	guardUsed(t, s, "signup", GuardKeysGB, 5, GuardPolicy, at)
	guardSends(t, s, "signup", GuardKeysGB, 25, GuardPolicy, at)
	hits := GuardCount(t, s, "signup", GuardKeysGB, false, GuardPolicy, at)
	expectHits(t, "send 26 with 5 codes used", hits, GuardKeysGB...)
	expectNotBlocked(t, s, "login", GuardKeysGB)
}

// Each key is judged on its own counts, and each template's guard on its own.
func testGuardApart(t *testing.T, s caddyotp.Store) {
	at := guardAt(0, 10)
	a, b := []string{"country:GB", "prefix:+4474001"}, []string{"country:GB", "prefix:+4474002"}
	guardSends(t, s, "login", a, 12, GuardPolicy, at)
	guardSends(t, s, "login", b, 12, GuardPolicy, at)
	hits := GuardCount(t, s, "login", b, false, GuardPolicy, at)
	expectHits(t, "the country's send 25", hits, "country:GB")
	expectNotBlocked(t, s, "login", []string{"prefix:+4474001", "prefix:+4474002"})
	expectBlocks(t, s, "login", map[string]time.Duration{"country:GB": time.Hour})

	// other templates: neither the sends nor the block of login count there, and codes
	// used in one do not help another
	guardUsed(t, s, "signup", GuardKeysUS, 30, GuardPolicy, at)
	guardSends(t, s, "signup", GuardKeysGB, 24, GuardPolicy, at)
	expectNotBlocked(t, s, "signup", GuardKeysGB)
	expectBlocks(t, s, "signup", nil)
	hits = GuardCount(t, s, "signup", GuardKeysGB, false, GuardPolicy, at)
	expectHits(t, "signup's send 25", hits, GuardKeysGB...)
	guardSends(t, s, "reset", GuardKeysUS, 24, GuardPolicy, at)
	hits = GuardCount(t, s, "reset", GuardKeysUS, false, GuardPolicy, at)
	expectHits(t, "reset's send 25", hits, GuardKeysUS...)
	expectNotBlocked(t, s, "login", GuardKeysUS)
	expectNotBlocked(t, s, "signup", GuardKeysUS)
}

// A block ends after Block: the keys are free again; a code used then is counted but
// judges nothing, and the next send that still reaches the mark blocks them anew.
func testGuardBlockEnds(t *testing.T, s caddyotp.Store) {
	p := GuardPolicy
	p.Block = 300 * time.Millisecond
	at := guardAt(0, 10)
	guardSends(t, s, "login", GuardKeysGB, 24, p, at)
	expectHits(t, "send 25", GuardCount(t, s, "login", GuardKeysGB, false, p, at), GuardKeysGB...)
	expectBlocked(t, s, "login", GuardKeysGB, p.Block)
	time.Sleep(p.Block + 100*time.Millisecond)
	expectNotBlocked(t, s, "login", GuardKeysGB)
	expectBlocks(t, s, "login", nil)
	guardUsed(t, s, "login", GuardKeysGB, 1, p, at) // 1 of 25: at the mark, not judged
	expectNotBlocked(t, s, "login", GuardKeysGB)
	expectHits(t, "send 26", GuardCount(t, s, "login", GuardKeysGB, false, p, at), GuardKeysGB...)
	expectBlocked(t, s, "login", GuardKeysGB, p.Block)
}

// The rolling window: sends and codes used two windows ago count no more, those of the
// window before count by the share of it the rolling window still covers.
func testGuardRollOff(t *testing.T, s caddyotp.Store) {
	// two windows on: nothing left of the first
	guardSends(t, s, "login", GuardKeysGB, 24, GuardPolicy, guardAt(0, 10))
	guardSends(t, s, "login", GuardKeysGB, 24, GuardPolicy, guardAt(2, 0))
	expectNotBlocked(t, s, "login", GuardKeysGB)

	// at the start of the next window, all of the previous one counts: 24 + 1
	guardSends(t, s, "signup", GuardKeysGB, 24, GuardPolicy, guardAt(0, 59))
	expectHits(t, "send 25 a window on", GuardCount(t, s, "signup", GuardKeysGB, false, GuardPolicy, guardAt(1, 0)), GuardKeysGB...)

	// half way through it, half: 24 × 0.5 + 12 = 24, then 25
	guardSends(t, s, "reset", GuardKeysGB, 24, GuardPolicy, guardAt(0, 10))
	guardSends(t, s, "reset", GuardKeysGB, 12, GuardPolicy, guardAt(1, 30))
	expectHits(t, "send 25 of the rolling window", GuardCount(t, s, "reset", GuardKeysGB, false, GuardPolicy, guardAt(1, 30)), GuardKeysGB...)

	// codes used two windows ago help no more
	guardUsed(t, s, "verify", GuardKeysGB, 10, GuardPolicy, guardAt(0, 10))
	guardSends(t, s, "verify", GuardKeysGB, 24, GuardPolicy, guardAt(2, 10))
	expectHits(t, "send 25 after the codes used rolled off", GuardCount(t, s, "verify", GuardKeysGB, false, GuardPolicy, guardAt(2, 10)), GuardKeysGB...)
}

// A count returns a key only when it blocks it: not again while the block lasts, and
// never for a used code.
func testGuardOnce(t *testing.T, s caddyotp.Store) {
	at := guardAt(0, 10)
	guardSends(t, s, "login", GuardKeysGB, 24, GuardPolicy, at)
	expectHits(t, "send 25", GuardCount(t, s, "login", GuardKeysGB, false, GuardPolicy, at), GuardKeysGB...)
	guardSends(t, s, "login", GuardKeysGB, 10, GuardPolicy, at)
	guardUsed(t, s, "login", GuardKeysGB, 1, GuardPolicy, at)
	expectBlocks(t, s, "login", map[string]time.Duration{"country:GB": time.Hour, "prefix:+4474001": time.Hour})

	// another prefix of the blocked country: only the prefix is new
	other := []string{"country:GB", "prefix:+4474009"}
	guardSends(t, s, "login", other, 24, GuardPolicy, at)
	expectHits(t, "send 25 to another prefix", GuardCount(t, s, "login", other, false, GuardPolicy, at), "prefix:+4474009")
	expectBlocks(t, s, "login", map[string]time.Duration{"country:GB": time.Hour, "prefix:+4474001": time.Hour, "prefix:+4474009": time.Hour})
}

// Counts made at once are one atomic step each: the block is returned exactly once.
func testGuardParallel(t *testing.T, s caddyotp.Store) {
	p := GuardPolicy
	p.MinSends = 10
	at := guardAt(0, 10)
	type result struct {
		hits []string
		err  error
	}
	results := parallel(20, func(int) result {
		hits, err := s.GuardCount(context.Background(), "login", GuardKeysGB, false, p, at)
		return result{hits, err}
	})
	returned := map[string]int{}
	for _, r := range results {
		if r.err != nil {
			t.Fatalf("GuardCount: expected no error, got %v", r.err)
		}
		for _, key := range r.hits {
			returned[key]++
		}
	}
	if len(returned) != 2 || returned["country:GB"] != 1 || returned["prefix:+4474001"] != 1 {
		t.Fatalf("expected each key returned once, got %v", returned)
	}
	expectBlocked(t, s, "login", GuardKeysGB, time.Hour)
}

// guardInvalidCalls calls the guard's methods with arguments they must refuse.
func guardInvalidCalls(s caddyotp.GuardStore) map[string]error {
	ctx := context.Background()
	count := func(keys []string, p caddyotp.GuardPolicy) error {
		_, err := s.GuardCount(ctx, "login", keys, false, p, time.Now())
		return err
	}
	policy := func(change func(p *caddyotp.GuardPolicy)) caddyotp.GuardPolicy {
		p := GuardPolicy
		change(&p)
		return p
	}
	return map[string]error{
		"guard count without keys":           count(nil, GuardPolicy),
		"guard count of a key without scope": count([]string{"GB"}, GuardPolicy),
		"guard count of an unknown scope":    count([]string{"country:GB", "city:London"}, GuardPolicy),
		"guard window of 0":                  count(GuardKeysGB, policy(func(p *caddyotp.GuardPolicy) { p.Window = 0 })),
		"guard block of 0":                   count(GuardKeysGB, policy(func(p *caddyotp.GuardPolicy) { p.Block = 0 })),
		"guard min sends of 0":               count(GuardKeysGB, policy(func(p *caddyotp.GuardPolicy) { p.MinSends = 0 })),
		"guard conversion of 0":              count(GuardKeysGB, policy(func(p *caddyotp.GuardPolicy) { p.MinConversion = 0 })),
		"guard conversion over 1":            count(GuardKeysGB, policy(func(p *caddyotp.GuardPolicy) { p.MinConversion = 1.5 })),
		"guard conversion NaN":               count(GuardKeysGB, policy(func(p *caddyotp.GuardPolicy) { p.MinConversion = math.NaN() })),
		"guard blocked without keys":         Second(s.GuardBlocked(ctx, "login", nil)),
		"guard blocks without a template":    Second(s.GuardBlocks(ctx, "")),
	}
}

func testGuardInvalid(t *testing.T, s caddyotp.Store) {
	for name, err := range guardInvalidCalls(s) {
		if !errors.Is(err, caddyotp.ErrInvalidArgument) {
			t.Errorf("%s: expected ErrInvalidArgument, got %v", name, err)
		}
	}
}
