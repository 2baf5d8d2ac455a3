package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/storetest"
	"github.com/caddyotp/caddyotp/internal/redistest"
)

// appendLedgerRange appends storetest.LedgerEntry("login", i) for i from from to to-1, in
// order.
func appendLedgerRange(t *testing.T, s *RedisStore, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		storetest.AppendLedger(t, s, storetest.LedgerEntry("login", i))
	}
}

// expectLedgerSizes checks the entries of the login ledger's stream and of its two hashes.
func expectLedgerSizes(t *testing.T, c *redis.Client, s *RedisStore, entries, ids, reports int64) {
	t.Helper()
	ctx := context.Background()
	got := []int64{
		c.XLen(ctx, s.keys.ledger("login")).Val(),
		c.HLen(ctx, s.keys.ledgerIDs("login")).Val(),
		c.HLen(ctx, s.keys.ledgerReports("login")).Val(),
	}
	if got[0] != entries || got[1] != ids || got[2] != reports {
		t.Fatalf("expected %d entries, %d ids and %d reports, got %v", entries, ids, reports, got)
	}
}

// TestRedisLedgerHashesInStep: the trimming is exact and takes the trimmed entries' ids and
// reports out of the hashes, so that every id and report the hashes hold names an entry
// the stream holds; the hashes live as long as the stream.
func TestRedisLedgerHashesInStep(t *testing.T) {
	srv := redistest.Start(t)
	s := newTestRedisStore(t, srv.Addr(), "otp:")
	c := srv.Client()
	ctx := context.Background()
	appendLedgerRange(t, s, 0, caddyotp.LedgerKeep)
	for i := range 5 {
		if out, _ := storetest.ApplyReport(t, s, "login", storetest.Delivered(fmt.Sprintf("m-%d", i))); out != caddyotp.ReportApplied {
			t.Fatalf("m-%d: expected applied, got %s", i, out)
		}
	}
	expectLedgerSizes(t, c, s, caddyotp.LedgerKeep, caddyotp.LedgerKeep, 5)

	// A send without a message id has no id to index; three entries push out m-0 to m-2.
	refused := storetest.LedgerEntry("login", -1)
	refused.MessageID, refused.Status = "", "failed"
	storetest.AppendLedger(t, s, refused)
	appendLedgerRange(t, s, caddyotp.LedgerKeep, caddyotp.LedgerKeep+2)
	expectLedgerSizes(t, c, s, caddyotp.LedgerKeep, caddyotp.LedgerKeep-1, 2)

	// A newer entry of an id takes the id over; the older one keeps its report.
	storetest.AppendLedger(t, s, storetest.LedgerEntry("login", 4))
	if out, _ := storetest.ApplyReport(t, s, "login", storetest.Delivered("m-4")); out != caddyotp.ReportApplied {
		t.Fatalf("the newer m-4: expected applied, got %s", out)
	}
	ledger := storetest.RecentLedger(t, s, "login", 2*caddyotp.LedgerKeep)
	if first, last := ledger[0], ledger[len(ledger)-1]; first.MessageID != "m-4" || first.Status != "delivered" || last.MessageID != "m-4" || last.Status != "delivered" {
		t.Fatalf("expected both entries of m-4 delivered, got %s and %s", storetest.EntryString(first), storetest.EntryString(last))
	}
	// m-3 went with its report; the two entries of m-4 have one id and two reports
	expectLedgerSizes(t, c, s, caddyotp.LedgerKeep, caddyotp.LedgerKeep-2, 2)

	for id, sid := range c.HGetAll(ctx, s.keys.ledgerIDs("login")).Val() {
		msgs := c.XRange(ctx, s.keys.ledger("login"), sid, sid).Val()
		if len(msgs) != 1 || msgs[0].Values["m"] != id {
			t.Fatalf("expected the index's %s to name its entry %s, got %v", id, sid, msgs)
		}
	}
	for _, sid := range c.HKeys(ctx, s.keys.ledgerReports("login")).Val() {
		if msgs := c.XRange(ctx, s.keys.ledger("login"), sid, sid).Val(); len(msgs) != 1 {
			t.Fatalf("expected the report of %s to name an entry, got none", sid)
		}
	}
	for _, key := range s.ledgerKeys("login") {
		if ttl := c.PTTL(ctx, key).Val(); ttl < caddyotp.LedgerTTL-time.Minute || ttl > caddyotp.LedgerTTL {
			t.Errorf("expected %s to live %s, got %s", key, caddyotp.LedgerTTL, ttl)
		}
	}
}

// TestRedisLedgerUpgrade: a ledger written before reports (trimmed with MAXLEN ~, so a
// little longer than kept; entries without m) is trimmed to exactly the keep count by the
// next append, and its old entries still read.
func TestRedisLedgerUpgrade(t *testing.T) {
	srv := redistest.Start(t)
	s := newTestRedisStore(t, srv.Addr(), "otp:")
	c := srv.Client()
	ctx := context.Background()
	pipe := c.Pipeline()
	for i := range caddyotp.LedgerKeep + 60 {
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: s.keys.ledger("login"),
			Values: []string{"e", fmt.Sprintf(`{"message_id":"old-%d","status":"sent"}`, i)}})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatalf("XADD: expected no error, got %v", err)
	}
	storetest.AppendLedger(t, s, storetest.LedgerEntry("login", 1))
	expectLedgerSizes(t, c, s, caddyotp.LedgerKeep, 1, 0)
	got := storetest.RecentLedger(t, s, "login", 2*caddyotp.LedgerKeep)
	if len(got) != caddyotp.LedgerKeep || got[0].MessageID != "m-1" || got[len(got)-1].MessageID != "old-61" {
		t.Fatalf("expected m-1 down to old-61, got %d entries", len(got))
	}
	if out, _ := storetest.ApplyReport(t, s, "login", storetest.Delivered("old-100")); out != caddyotp.ReportUnknown {
		t.Fatalf("expected an entry from before reports to be unknown, got %s", out)
	}
}

// TestRedisReportCorrectionLost: the budget is corrected in a second step (another slot).
// When it fails the report is still applied, once: the correction is logged and lost,
// never applied twice.
func TestRedisReportCorrectionLost(t *testing.T) {
	srv := redistest.Start(t)
	s := newTestRedisStore(t, srv.Addr(), "otp:")
	core, logs := observer.New(zapcore.ErrorLevel)
	s.logger = zap.New(core)
	c := srv.Client()
	ctx := context.Background()

	e := storetest.LedgerEntry("login", 1)
	storetest.Reserve(t, s, e.Time, 46_300, caddyotp.BudgetCaps{})
	storetest.AppendLedger(t, s, e)
	day, month := s.keys.budgetDay(e.Time), s.keys.budgetMonth(e.Time)
	// a day key of the wrong type: INCRBY fails
	if err := c.Del(ctx, day).Err(); err != nil {
		t.Fatalf("DEL: expected no error, got %v", err)
	}
	if err := c.HSet(ctx, day, "x", "1").Err(); err != nil {
		t.Fatalf("HSET: expected no error, got %v", err)
	}

	out, got := storetest.ApplyReport(t, s, "login", storetest.Delivered(e.MessageID))
	if out != caddyotp.ReportApplied || got.Status != caddyotp.ReportDelivered {
		t.Fatalf("expected the report applied, got %s with %s", out, storetest.EntryString(got))
	}
	entries := logs.FilterMessage("budget correction of a delivery report lost").All()
	if len(entries) != 1 {
		t.Fatalf("expected the lost correction logged once, got %d logs", logs.Len())
	}
	fields := entries[0].ContextMap()
	if fields["message_id"] != e.MessageID || fields["micro_usd"] != int64(3_700) || !strings.Contains(fmt.Sprint(fields["error"]), "correct_budget") {
		t.Fatalf("expected the message id, the correction and the error logged, got %v", fields)
	}
	if v := c.Get(ctx, month).Val(); v != "46300" {
		t.Fatalf("expected the month left at 46300, got %s", v)
	}
	if out, _ := storetest.ApplyReport(t, s, "login", storetest.Delivered(e.MessageID)); out != caddyotp.ReportDuplicate {
		t.Fatalf("expected a second report to be a duplicate, got %s", out)
	}
	if n := logs.Len(); n != 1 {
		t.Fatalf("expected nothing more logged, got %d logs", n)
	}
}

// TestRedisReportNonsense: an entry or a report that does not decode is the store not
// answering sensibly, never a verdict.
func TestRedisReportNonsense(t *testing.T) {
	srv := redistest.Start(t)
	s := newTestRedisStore(t, srv.Addr(), "otp:")
	c := srv.Client()
	ctx := context.Background()
	sid, err := c.XAdd(ctx, &redis.XAddArgs{Stream: s.keys.ledger("login"), Values: []string{"e", "{nonsense", "m", "m-1"}}).Result()
	if err != nil {
		t.Fatalf("XADD: expected no error, got %v", err)
	}
	if err := c.HSet(ctx, s.keys.ledgerIDs("login"), "m-1", sid).Err(); err != nil {
		t.Fatalf("HSET: expected no error, got %v", err)
	}
	if _, _, err := s.ApplyReport(ctx, "login", storetest.Delivered("m-1")); !errors.Is(err, caddyotp.ErrStoreUnavailable) {
		t.Fatalf("ApplyReport: expected ErrStoreUnavailable, got %v", err)
	}

	storetest.AppendLedger(t, s, storetest.LedgerEntry("login", 2))
	storetest.ApplyReport(t, s, "login", storetest.Delivered("m-2"))
	sid2 := c.HGet(ctx, s.keys.ledgerIDs("login"), "m-2").Val()
	if err := c.HSet(ctx, s.keys.ledgerReports("login"), sid2, "{nonsense").Err(); err != nil {
		t.Fatalf("HSET: expected no error, got %v", err)
	}
	if _, err := s.RecentLedger(ctx, "login", 1); !errors.Is(err, caddyotp.ErrStoreUnavailable) {
		t.Fatalf("RecentLedger: expected ErrStoreUnavailable, got %v", err)
	}
}
