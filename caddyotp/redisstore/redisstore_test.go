package redisstore

import (
	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/storetest"

	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"

	"github.com/caddyotp/caddyotp/internal/redistest"
	"github.com/caddyotp/caddyotp/internal/testcaddy"
)

// newTestRedisStore provisions a RedisStore on srv with its own key prefix.
func newTestRedisStore(t *testing.T, addr, prefix string) *RedisStore {
	t.Helper()
	s := &RedisStore{Addresses: []string{addr}, KeyPrefix: prefix}
	testcaddy.Provision(t, s)
	return s
}

func TestRedisStore(t *testing.T) {
	srv := redistest.Start(t)
	var n atomic.Int32
	storetest.Run(t, func(t *testing.T) caddyotp.Store {
		return newTestRedisStore(t, srv.Addr(), fmt.Sprintf("t%d:", n.Add(1)))
	})
}

func TestRedisStoreModule(t *testing.T) {
	info := RedisStore{}.CaddyModule()
	if info.ID != "otp.stores.redis" {
		t.Fatalf("expected otp.stores.redis, got %s", info.ID)
	}
	if _, ok := info.New().(*RedisStore); !ok {
		t.Fatalf("expected *RedisStore, got %T", info.New())
	}
}

func TestRedisKeyNames(t *testing.T) {
	k := redisKeys{prefix: "otp:"}
	ck := caddyotp.CodeKey{Template: "login", Mobile: "+447400123456"}
	at := time.Date(2026, 11, 26, 23, 30, 0, 0, time.FixedZone("X", -3600)) // 2026-11-27 UTC
	for _, c := range []struct{ got, want string }{
		{k.code(ck), "otp:{+447400123456}:code:login"},
		{k.cooldown(ck), "otp:{+447400123456}:cool:login"},
		{k.failures("staff", ck.Mobile), "otp:{+447400123456}:fail:staff"},
		{k.lock("staff", ck.Mobile), "otp:{+447400123456}:lock:staff"},
		{k.locks("staff", ck.Mobile), "otp:{+447400123456}:locks:staff"},
		{k.devices("login", ck.Mobile), "otp:{+447400123456}:device:login"},
		{k.limit("login", caddyotp.LimitTake{Kind: caddyotp.LimitMobile, Key: "+447400123456"}), "otp:{lim:login}:mobile:+447400123456"},
		{k.limit("login", caddyotp.LimitTake{Kind: caddyotp.LimitIP, Key: "2001:db8::/64"}), "otp:{lim:login}:ip:2001:db8::/64"},
		{k.limit("login", caddyotp.LimitTake{Kind: caddyotp.LimitTemplate}), "otp:{lim:login}:template:"},
		{k.budgetDay(at), "otp:{budget}:d:2026-11-27"},
		{k.budgetMonth(at), "otp:{budget}:m:2026-11"},
		{k.ledger("login"), "otp:{ledger:login}"},
		{k.ledgerIDs("login"), "otp:{ledger:login}:ids"},
		{k.ledgerReports("login"), "otp:{ledger:login}:reports"},
		{k.statsDay("login", caddyotp.StatsDate(at)), "otp:{ledger:login}:day:2026-11-27"},
		{k.statsDays("login"), "otp:{ledger:login}:day:"},
		{countField("GB", counterSent), "GB:sent"},
		{k.lease("logs:a}b"), "otp:{readers}:lease:logs:a}b"},
		{k.cursor("logs:a}b"), "otp:{readers}:cursor:logs:a}b"},
		{k.guardWindow("login", 493128), "otp:{guard:login}:w:493128"},
		{guardField(counterSent, "country:GB"), "sent:country:GB"},
		{guardField(counterVerified, "prefix:+4474001"), "verified:prefix:+4474001"},
		{k.guardBlocks("login"), "otp:{guard:login}:blocks"},
		{k.revokedSessions(), "otp:{sessions}:revoked"},
		{k.revocations(), "otp:revoked"},
	} {
		if c.got != c.want {
			t.Errorf("expected %s, got %s", c.want, c.got)
		}
	}
}

// exerciseRedisStore touches every kind of key: codes (with a message id), a lock,
// cooldowns, limits, the budget, the ledger with a report, the daily counts (of the
// ledger's day and of today), a lease, a cursor, and the pumping guard's counts (of the
// window of guardAt) and blocks, and a remembered device.
func exerciseRedisStore(t *testing.T, s caddyotp.Store, mobile, code string) {
	t.Helper()
	ctx := context.Background()
	p := caddyotp.LockPolicy{After: 2, Base: time.Minute, Max: time.Hour, Window: time.Hour}
	k := caddyotp.CodeKey{Template: "login", Mobile: mobile}
	storetest.Claim(t, s, k, "n1", time.Minute)
	storetest.PutCode(t, s, k, code, 5, time.Minute)
	storetest.PutCode(t, s, caddyotp.CodeKey{Template: "signup", Mobile: mobile}, code, 5, time.Minute)
	storetest.SetCodeMessage(t, s, k, code, "msg-1")
	storetest.CheckCode(t, s, k, "000000", p)
	storetest.CheckCode(t, s, k, "000001", p) // locks
	storetest.AllowAll(t, s, "login",
		caddyotp.LimitTake{Kind: caddyotp.LimitMobile, Key: mobile, Limit: caddyotp.Limit{Count: 5, Window: time.Hour}},
		caddyotp.LimitTake{Kind: caddyotp.LimitTemplate, Limit: caddyotp.Limit{Count: 100, Window: time.Hour}})
	storetest.Reserve(t, s, time.Now(), 46300, caddyotp.BudgetCaps{DailyMicroUSD: 25_000_000})
	storetest.AppendLedger(t, s, storetest.LedgerEntry("login", 1))
	storetest.ApplyReport(t, s, "login", storetest.Delivered("m-1"))
	storetest.CountVerified(t, s, "login", "GB", time.Now())
	if _, err := s.RecentLedger(ctx, "login", 10); err != nil {
		t.Fatalf("RecentLedger: expected no error, got %v", err)
	}
	storetest.TakeLease(t, s, "logs", "a", time.Minute)
	storetest.SetCursor(t, s, "logs", "c1")
	storetest.Revoke(t, s, storetest.RevocationID(1), time.Now().Add(time.Hour))
	for range 5 {
		storetest.GuardCount(t, s, "login", storetest.GuardKeysGB, false, exercisedGuard, guardAt)
	}
	storetest.GuardCount(t, s, "login", storetest.GuardKeysGB, true, exercisedGuard, guardAt)
	if d := storetest.GuardBlocked(t, s, "login", storetest.GuardKeysGB); d <= 0 {
		t.Fatalf("expected the guard's keys blocked, got %s", d)
	}
	storetest.PutDevice(t, s, storetest.NewDevice("login", mobile, 1, time.Now(), time.Hour))
}

// exercisedGuard blocks a destination from five sends; guardAt is when they are counted.
var (
	exercisedGuard = caddyotp.GuardPolicy{Window: time.Hour, MinSends: 5, MinConversion: 0.2, Block: time.Hour}
	guardAt        = time.Date(2030, 1, 1, 0, 10, 0, 0, time.UTC)
)

// dumpRedis returns every key with a printable form of its value.
func dumpRedis(t *testing.T, c *redis.Client) map[string]string {
	t.Helper()
	ctx := context.Background()
	keys, err := c.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatalf("KEYS: expected no error, got %v", err)
	}
	out := make(map[string]string)
	for _, key := range keys {
		typ := c.Type(ctx, key).Val()
		var v any
		switch typ {
		case "string":
			v, err = c.Get(ctx, key).Result()
		case "hash":
			v, err = c.HGetAll(ctx, key).Result()
		case "stream":
			v, err = c.XRange(ctx, key, "-", "+").Result()
		case "zset":
			v, err = c.ZRangeWithScores(ctx, key, 0, -1).Result()
		default:
			t.Fatalf("expected no %s keys, got %s", typ, key)
		}
		if err != nil {
			t.Fatalf("reading %s: expected no error, got %v", key, err)
		}
		out[key] = fmt.Sprintf("%v", v)
	}
	return out
}

func TestRedisStoreKeys(t *testing.T) {
	srv := redistest.Start(t)
	s := newTestRedisStore(t, srv.Addr(), "otp:")
	const mobile, code = "+447400123456", "048213"
	exerciseRedisStore(t, s, mobile, code)
	keys := dumpRedis(t, srv.Client())

	t.Run("never the plain code", func(t *testing.T) {
		for key, v := range keys {
			if strings.Contains(key, code) || strings.Contains(v, code) {
				t.Errorf("expected no plain code in %s, got %q", key, v)
			}
		}
	})

	t.Run("every key has a ttl", func(t *testing.T) {
		if len(keys) < 10 {
			t.Fatalf("expected at least 10 keys, got %d: %v", len(keys), keys)
		}
		for key := range keys {
			if ttl := srv.Client().PTTL(context.Background(), key).Val(); ttl <= 0 {
				t.Errorf("expected a ttl on %s, got %s", key, ttl)
			}
		}
	})

	t.Run("hash tags", func(t *testing.T) {
		want := map[string]string{
			"otp:{+447400123456}:code:login":                                           "+447400123456",
			"otp:{+447400123456}:code:signup":                                          "+447400123456",
			"otp:{+447400123456}:cool:login":                                           "+447400123456",
			"otp:{+447400123456}:fail:staff":                                           "+447400123456",
			"otp:{+447400123456}:lock:staff":                                           "+447400123456",
			"otp:{+447400123456}:locks:staff":                                          "+447400123456",
			"otp:{+447400123456}:device:login":                                         "+447400123456",
			"otp:{lim:login}:mobile:+447400123456":                                     "lim:login",
			"otp:{lim:login}:template:":                                                "lim:login",
			s.keys.budgetDay(time.Now()):                                               "budget",
			s.keys.budgetMonth(time.Now()):                                             "budget",
			"otp:{ledger:login}":                                                       "ledger:login",
			"otp:{ledger:login}:ids":                                                   "ledger:login",
			"otp:{ledger:login}:reports":                                               "ledger:login",
			"otp:{ledger:login}:day:2030-01-01":                                        "ledger:login",
			s.keys.statsDay("login", caddyotp.StatsDate(time.Now())):                   "ledger:login",
			"otp:{readers}:lease:logs":                                                 "readers",
			"otp:{readers}:cursor:logs":                                                "readers",
			"otp:{sessions}:revoked":                                                   "sessions",
			s.keys.guardWindow("login", caddyotp.GuardWindowIndex(guardAt, time.Hour)): "guard:login",
			"otp:{guard:login}:blocks":                                                 "guard:login",
		}
		for key, tag := range want {
			if _, ok := keys[key]; !ok {
				t.Errorf("expected key %s, got none", key)
			}
			if got := hashTag(key); got != tag {
				t.Errorf("expected hash tag %s in %s, got %s", tag, key, got)
			}
		}
		if len(keys) != len(want) {
			t.Errorf("expected %d keys, got %d: %v", len(want), len(keys), keys)
		}
	})

	t.Run("hash stored raw", func(t *testing.T) {
		k := caddyotp.CodeKey{Template: "signup", Mobile: mobile}
		got := srv.Client().HGet(context.Background(), s.keys.code(k), "h").Val()
		if got != string(storetest.CodeHash(k, code)) {
			t.Fatalf("expected the raw 32-byte hash, got %d bytes", len(got))
		}
	})
}

// hashTag is the part of key that Redis Cluster hashes.
func hashTag(key string) string {
	i := strings.IndexByte(key, '{')
	if i < 0 {
		return key
	}
	j := strings.IndexByte(key[i+1:], '}')
	if j <= 0 {
		return key
	}
	return key[i+1 : i+1+j]
}

func TestRedisStoreScriptFlush(t *testing.T) {
	srv := redistest.Start(t)
	s := newTestRedisStore(t, srv.Addr(), "otp:")
	k := caddyotp.CodeKey{Template: "login", Mobile: storetest.Mobile}
	storetest.PutCode(t, s, k, "111111", 5, time.Minute)
	if err := srv.Client().ScriptFlush(context.Background()).Err(); err != nil {
		t.Fatalf("SCRIPT FLUSH: expected no error, got %v", err)
	}
	storetest.ExpectOutcome(t, storetest.CheckCode(t, s, k, "111111", storetest.LenientPolicy), caddyotp.OutcomeVerified, 0)
	exerciseRedisStore(t, s, storetest.Mobile, "222222")
}

// storeCalls calls every Store method and returns the errors.
func storeCalls(s caddyotp.Store) map[string]error {
	ctx := context.Background()
	k := caddyotp.CodeKey{Template: "login", Mobile: storetest.Mobile}
	h := storetest.CodeHash(k, "111111")
	g := s.(caddyotp.GuardStore)
	return map[string]error{
		"ClaimSend":     storetest.Second(s.ClaimSend(ctx, k, k.Template, "n", time.Minute)),
		"ReleaseSend":   s.ReleaseSend(ctx, k, "n"),
		"PutCode":       s.PutCode(ctx, k, h, 5, time.Minute),
		"DropCode":      s.DropCode(ctx, k, h),
		"CheckCode":     storetest.Second(s.CheckCode(ctx, k, k.Template, h, storetest.LenientPolicy)),
		"Allow":         storetest.Second(s.Allow(ctx, "t", []caddyotp.LimitTake{{Kind: caddyotp.LimitIP, Key: "k", Limit: caddyotp.Limit{Count: 1, Window: time.Minute}}})),
		"ReserveBudget": storetest.Second(s.ReserveBudget(ctx, time.Now(), 1, caddyotp.BudgetCaps{})),
		"ReleaseBudget": s.ReleaseBudget(ctx, time.Now(), 1),
		"AppendLedger":  s.AppendLedger(ctx, storetest.LedgerEntry("login", 1)),
		"RecentLedger":  storetest.Second(s.RecentLedger(ctx, "login", 1)),
		"RevokeSession": s.RevokeSession(ctx, storetest.RevocationID(9), time.Now().Add(time.Hour)),
		"ApplyReport": func() error {
			_, _, err := s.ApplyReport(ctx, "login", storetest.Delivered("m-1"))
			return err
		}(),
		"SetCodeMessage": s.SetCodeMessage(ctx, k, h, "msg-1"),
		"TakeLease":      storetest.Second(s.TakeLease(ctx, "logs", "a", time.Minute)),
		"Cursor":         storetest.Second(s.Cursor(ctx, "logs")),
		"SetCursor":      s.SetCursor(ctx, "logs", "c1"),
		"CountVerified":  s.CountVerified(ctx, "login", "GB", time.Now()),
		"DailyCounts":    storetest.Second(s.DailyCounts(ctx, "login", time.Now().Add(-24*time.Hour), time.Now())),
		"BudgetSpent": func() error {
			_, _, err := s.BudgetSpent(ctx, time.Now())
			return err
		}(),
		"GuardCount":   storetest.Second(g.GuardCount(ctx, "login", storetest.GuardKeysGB, false, exercisedGuard, time.Now())),
		"GuardBlocked": storetest.Second(g.GuardBlocked(ctx, "login", storetest.GuardKeysGB)),
		"GuardBlocks":  storetest.Second(g.GuardBlocks(ctx, "login")),
		"PutDevice":    s.PutDevice(ctx, storetest.NewDevice("login", storetest.Mobile, 1, time.Now(), time.Hour)),
		"Device": func() error {
			_, _, err := s.Device(ctx, "login", storetest.Mobile, storetest.DeviceID(1), time.Now())
			return err
		}(),
		"Devices":       storetest.Second(s.Devices(ctx, "login", storetest.Mobile, time.Now())),
		"ForgetDevice":  s.ForgetDevice(ctx, "login", storetest.Mobile, storetest.DeviceID(1)),
		"ForgetDevices": storetest.Second(s.ForgetDevices(ctx, "login", storetest.Mobile, time.Now())),
	}
}

func TestRedisStoreDownAndBack(t *testing.T) {
	srv := redistest.Start(t)
	s := newTestRedisStore(t, srv.Addr(), "otp:")
	exerciseRedisStore(t, s, storetest.Mobile, "111111") // pooled connections and loaded scripts

	srv.Stop()
	start := time.Now()
	for name, err := range storeCalls(s) {
		if !errors.Is(err, caddyotp.ErrStoreUnavailable) {
			t.Errorf("%s: expected ErrStoreUnavailable, got %v", name, err)
		}
	}
	if took := time.Since(start); took > time.Duration(s.ReadTimeout) {
		t.Errorf("expected every call to fail within the read timeout %s, took %s", time.Duration(s.ReadTimeout), took)
	}

	// back, empty and without the scripts: the store recovers by itself
	srv.Restart()
	var errs map[string]error
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		errs = storeCalls(s)
		ok := true
		for _, err := range errs {
			ok = ok && err == nil
		}
		if ok {
			return
		}
	}
	t.Fatalf("expected the store to recover, got %v", errs)
}

// TestRedisStoreSilentServer: a Redis that accepts connections and never answers fails
// closed past the read timeout.
func TestRedisStoreSilentServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: expected no error, got %v", err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	s := &RedisStore{
		Addresses:    []string{l.Addr().String()},
		ReadTimeout:  caddy.Duration(200 * time.Millisecond),
		WriteTimeout: caddy.Duration(200 * time.Millisecond),
	}
	testcaddy.Provision(t, s)
	start := time.Now()
	_, err = s.CheckCode(context.Background(), caddyotp.CodeKey{Template: "login", Mobile: storetest.Mobile}, "login", []byte("x"), storetest.LenientPolicy)
	if !errors.Is(err, caddyotp.ErrStoreUnavailable) {
		t.Fatalf("expected ErrStoreUnavailable, got %v", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("expected a failure within about the read timeout, took %s", took)
	}
}

// TestRedisStoreNonsense: keys of the wrong type or content are the store not answering
// sensibly, never a verdict.
func TestRedisStoreNonsense(t *testing.T) {
	srv := redistest.Start(t)
	s := newTestRedisStore(t, srv.Addr(), "otp:")
	c := srv.Client()
	ctx := context.Background()
	k := caddyotp.CodeKey{Template: "login", Mobile: storetest.Mobile}
	if err := c.Set(ctx, s.keys.code(k), "not a hash", time.Minute).Err(); err != nil {
		t.Fatalf("SET: expected no error, got %v", err)
	}
	if _, err := s.CheckCode(ctx, k, k.Template, storetest.CodeHash(k, "111111"), storetest.LenientPolicy); !errors.Is(err, caddyotp.ErrStoreUnavailable) {
		t.Fatalf("expected ErrStoreUnavailable, got %v", err)
	}
	if err := c.XAdd(ctx, &redis.XAddArgs{Stream: s.keys.ledger("login"), Values: []string{"e", "{nonsense"}}).Err(); err != nil {
		t.Fatalf("XADD: expected no error, got %v", err)
	}
	if _, err := s.RecentLedger(ctx, "login", 10); !errors.Is(err, caddyotp.ErrStoreUnavailable) {
		t.Fatalf("expected ErrStoreUnavailable, got %v", err)
	}
}

func TestRedisStoreProvision(t *testing.T) {
	t.Run("defaults and no network", func(t *testing.T) {
		s := &RedisStore{}
		testcaddy.Provision(t, s) // nothing listens on 127.0.0.1:6379 in tests, or it is not touched
		if got := strings.Join(s.Addresses, ","); got != "127.0.0.1:6379" {
			t.Errorf("expected 127.0.0.1:6379, got %s", got)
		}
		if s.KeyPrefix != "otp:" || s.mode != "single" {
			t.Errorf("expected prefix otp: in single mode, got %q in %s", s.KeyPrefix, s.mode)
		}
		if time.Duration(s.DialTimeout) != 2*time.Second || time.Duration(s.ReadTimeout) != time.Second || time.Duration(s.WriteTimeout) != time.Second {
			t.Errorf("expected timeouts 2s/1s/1s, got %s/%s/%s",
				time.Duration(s.DialTimeout), time.Duration(s.ReadTimeout), time.Duration(s.WriteTimeout))
		}
	})

	t.Run("env placeholders", func(t *testing.T) {
		srv := redistest.Start(t)
		t.Setenv("CADDYOTP_TEST_REDIS_ADDR", srv.Addr())
		t.Setenv("CADDYOTP_TEST_REDIS_PREFIX", "envtest:")
		s := &RedisStore{Addresses: []string{"{env.CADDYOTP_TEST_REDIS_ADDR}"}, KeyPrefix: "{env.CADDYOTP_TEST_REDIS_PREFIX}"}
		testcaddy.Provision(t, s)
		if s.Addresses[0] != srv.Addr() || s.KeyPrefix != "envtest:" {
			t.Fatalf("expected %s and envtest:, got %v and %s", srv.Addr(), s.Addresses, s.KeyPrefix)
		}
		storetest.PutCode(t, s, caddyotp.CodeKey{Template: "login", Mobile: storetest.Mobile}, "111111", 5, time.Minute)
		if n := srv.Client().Exists(context.Background(), "envtest:{+447400123456}:code:login").Val(); n != 1 {
			t.Fatalf("expected the code under the prefix from the environment, got %d keys", n)
		}
	})

	modes := []struct {
		name string
		s    RedisStore
		mode string
	}{
		{"one address", RedisStore{Addresses: []string{"127.0.0.1:1"}}, "single"},
		{"several addresses", RedisStore{Addresses: []string{"127.0.0.1:1", "127.0.0.1:2"}}, "cluster"},
		{"addresses in one entry", RedisStore{Addresses: []string{"127.0.0.1:1, 127.0.0.1:2"}}, "cluster"},
		{"master name", RedisStore{Addresses: []string{"127.0.0.1:1", "127.0.0.1:2"}, MasterName: "mymaster"}, "sentinel"},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			s := m.s
			testcaddy.Provision(t, &s)
			if s.mode != m.mode {
				t.Fatalf("expected mode %s, got %s", m.mode, s.mode)
			}
		})
	}

	bad := []struct {
		name string
		s    RedisStore
		want string
	}{
		{"negative db", RedisStore{DB: -1}, "db"},
		{"db with cluster", RedisStore{Addresses: []string{"a:1", "b:1"}, DB: 2}, "db"},
		{"brace in prefix", RedisStore{KeyPrefix: "otp{x}:"}, "key_prefix"},
		{"negative timeout", RedisStore{ReadTimeout: -1}, "read_timeout"},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) { expectProvisionFails(t, b.s, b.want) })
	}
}

// expectProvisionFails provisions s and expects an error containing want, then a clean
// Cleanup (which must be safe after a half-done Provision).
func expectProvisionFails(t *testing.T, s RedisStore, want string) {
	t.Helper()
	err := s.Provision(testcaddy.Context(t))
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("expected an error naming %s, got %v", want, err)
	}
	if err := s.Cleanup(); err != nil {
		t.Fatalf("Cleanup after a failed Provision: expected no error, got %v", err)
	}
}

func TestRedisStoreSharedClient(t *testing.T) {
	a := &RedisStore{Addresses: []string{"127.0.0.1:1"}, KeyPrefix: "a:"}
	b := &RedisStore{Addresses: []string{"127.0.0.1:1"}, KeyPrefix: "b:"}
	other := &RedisStore{Addresses: []string{"127.0.0.1:1"}, Password: "x"}
	ctx := testcaddy.Context(t)
	for _, s := range []*RedisStore{a, b, other} {
		if err := s.Provision(ctx); err != nil {
			t.Fatalf("Provision: expected no error, got %v", err)
		}
	}
	if a.client != b.client {
		t.Error("expected stores with one connection identity to share a client")
	}
	if a.client == other.client {
		t.Error("expected another password to get another client")
	}
	key := a.poolKey
	if n, _ := redisClients.References(key); n != 2 {
		t.Fatalf("expected 2 references, got %d", n)
	}
	for _, s := range []*RedisStore{a, b, other} {
		if err := s.Cleanup(); err != nil {
			t.Fatalf("Cleanup: expected no error, got %v", err)
		}
	}
	if _, ok := redisClients.References(key); ok {
		t.Fatal("expected the client to be released after the last cleanup")
	}
}

func TestRedisStoreInvalidArguments(t *testing.T) {
	s := &RedisStore{Addresses: []string{"127.0.0.1:1"}}
	testcaddy.Provision(t, s)
	storetest.InvalidArguments(t, s) // refused before any I/O
}

// TestRedisStoreRevocationTTL: the set lives at least as long as its latest revocation,
// and drops the revocations that have ended.
func TestRedisStoreRevocationTTL(t *testing.T) {
	srv := redistest.Start(t)
	s := newTestRedisStore(t, srv.Addr(), "otp:")
	c, ctx, key := srv.Client(), context.Background(), s.keys.revokedSessions()

	storetest.Revoke(t, s, storetest.RevocationID(1), time.Now().Add(12*time.Hour))
	storetest.Revoke(t, s, storetest.RevocationID(2), time.Now().Add(time.Hour))
	if ttl := c.PTTL(ctx, key).Val(); ttl < 12*time.Hour || ttl > 12*time.Hour+revocationSkew {
		t.Fatalf("expected a ttl of 12h to 12h+%s, got %s", revocationSkew, ttl)
	}

	// an entry whose end is past (by more than the skew allowed) goes with the next write
	old := time.Now().Add(-2 * revocationSkew).UnixMilli()
	if err := c.ZAdd(ctx, key, redis.Z{Score: float64(old), Member: storetest.RevocationID(3)}).Err(); err != nil {
		t.Fatalf("ZADD: expected no error, got %v", err)
	}
	storetest.Revoke(t, s, storetest.RevocationID(4), time.Now().Add(time.Minute))
	members := c.ZRange(ctx, key, 0, -1).Val()
	if strings.Join(members, ",") != strings.Join([]string{storetest.RevocationID(4), storetest.RevocationID(2), storetest.RevocationID(1)}, ",") {
		t.Fatalf("expected ids 4, 2 and 1 by end, got %v", members)
	}
	if ttl := c.PTTL(ctx, key).Val(); ttl < 12*time.Hour-time.Minute {
		t.Fatalf("expected the ttl to follow the latest revocation, got %s", ttl)
	}
}

// startRedisFeed provisions a store on addr and watches it until healthy.
func startRedisFeed(t *testing.T, addr string) (*RedisStore, *storetest.Feed) {
	t.Helper()
	s := newTestRedisStore(t, addr, "otp:")
	f := storetest.Watch(t, s)
	f.UntilHealth(t, true, 3*time.Second)
	return s, f
}

// TestRedisStoreRevocationsDownAndBack: a Redis that goes away turns the feed unhealthy
// within a second; the feed comes back by itself. The restarted Redis is empty: it lost
// the revocations made before, which is what a Redis without persistence does.
func TestRedisStoreRevocationsDownAndBack(t *testing.T) {
	srv := redistest.Start(t)
	s, f := startRedisFeed(t, srv.Addr())

	srv.Stop()
	stopped := time.Now()
	f.UntilHealth(t, false, time.Second)
	t.Logf("health(false) %s after the stop", time.Since(stopped))
	if err := s.RevokeSession(context.Background(), storetest.RevocationID(1), time.Now().Add(time.Hour)); !errors.Is(err, caddyotp.ErrStoreUnavailable) {
		t.Fatalf("expected ErrStoreUnavailable while Redis is down, got %v", err)
	}

	time.Sleep(2 * time.Second) // let the backoff grow to its cap
	srv.Restart()
	restarted := time.Now()
	if revs := f.UntilHealth(t, true, 3*time.Second); len(revs) != 0 {
		t.Fatalf("expected no revocations from an empty Redis, got %v", revs)
	}
	t.Logf("health(true) %s after the restart", time.Since(restarted))

	id, until := storetest.RevocationID(2), time.Now().Add(time.Hour)
	storetest.Revoke(t, s, id, until)
	f.ExpectRevoked(t, id, until, time.Second)
}

// TestRedisStoreRevocationsReload: a revocation made while the feed was down comes when
// it is back, before health(true).
func TestRedisStoreRevocationsReload(t *testing.T) {
	srv := redistest.Start(t)
	s, f := startRedisFeed(t, srv.Addr())

	// Drop the feed's connection from the server side; Redis itself stays up.
	if err := srv.Client().ClientKillByFilter(context.Background(), "TYPE", "pubsub").Err(); err != nil {
		t.Fatalf("CLIENT KILL: expected no error, got %v", err)
	}
	f.UntilHealth(t, false, time.Second)
	id, until := storetest.RevocationID(1), time.Now().Add(time.Hour)
	storetest.Revoke(t, s, id, until) // the storetest.Feed may be back already: it comes either way
	f.ExpectRevoked(t, id, until, 3*time.Second)
}

// freezingProxy forwards TCP to a backend until frozen; then it holds every byte, as a
// network that silently drops packets would, and new connections get no answer.
type freezingProxy struct {
	l       net.Listener
	backend string
	frozen  atomic.Bool
}

func startFreezingProxy(t *testing.T, backend string) *freezingProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: expected no error, got %v", err)
	}
	p := &freezingProxy{l: l, backend: backend}
	var conns []net.Conn
	var mu sync.Mutex
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("tcp", backend)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, b)
			mu.Unlock()
			go p.pipe(b, c)
			go p.pipe(c, b)
		}
	}()
	return p
}

func (p *freezingProxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32*1024)
	for {
		n, err := src.Read(buf)
		for p.frozen.Load() {
			time.Sleep(10 * time.Millisecond)
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			dst.Close()
			return
		}
	}
}

// TestRedisStoreRevocationsSilent: a connection that stays open but carries nothing is
// noticed by the pings within a second.
func TestRedisStoreRevocationsSilent(t *testing.T) {
	srv := redistest.Start(t)
	p := startFreezingProxy(t, srv.Addr())
	s, f := startRedisFeed(t, p.l.Addr().String())

	p.frozen.Store(true)
	frozen := time.Now()
	f.UntilHealth(t, false, time.Second)
	t.Logf("health(false) %s after the network froze", time.Since(frozen))

	p.frozen.Store(false)
	thawed := time.Now()
	f.UntilHealth(t, true, 5*time.Second)
	t.Logf("health(true) %s after the network came back", time.Since(thawed))
	id, until := storetest.RevocationID(1), time.Now().Add(time.Hour)
	storetest.Revoke(t, s, id, until)
	f.ExpectRevoked(t, id, until, time.Second)
}

// TestRedisStoreRevocationsStop: no goroutine of the feed outlives its context, whether
// the feed was live or retrying.
func TestRedisStoreRevocationsStop(t *testing.T) {
	srv := redistest.Start(t)
	s := newTestRedisStore(t, srv.Addr(), "otp:")
	storetest.Revoke(t, s, storetest.RevocationID(1), time.Now().Add(time.Hour)) // the client's own goroutines, if any, start now
	before := runtime.NumGoroutine()

	f := storetest.Watch(t, s)
	f.UntilHealth(t, true, 3*time.Second)
	start := time.Now()
	f.Stop(t)
	t.Logf("live feed returned %s after its context ended", time.Since(start))

	srv.Stop()
	f = storetest.Watch(t, s) // retrying: Redis is down
	time.Sleep(500 * time.Millisecond)
	start = time.Now()
	f.Stop(t)
	t.Logf("retrying feed returned %s after its context ended", time.Since(start))

	var now int
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if now = runtime.NumGoroutine(); now <= before {
			return
		}
	}
	buf := make([]byte, 1<<20)
	t.Fatalf("expected at most %d goroutines, got %d:\n%s", before, now, buf[:runtime.Stack(buf, true)])
}

// TestRedisStoreRevocationsCluster: the script and the feed work on Redis Cluster (the
// announcement reaches a watcher subscribed through any node) and with Sentinel.
func TestRedisStoreRevocationsCluster(t *testing.T) {
	t.Run("cluster", func(t *testing.T) {
		c := redistest.StartCluster(t)
		s := &RedisStore{Addresses: c.Addrs(), KeyPrefix: "otp:"}
		testcaddy.Provision(t, s)
		storetest.Revoke(t, s, storetest.RevocationID(1), time.Now().Add(time.Hour))
		f := storetest.Watch(t, s)
		if revs := f.UntilHealth(t, true, 5*time.Second); len(revs) != 1 {
			t.Fatalf("expected one revocation, got %v", revs)
		}
		id, until := storetest.RevocationID(2), time.Now().Add(time.Hour)
		storetest.Revoke(t, s, id, until)
		f.ExpectRevoked(t, id, until, time.Second)
	})
	t.Run("sentinel", func(t *testing.T) {
		sn := redistest.StartSentinel(t)
		s := &RedisStore{Addresses: sn.SentinelAddrs(), MasterName: sn.MasterName(), KeyPrefix: "otp:"}
		testcaddy.Provision(t, s)
		f := storetest.Watch(t, s)
		f.UntilHealth(t, true, 5*time.Second)
		id, until := storetest.RevocationID(2), time.Now().Add(time.Hour)
		storetest.Revoke(t, s, id, until)
		f.ExpectRevoked(t, id, until, time.Second)
	})
}
