package redisstore

import (
	"context"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/storetest"
	"github.com/caddyotp/caddyotp/internal/redistest"
	"github.com/caddyotp/caddyotp/internal/testcaddy"
)

// TestRedisMemoryPerLiveCode bounds what one live code costs in Redis: the code key and the
// resend cooldown key that a send leaves behind, as MEMORY USAGE reports them.
func TestRedisMemoryPerLiveCode(t *testing.T) {
	srv := redistest.Start(t)
	s := newTestRedisStore(t, srv.Addr(), "otp:")
	ctx := context.Background()
	k := caddyotp.CodeKey{Template: "login", Mobile: storetest.Mobile}
	if d, err := s.ClaimSend(ctx, k, k.Template, "0123456789abcdef0123456789abcdef", time.Minute); err != nil || !d.Allowed {
		t.Fatalf("ClaimSend: expected allowed, got %+v (%v)", d, err)
	}
	if err := s.PutCode(ctx, k, storetest.CodeHash(k, "123456"), 5, 5*time.Minute); err != nil {
		t.Fatalf("PutCode: expected no error, got %v", err)
	}
	keys := redisKeys{prefix: "otp:"}
	var total int64
	for _, key := range []string{keys.code(k), keys.cooldown(k)} {
		n, err := srv.Client().MemoryUsage(ctx, key).Result()
		if err != nil {
			t.Fatalf("MEMORY USAGE %s: expected a size, got %v", key, err)
		}
		t.Logf("MEMORY USAGE %s = %d bytes", key, n)
		total += n
	}
	t.Logf("one live code: %d bytes", total)
	if total > 256 {
		t.Errorf("expected at most 256 bytes per live code, got %d", total)
	}
}

// BenchmarkStore is the store operations of one send or verification (storetest.Benchmark)
// against a private redis-server. Run with `go test -bench Store -run '^$' ./caddyotp/redisstore/`.
func BenchmarkStore(b *testing.B) {
	storetest.Benchmark(b, func(b *testing.B) caddyotp.Store {
		srv := redistest.Start(b)
		s := &RedisStore{Addresses: []string{srv.Addr()}, KeyPrefix: "bench:"}
		testcaddy.Provision(b, s)
		return s
	})
}
