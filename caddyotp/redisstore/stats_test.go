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

// expectTTL checks that key lives about want.
func expectTTL(t *testing.T, c *redis.Client, key string, want time.Duration) {
	t.Helper()
	if ttl := c.PTTL(context.Background(), key).Val(); ttl < want-time.Minute || ttl > want {
		t.Fatalf("expected %s to live %s, got %s", key, want, ttl)
	}
}

// TestRedisCountsTTL: a day's hash lives StatsTTL after its last update, whichever step
// made it: a send, a report or a verified code. A send that does not count leaves no day.
func TestRedisCountsTTL(t *testing.T) {
	srv := redistest.Start(t)
	s := newTestRedisStore(t, srv.Addr(), "otp:")
	c := srv.Client()
	ctx := context.Background()
	e := storetest.LedgerEntry("login", 1)
	key := s.keys.statsDay("login", caddyotp.StatsDate(e.Time))

	failed := storetest.LedgerEntry("login", 2)
	failed.Status = "failed"
	storetest.AppendLedger(t, s, failed)
	if n := c.Exists(ctx, key).Val(); n != 0 {
		t.Fatalf("expected no day for a send that failed, got %s", key)
	}

	for _, step := range []struct {
		name string
		run  func()
	}{
		{"a send", func() { storetest.AppendLedger(t, s, e) }},
		{"a report", func() { storetest.ApplyReport(t, s, "login", storetest.Delivered(e.MessageID)) }},
		{"a verified code", func() { storetest.CountVerified(t, s, "login", "GB", e.Time) }},
	} {
		if err := c.PExpire(ctx, key, time.Hour).Err(); err != nil { // none yet before the send
			t.Fatalf("PEXPIRE: expected no error, got %v", err)
		}
		step.run()
		expectTTL(t, c, key, caddyotp.StatsTTL)
	}
	want := map[string]string{"GB:sent": "1", "GB:estimated": "46300", "GB:delivered": "1", "GB:billed": "50000", "GB:verified": "1"}
	got := c.HGetAll(ctx, key).Val()
	if len(got) != len(want) {
		t.Fatalf("expected the fields %v, got %v", want, got)
	}
	for f, v := range want {
		if got[f] != v {
			t.Fatalf("expected the fields %v, got %v", want, got)
		}
	}
}

// TestRedisCountsUpgrade: an entry appended before the daily counts (no day or country on
// the stream) takes its report, which is not counted: its send was not counted either.
func TestRedisCountsUpgrade(t *testing.T) {
	srv := redistest.Start(t)
	s := newTestRedisStore(t, srv.Addr(), "otp:")
	c := srv.Client()
	ctx := context.Background()
	sid, err := c.XAdd(ctx, &redis.XAddArgs{Stream: s.keys.ledger("login"),
		Values: []string{"e", `{"time":"2030-01-01T00:00:01Z","template":"login","message_id":"old-1","country":"GB","price_usd":0.0463,"status":"sent"}`, "m", "old-1"}}).Result()
	if err != nil {
		t.Fatalf("XADD: expected no error, got %v", err)
	}
	if err := c.HSet(ctx, s.keys.ledgerIDs("login"), "old-1", sid).Err(); err != nil {
		t.Fatalf("HSET: expected no error, got %v", err)
	}
	out, e := storetest.ApplyReport(t, s, "login", storetest.Delivered("old-1"))
	if out != caddyotp.ReportApplied || e.MessageID != "old-1" || e.Status != caddyotp.ReportDelivered {
		t.Fatalf("expected the old entry delivered, got %s with %s", out, storetest.EntryString(e))
	}
	if got := storetest.DailyCounts(t, s, "login", e.Time, e.Time); len(got) != 0 {
		t.Fatalf("expected no counts, got %v", got)
	}
}

// TestRedisCountsNonsense: a day's hash or a budget key that does not read as counts is the
// store not answering sensibly, never zero.
func TestRedisCountsNonsense(t *testing.T) {
	srv := redistest.Start(t)
	s := newTestRedisStore(t, srv.Addr(), "otp:")
	c := srv.Client()
	ctx := context.Background()
	at := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	key := s.keys.statsDay("login", "2030-01-01")
	for _, fields := range [][]string{
		{"GB:sent", "many"},
		{"GB:spent", "1"},
		{"GBsent", "1"},
		{":sent", "1"},
	} {
		if err := c.Del(ctx, key).Err(); err != nil {
			t.Fatalf("DEL: expected no error, got %v", err)
		}
		if err := c.HSet(ctx, key, fields).Err(); err != nil {
			t.Fatalf("HSET: expected no error, got %v", err)
		}
		if _, err := s.DailyCounts(ctx, "login", at, at); !errors.Is(err, caddyotp.ErrStoreUnavailable) {
			t.Errorf("%v: expected ErrStoreUnavailable, got %v", fields, err)
		}
	}
	if err := c.Set(ctx, key, "not a hash", time.Minute).Err(); err != nil {
		t.Fatalf("SET: expected no error, got %v", err)
	}
	if _, err := s.DailyCounts(ctx, "login", at, at); !errors.Is(err, caddyotp.ErrStoreUnavailable) {
		t.Errorf("a string day: expected ErrStoreUnavailable, got %v", err)
	}
	if err := s.CountVerified(ctx, "login", "GB", at); !errors.Is(err, caddyotp.ErrStoreUnavailable) {
		t.Errorf("counting on a string day: expected ErrStoreUnavailable, got %v", err)
	}

	if err := c.Set(ctx, s.keys.budgetMonth(at), "lots", time.Minute).Err(); err != nil {
		t.Fatalf("SET: expected no error, got %v", err)
	}
	if _, _, err := s.BudgetSpent(ctx, at); !errors.Is(err, caddyotp.ErrStoreUnavailable) {
		t.Errorf("BudgetSpent: expected ErrStoreUnavailable, got %v", err)
	}
}
