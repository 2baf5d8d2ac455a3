package redisstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/storetest"
	"github.com/caddyotp/caddyotp/internal/redistest"
)

// TestRedisGuardTTL: a window's hash lives two windows after its last count, used codes
// included; the blocks live as long as the latest of them, and a send drops those that
// have ended.
func TestRedisGuardTTL(t *testing.T) {
	srv := redistest.Start(t)
	s := newTestRedisStore(t, srv.Addr(), "otp:")
	c, ctx := srv.Client(), context.Background()
	p := caddyotp.GuardPolicy{Window: 3 * time.Hour, MinSends: 2, MinConversion: 0.2, Block: 2 * time.Hour}
	window := s.keys.guardWindow("login", caddyotp.GuardWindowIndex(guardAt, p.Window))
	blocks := s.keys.guardBlocks("login")

	for _, verified := range []bool{false, true} {
		if err := c.PExpire(ctx, window, time.Hour).Err(); err != nil { // none yet before the send
			t.Fatalf("PEXPIRE: expected no error, got %v", err)
		}
		storetest.GuardCount(t, s, "login", storetest.GuardKeysGB, verified, p, guardAt)
		expectTTL(t, c, window, 2*p.Window)
	}
	want := map[string]string{"sent:country:GB": "1", "sent:prefix:+4474001": "1", "verified:country:GB": "1", "verified:prefix:+4474001": "1"}
	got := c.HGetAll(ctx, window).Val()
	if len(got) != len(want) {
		t.Fatalf("expected the fields %v, got %v", want, got)
	}
	for f, v := range want {
		if got[f] != v {
			t.Fatalf("expected the fields %v, got %v", want, got)
		}
	}

	// an ended block, set by hand, goes with the next send; the set lives as long as the
	// latest block, whichever was set last
	ended := time.Now().Add(-time.Second).UnixMilli()
	if err := c.ZAdd(ctx, blocks, redis.Z{Score: float64(ended), Member: "country:FR"}).Err(); err != nil {
		t.Fatalf("ZADD: expected no error, got %v", err)
	}
	storetest.GuardCount(t, s, "login", storetest.GuardKeysUS, false, p, guardAt)
	if hits := storetest.GuardCount(t, s, "login", storetest.GuardKeysUS, false, p, guardAt); len(hits) != 2 {
		t.Fatalf("expected send 2 to block both keys, got %v", hits)
	}
	expectTTL(t, c, blocks, p.Block)
	short := p
	short.Block = 10 * time.Minute
	for range 2 {
		storetest.GuardCount(t, s, "login", []string{"country:NL"}, false, short, guardAt)
	}
	expectTTL(t, c, blocks, p.Block)
	members := c.ZRange(ctx, blocks, 0, -1).Val()
	if len(members) != 3 || members[0] != "country:NL" {
		t.Fatalf("expected the blocks of NL and of the US keys, the ended one dropped, got %v", members)
	}
	left := storetest.GuardBlocks(t, s, "login")
	if len(left) != 3 || left["country:NL"] > short.Block || left["country:US"] <= short.Block {
		t.Fatalf("expected NL blocked for up to %s and the US keys for longer, got %v", short.Block, left)
	}
}

// TestRedisGuardNonsense: guard keys of the wrong type are the store not answering
// sensibly, never a verdict.
func TestRedisGuardNonsense(t *testing.T) {
	srv := redistest.Start(t)
	s := newTestRedisStore(t, srv.Addr(), "otp:")
	c, ctx := srv.Client(), context.Background()
	p := caddyotp.GuardPolicy{Window: time.Hour, MinSends: 2, MinConversion: 0.2, Block: time.Hour}
	for _, key := range []string{s.keys.guardWindow("login", caddyotp.GuardWindowIndex(guardAt, p.Window)), s.keys.guardBlocks("signup")} {
		if err := c.Set(ctx, key, "nonsense", time.Minute).Err(); err != nil {
			t.Fatalf("SET: expected no error, got %v", err)
		}
	}
	calls := map[string]error{
		"GuardCount of a window":   storetest.Second(s.GuardCount(ctx, "login", storetest.GuardKeysGB, false, p, guardAt)),
		"GuardCount of the blocks": storetest.Second(s.GuardCount(ctx, "signup", storetest.GuardKeysGB, false, p, guardAt)),
		"GuardBlocked":             storetest.Second(s.GuardBlocked(ctx, "signup", storetest.GuardKeysGB)),
		"GuardBlocks":              storetest.Second(s.GuardBlocks(ctx, "signup")),
	}
	for name, err := range calls {
		if !errors.Is(err, caddyotp.ErrStoreUnavailable) {
			t.Errorf("%s: expected ErrStoreUnavailable, got %v", name, err)
		}
	}
}
