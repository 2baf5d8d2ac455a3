package caddyotp

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/internal/redistest"
)

// The store operations one send or one verification costs, against the memory store and a
// private redis-server. Run with `go test -bench Store -run '^$' ./caddyotp/`.

// benchStores provisions each kind of store for b's sub-benchmarks.
func benchStores(b *testing.B, run func(b *testing.B, s Store)) {
	b.Run("memory", func(b *testing.B) {
		s := &MemoryStore{stateKey: "bench:" + b.Name()}
		provision(b, s)
		run(b, s)
	})
	b.Run("redis", func(b *testing.B) {
		srv := redistest.Start(b)
		s := &RedisStore{Addresses: []string{srv.Addr()}, KeyPrefix: "bench:"}
		provision(b, s)
		run(b, s)
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

// floodStore is a memory store of max_entries bound, on clock, holding n entries as a
// flood of sends leaves them: for every send to a new mobile from a new IP, its code and
// its mobile and ip limits (each window long).
func floodStore(tb testing.TB, clock *fakeClock, bound, n int, window time.Duration) *MemoryStore {
	tb.Helper()
	s := &MemoryStore{now: clock.now, stateKey: fmt.Sprintf("bench:%s:%d", tb.Name(), n), MaxEntries: bound}
	provision(tb, s)
	ctx := context.Background()
	hash := codeHash(CodeKey{Template: "login", Mobile: suiteMobile}, "123456")
	l := Limit{Count: 5, Window: window}
	for i := 0; i < n; i += 3 {
		mobile := benchMobile(i)
		ip := fmt.Sprintf("%d.%d.%d.%d", 10+i>>24&0xff, i>>16&0xff, i>>8&0xff, i&0xff)
		if err := s.PutCode(ctx, CodeKey{Template: "login", Mobile: mobile}, hash, 5, window); err != nil {
			tb.Fatal(err)
		}
		d, err := s.Allow(ctx, "login", []LimitTake{{Kind: LimitMobile, Key: mobile, Limit: l}, {Kind: LimitIP, Key: ip, Limit: l}})
		if err != nil || !d.Allowed {
			tb.Fatalf("send %d: expected allowed, got %+v (%v)", i/3, d, err)
		}
	}
	return s
}

// BenchmarkMemoryStoreFlood is one send's limits (Allow of a new mobile and IP) with a
// million entries in the memory store: live (room left), or expired in a full store, where
// the write must sweep to make room. Run with
// `go test -bench MemoryStoreFlood -run '^$' ./caddyotp/`.
func BenchmarkMemoryStoreFlood(b *testing.B) {
	const n = 999_999
	for _, tc := range []struct {
		name    string
		bound   int
		advance time.Duration
	}{
		{"live", 100_000_000, 0},
		{"expired-full", n, 2 * time.Hour},
	} {
		b.Run(tc.name, func(b *testing.B) {
			clock := &fakeClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
			s := floodStore(b, clock, tc.bound, n, time.Hour)
			clock.add(tc.advance)
			ctx := context.Background()
			l := Limit{Count: 5, Window: time.Hour}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				mobile, ip := benchMobile(n+i), fmt.Sprintf("ip-%d", i)
				d, err := s.Allow(ctx, "login", []LimitTake{{Kind: LimitMobile, Key: mobile, Limit: l}, {Kind: LimitIP, Key: ip, Limit: l}})
				if err != nil || !d.Allowed {
					b.Fatalf("expected allowed, got %+v (%v)", d, err)
				}
			}
			b.ReportMetric(float64(s.state.entries.Used()), "entries")
		})
	}
}

// BenchmarkMemoryStoreEntryBytes measures the heap a memory store entry costs, over a
// million entries of a flood (codes, mobile and ip limits). Run with -benchtime=1x.
func BenchmarkMemoryStoreEntryBytes(b *testing.B) {
	const n = 999_999
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		before := heapInUse()
		clock := &fakeClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
		s := floodStore(b, clock, 100_000_000, n, time.Hour)
		after := heapInUse()
		b.ReportMetric(float64(after-before)/float64(s.state.entries.Used()), "bytes/entry")
		runtime.KeepAlive(s)
		b.StartTimer()
	}
}

// heapInUse is the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
