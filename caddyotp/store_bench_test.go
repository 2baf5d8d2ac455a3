package caddyotp

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddyotp/caddyotp/internal/redistest"
)

// The store operations one send or one verification costs, against the memory store and a
// private redis-server. Run with `go test -bench Store -run '^$' ./caddyotp/`.

// benchStores provisions each kind of store for b's sub-benchmarks.
func benchStores(b *testing.B, run func(b *testing.B, s Store)) {
	b.Run("memory", func(b *testing.B) {
		s := &MemoryStore{stateKey: "bench:" + b.Name()}
		provisionBenchStore(b, s)
		run(b, s)
	})
	b.Run("redis", func(b *testing.B) {
		srv := redistest.Start(b)
		s := &RedisStore{Addresses: []string{srv.Addr()}, KeyPrefix: "bench:"}
		provisionBenchStore(b, s)
		run(b, s)
	})
}

func provisionBenchStore(tb testing.TB, s interface {
	Provision(caddy.Context) error
	Cleanup() error
}) {
	tb.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	tb.Cleanup(cancel)
	if err := s.Provision(ctx); err != nil {
		tb.Fatalf("Provision: expected no error, got %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Cleanup(); err != nil {
			tb.Errorf("Cleanup: expected no error, got %v", err)
		}
	})
}

// benchMobile is the i-th of a range of distinct valid UK mobiles.
func benchMobile(i int) string {
	return fmt.Sprintf("+4474%08d", i%100_000_000)
}

func BenchmarkStorePutCode(b *testing.B) {
	benchStores(b, func(b *testing.B, s Store) {
		ctx := context.Background()
		hash := codeHash(CodeKey{Template: "t", Mobile: suiteMobile}, "123456")
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if err := s.PutCode(ctx, CodeKey{Template: "t", Mobile: benchMobile(i % 10_000)}, hash, 5, time.Minute); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkStoreCheckCodeRight(b *testing.B) {
	benchStores(b, func(b *testing.B, s Store) {
		ctx := context.Background()
		k := CodeKey{Template: "t", Mobile: suiteMobile}
		hash := codeHash(k, "123456")
		b.ReportAllocs()
		for b.Loop() {
			// The put is part of the loop: a right code consumes the code.
			if err := s.PutCode(ctx, k, hash, 5, time.Minute); err != nil {
				b.Fatal(err)
			}
			res, err := s.CheckCode(ctx, k, k.Template, hash, lenientPolicy)
			if err != nil || res.Outcome != OutcomeVerified {
				b.Fatalf("expected verified, got %v (%v)", res.Outcome, err)
			}
		}
	})
}

func BenchmarkStoreCheckCodeWrong(b *testing.B) {
	benchStores(b, func(b *testing.B, s Store) {
		ctx := context.Background()
		const mobiles = 10_000
		for i := range mobiles {
			k := CodeKey{Template: "t", Mobile: benchMobile(i)}
			if err := s.PutCode(ctx, k, codeHash(k, "123456"), 10, 10*time.Minute); err != nil {
				b.Fatal(err)
			}
		}
		wrong := codeHash(CodeKey{Template: "t", Mobile: suiteMobile}, "654321")
		policy := LockPolicy{After: 100, Base: time.Minute, Max: time.Hour, Window: time.Hour}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			// Each mobile takes at most a few wrong codes, so most answers are "incorrect";
			// past the code's attempts it is "expired", which costs the same script.
			if _, err := s.CheckCode(ctx, CodeKey{Template: "t", Mobile: benchMobile(i % mobiles)}, "t", wrong, policy); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkStoreClaimSend(b *testing.B) {
	benchStores(b, func(b *testing.B, s Store) {
		ctx := context.Background()
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			d, err := s.ClaimSend(ctx, CodeKey{Template: "t", Mobile: benchMobile(i)}, "t", "n"+strconv.Itoa(i), time.Minute)
			if err != nil || !d.Allowed {
				b.Fatalf("expected allowed, got %+v (%v)", d, err)
			}
		}
	})
}

func BenchmarkStoreAllow(b *testing.B) {
	benchStores(b, func(b *testing.B, s Store) {
		ctx := context.Background()
		l := Limit{Count: 1_000_000_000, Window: time.Hour}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := s.Allow(ctx, "t", []LimitTake{{Kind: LimitIP, Key: "127.0.0." + strconv.Itoa(i%256), Limit: l}}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkStoreReserveBudget(b *testing.B) {
	benchStores(b, func(b *testing.B, s Store) {
		ctx := context.Background()
		caps := BudgetCaps{DailyMicroUSD: 1 << 60, MonthlyMicroUSD: 1 << 61}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.ReserveBudget(ctx, time.Now(), 46_300, caps); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestRedisMemoryPerLiveCode bounds what one live code costs in Redis: the code key and the
// resend cooldown key that a send leaves behind, as MEMORY USAGE reports them.
func TestRedisMemoryPerLiveCode(t *testing.T) {
	srv := redistest.Start(t)
	s := newTestRedisStore(t, srv.Addr(), "otp:")
	ctx := context.Background()
	k := CodeKey{Template: "login", Mobile: suiteMobile}
	if d, err := s.ClaimSend(ctx, k, k.Template, "0123456789abcdef0123456789abcdef", time.Minute); err != nil || !d.Allowed {
		t.Fatalf("ClaimSend: expected allowed, got %+v (%v)", d, err)
	}
	if err := s.PutCode(ctx, k, codeHash(k, "123456"), 5, 5*time.Minute); err != nil {
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
