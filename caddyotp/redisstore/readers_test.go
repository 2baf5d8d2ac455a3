package redisstore

import (
	"context"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/storetest"
	"github.com/caddyotp/caddyotp/internal/redistest"
)

// TestRedisReaderTTLs: a lease lives its term, a cursor ReaderStateTTL from its last save.
func TestRedisReaderTTLs(t *testing.T) {
	srv := redistest.Start(t)
	s := newTestRedisStore(t, srv.Addr(), "otp:")
	c := srv.Client()
	ctx := context.Background()
	storetest.TakeLease(t, s, "logs", "a", time.Minute)
	storetest.TakeLease(t, s, "logs", "a", 2*time.Minute) // a renewal sets the new term
	if ttl := c.PTTL(ctx, s.keys.lease("logs")).Val(); ttl < 2*time.Minute-5*time.Second || ttl > 2*time.Minute {
		t.Fatalf("expected the lease to live 2m, got %s", ttl)
	}
	if got := c.Get(ctx, s.keys.lease("logs")).Val(); got != "a" {
		t.Fatalf("expected the holder a, got %q", got)
	}
	storetest.TakeLease(t, s, "logs", "b", time.Hour) // refused: nothing changes
	if ttl := c.PTTL(ctx, s.keys.lease("logs")).Val(); ttl > 2*time.Minute {
		t.Fatalf("expected a refused lease to leave the term, got %s", ttl)
	}
	storetest.SetCursor(t, s, "logs", "c1")
	if ttl := c.PTTL(ctx, s.keys.cursor("logs")).Val(); ttl < caddyotp.ReaderStateTTL-time.Minute || ttl > caddyotp.ReaderStateTTL {
		t.Fatalf("expected the cursor to live %s, got %s", caddyotp.ReaderStateTTL, ttl)
	}
}
