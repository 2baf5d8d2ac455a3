package storetest

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/caddyotp"
)

// Benchmark measures the store operations that one send or one verification costs, each as
// a sub-benchmark of b: run it from a store's own benchmark, as in
//
//	func BenchmarkStore(b *testing.B) { storetest.Benchmark(b, newStore) }
//
// newStore makes an empty store for each sub-benchmark.
func Benchmark(b *testing.B, newStore func(b *testing.B) caddyotp.Store) {
	b.Run("PutCode", func(b *testing.B) {
		s := newStore(b)
		ctx := context.Background()
		hash := CodeHash(caddyotp.CodeKey{Template: "t", Mobile: Mobile}, "123456")
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if err := s.PutCode(ctx, caddyotp.CodeKey{Template: "t", Mobile: BenchMobile(i % 10_000)}, hash, 5, time.Minute); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("CheckCodeRight", func(b *testing.B) {
		s := newStore(b)
		ctx := context.Background()
		k := caddyotp.CodeKey{Template: "t", Mobile: Mobile}
		hash := CodeHash(k, "123456")
		b.ReportAllocs()
		for b.Loop() {
			// The put is part of the loop: a right code consumes the code.
			if err := s.PutCode(ctx, k, hash, 5, time.Minute); err != nil {
				b.Fatal(err)
			}
			res, err := s.CheckCode(ctx, k, k.Template, hash, LenientPolicy)
			if err != nil || res.Outcome != caddyotp.OutcomeVerified {
				b.Fatalf("expected verified, got %v (%v)", res.Outcome, err)
			}
		}
	})
	b.Run("CheckCodeWrong", func(b *testing.B) {
		s := newStore(b)
		ctx := context.Background()
		const mobiles = 10_000
		for i := range mobiles {
			k := caddyotp.CodeKey{Template: "t", Mobile: BenchMobile(i)}
			if err := s.PutCode(ctx, k, CodeHash(k, "123456"), 10, 10*time.Minute); err != nil {
				b.Fatal(err)
			}
		}
		wrong := CodeHash(caddyotp.CodeKey{Template: "t", Mobile: Mobile}, "654321")
		policy := caddyotp.LockPolicy{After: 100, Base: time.Minute, Max: time.Hour, Window: time.Hour}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			// Each mobile takes at most a few wrong codes, so most answers are "incorrect";
			// past the code's attempts it is "expired", which costs the same script.
			if _, err := s.CheckCode(ctx, caddyotp.CodeKey{Template: "t", Mobile: BenchMobile(i % mobiles)}, "t", wrong, policy); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ClaimSend", func(b *testing.B) {
		s := newStore(b)
		ctx := context.Background()
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			d, err := s.ClaimSend(ctx, caddyotp.CodeKey{Template: "t", Mobile: BenchMobile(i)}, "t", "n"+strconv.Itoa(i), time.Minute)
			if err != nil || !d.Allowed {
				b.Fatalf("expected allowed, got %+v (%v)", d, err)
			}
		}
	})
	b.Run("Allow", func(b *testing.B) {
		s := newStore(b)
		ctx := context.Background()
		l := caddyotp.Limit{Count: 1_000_000_000, Window: time.Hour}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := s.Allow(ctx, "t", []caddyotp.LimitTake{{Kind: caddyotp.LimitIP, Key: "127.0.0." + strconv.Itoa(i%256), Limit: l}}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("AppendLedgerApplyReport", func(b *testing.B) {
		// A send's ledger entry and its delivery report: each report applies once, so every
		// round appends its own entry (the ledger is full after LedgerKeep rounds, and each
		// append trims one).
		s := newStore(b)
		ctx := context.Background()
		caps := caddyotp.BudgetCaps{DailyMicroUSD: 1 << 60, MonthlyMicroUSD: 1 << 61}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			e := LedgerEntry("t", i)
			if _, err := s.ReserveBudget(ctx, e.Time, estimateMicroUSD, caps); err != nil {
				b.Fatal(err)
			}
			if err := s.AppendLedger(ctx, e); err != nil {
				b.Fatal(err)
			}
			out, _, err := s.ApplyReport(ctx, "t", Delivered(e.MessageID))
			if err != nil || out != caddyotp.ReportApplied {
				b.Fatalf("expected applied, got %s (%v)", out, err)
			}
		}
	})
	// A send's ledger entry, counted in the daily counts (status sent) and not (status
	// failed): the same append, with and without the counters' share of it.
	for _, status := range []string{"sent", "failed"} {
		name := map[string]string{"sent": "AppendLedgerCounted", "failed": "AppendLedgerUncounted"}[status]
		b.Run(name, func(b *testing.B) {
			s := newStore(b)
			ctx := context.Background()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				e := LedgerEntry("t", i)
				e.Status = status
				if err := s.AppendLedger(ctx, e); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("CountVerified", func(b *testing.B) {
		s := newStore(b)
		ctx := context.Background()
		at := time.Now()
		b.ReportAllocs()
		for b.Loop() {
			if err := s.CountVerified(ctx, "t", "GB", at); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("GuardCountSend", func(b *testing.B) {
		// What the pumping guard adds to a send: a count under the country and a prefix of
		// many, each judged (and, for prefixes that reach the mark, blocked once).
		s := newStore(b)
		ctx := context.Background()
		at := time.Now()
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			keys := []string{"country:GB", fmt.Sprintf("prefix:+447400%03d", i%1000)}
			if _, err := s.GuardCount(ctx, "t", keys, false, GuardPolicy, at); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("GuardBlocked", func(b *testing.B) {
		// What the guard adds before a send: whether the destination is blocked.
		s := newStore(b)
		ctx := context.Background()
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := s.GuardBlocked(ctx, "t", []string{"country:GB", fmt.Sprintf("prefix:+447400%03d", i%1000)}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Device", func(b *testing.B) {
		// What a lapsed gate session with a device cookie costs: the device looked up in
		// its realm and mobile, which hold a few others.
		s := newStore(b)
		ctx := context.Background()
		now := time.Now()
		const mobiles, perMobile = 100, 5
		for m := range mobiles {
			for n := range perMobile {
				if err := s.PutDevice(ctx, NewDevice("t", BenchMobile(m), m*perMobile+n, now, 24*time.Hour)); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			m := i % mobiles
			_, ok, err := s.Device(ctx, "t", BenchMobile(m), DeviceID(m*perMobile+i%perMobile), now)
			if err != nil || !ok {
				b.Fatalf("expected the device on record, got %t (%v)", ok, err)
			}
		}
	})
	b.Run("DailyCounts30", func(b *testing.B) {
		// sms-stats' default: 30 days, each with counts of a few countries
		s := newStore(b)
		ctx := context.Background()
		to := time.Now()
		from := to.AddDate(0, 0, -29)
		for d := range 30 {
			for _, country := range []string{"GB", "US", "FR"} {
				if err := s.CountVerified(ctx, "t", country, from.AddDate(0, 0, d)); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportAllocs()
		for b.Loop() {
			counts, err := s.DailyCounts(ctx, "t", from, to)
			if err != nil || len(counts) != 90 {
				b.Fatalf("expected 90 counts, got %d (%v)", len(counts), err)
			}
		}
	})
	b.Run("ReserveBudget", func(b *testing.B) {
		s := newStore(b)
		ctx := context.Background()
		caps := caddyotp.BudgetCaps{DailyMicroUSD: 1 << 60, MonthlyMicroUSD: 1 << 61}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.ReserveBudget(ctx, time.Now(), 46_300, caps); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchMobile is the i-th of a range of distinct valid UK mobiles.
func BenchMobile(i int) string {
	return fmt.Sprintf("+4474%08d", i%100_000_000)
}
