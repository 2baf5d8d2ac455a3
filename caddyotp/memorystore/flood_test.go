package memorystore

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/storetest"
	"github.com/caddyotp/caddyotp/internal/testcaddy"
)

// floodStore is a memory store of max_entries bound, on clock, holding n entries as a
// flood of sends leaves them: for every send to a new mobile from a new IP, its code and
// its mobile and ip limits (each window long).
func floodStore(tb testing.TB, clock *fakeClock, bound, n int, window time.Duration) *MemoryStore {
	tb.Helper()
	s := &MemoryStore{now: clock.now, stateKey: fmt.Sprintf("bench:%s:%d", tb.Name(), n), MaxEntries: bound}
	testcaddy.Provision(tb, s)
	ctx := context.Background()
	hash := storetest.CodeHash(caddyotp.CodeKey{Template: "login", Mobile: storetest.Mobile}, "123456")
	l := caddyotp.Limit{Count: 5, Window: window}
	for i := 0; i < n; i += 3 {
		mobile := storetest.BenchMobile(i)
		ip := fmt.Sprintf("%d.%d.%d.%d", 10+i>>24&0xff, i>>16&0xff, i>>8&0xff, i&0xff)
		if err := s.PutCode(ctx, caddyotp.CodeKey{Template: "login", Mobile: mobile}, hash, 5, window); err != nil {
			tb.Fatal(err)
		}
		d, err := s.Allow(ctx, "login", []caddyotp.LimitTake{{Kind: caddyotp.LimitMobile, Key: mobile, Limit: l}, {Kind: caddyotp.LimitIP, Key: ip, Limit: l}})
		if err != nil || !d.Allowed {
			tb.Fatalf("send %d: expected allowed, got %+v (%v)", i/3, d, err)
		}
	}
	return s
}

// BenchmarkMemoryStoreFlood is one send's limits (Allow of a new mobile and IP) with a
// million entries in the memory store: live (room left), or expired in a full store, where
// the write must sweep to make room. Run with
// `go test -bench MemoryStoreFlood -run '^$' ./caddyotp/memorystore/`.
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
			l := caddyotp.Limit{Count: 5, Window: time.Hour}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				mobile, ip := storetest.BenchMobile(n+i), fmt.Sprintf("ip-%d", i)
				d, err := s.Allow(ctx, "login", []caddyotp.LimitTake{{Kind: caddyotp.LimitMobile, Key: mobile, Limit: l}, {Kind: caddyotp.LimitIP, Key: ip, Limit: l}})
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

// BenchmarkStore is the store operations of one send or verification (storetest.Benchmark).
// Run with `go test -bench Store -run '^$' ./caddyotp/memorystore/`.
func BenchmarkStore(b *testing.B) {
	storetest.Benchmark(b, func(b *testing.B) caddyotp.Store {
		s := &MemoryStore{stateKey: "bench:" + b.Name()}
		testcaddy.Provision(b, s)
		return s
	})
}
