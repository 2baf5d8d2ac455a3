package redisstore

import (
	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/storetest"

	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/caddyotp/caddyotp/internal/redistest"
	"github.com/caddyotp/caddyotp/internal/testcaddy"
)

// The store suite against Redis Cluster and Sentinel. On Cluster it proves that every
// script touches the keys of one hash slot: Redis refuses a script over two slots with
// CROSSSLOT, even when the slots sit on one node.

func TestRedisClusterStore(t *testing.T) {
	start := time.Now()
	c := redistest.StartCluster(t)
	t.Logf("cluster started in %s", time.Since(start).Round(time.Millisecond))

	var n atomic.Int32
	storetest.Run(t, func(t *testing.T) caddyotp.Store {
		s := &RedisStore{Addresses: c.Addrs(), KeyPrefix: fmt.Sprintf("t%d:", n.Add(1))}
		testcaddy.Provision(t, s)
		if s.mode != "cluster" {
			t.Fatalf("expected cluster mode, got %s", s.mode)
		}
		return s
	})

	t.Run("one seed with cluster", func(t *testing.T) {
		t.Parallel()
		s := &RedisStore{Addresses: c.Addrs()[:1], Cluster: true, KeyPrefix: "seed:"}
		testcaddy.Provision(t, s)
		// Mobiles enough to land on every master: each needs a redirect from the seed.
		for i := range 12 {
			exerciseRedisStore(t, s, fmt.Sprintf("+4474001234%02d", i), "123456")
		}
		for _, node := range c.Nodes() {
			if got := node.Client().DBSize(context.Background()).Val(); got == 0 {
				t.Errorf("expected keys on %s, got none", node.Addr())
			}
		}
	})
}

func TestRedisSentinelStore(t *testing.T) {
	start := time.Now()
	sn := redistest.StartSentinel(t)
	t.Logf("sentinel setup started in %s", time.Since(start).Round(time.Millisecond))

	var n atomic.Int32
	storetest.Run(t, func(t *testing.T) caddyotp.Store {
		s := &RedisStore{
			Addresses:  sn.SentinelAddrs(),
			MasterName: sn.MasterName(),
			KeyPrefix:  fmt.Sprintf("t%d:", n.Add(1)),
		}
		testcaddy.Provision(t, s)
		if s.mode != "sentinel" {
			t.Fatalf("expected sentinel mode, got %s", s.mode)
		}
		return s
	})
}

// TestRedisSentinelStoreFailover: after the sentinel promotes the replica, the store
// finds the new primary by itself, and what was replicated before is still there.
func TestRedisSentinelStoreFailover(t *testing.T) {
	sn := redistest.StartSentinel(t)
	s := &RedisStore{Addresses: sn.SentinelAddrs(), MasterName: sn.MasterName(), KeyPrefix: "fo:"}
	testcaddy.Provision(t, s)
	ctx := context.Background()
	k := caddyotp.CodeKey{Template: "login", Mobile: storetest.Mobile}
	storetest.PutCode(t, s, k, "123456", 5, time.Minute)
	// The code must reach the replica before the failover, or the new primary lacks it.
	sn.WaitReplicated()

	old := sn.Master().Addr()
	start := time.Now()
	sn.Failover()
	t.Logf("failover done in %s", time.Since(start).Round(time.Millisecond))

	// Calls may fail closed while the client learns of the switch; then they work.
	start = time.Now()
	var res caddyotp.CheckResult
	for {
		var err error
		res, err = s.CheckCode(ctx, k, k.Template, storetest.CodeHash(k, "123456"), storetest.LenientPolicy)
		if err == nil {
			break
		}
		if time.Since(start) > 5*time.Second {
			t.Fatalf("expected the store to reach the new primary within 5s, got %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("store back after %s", time.Since(start).Round(time.Millisecond))
	storetest.ExpectOutcome(t, res, caddyotp.OutcomeVerified, 0)
	if sn.Master().Addr() == old {
		t.Fatalf("expected a new primary, got %s again", old)
	}
	exerciseRedisStore(t, s, storetest.Mobile, "654321")
}

func TestRedisStoreTLS(t *testing.T) {
	srv := redistest.StartTLS(t)
	full := RedisTLS{
		CAFile:     srv.CAFile,
		ServerName: redistest.TLSServerName,
		CertFile:   srv.ClientCertFile,
		KeyFile:    srv.ClientKeyFile,
	}
	cases := []struct {
		name string
		tls  func(c *RedisTLS)
		ok   bool
	}{
		{"ca, server name and client certificate", func(*RedisTLS) {}, true},
		{"server name missing", func(c *RedisTLS) { c.ServerName = "" }, false}, // the certificate has no IP
		{"wrong server name", func(c *RedisTLS) { c.ServerName = "other.test" }, false},
		{"system roots", func(c *RedisTLS) { c.CAFile = "" }, false},
		{"no client certificate", func(c *RedisTLS) { c.CertFile, c.KeyFile = "", "" }, false},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := full
			c.tls(&cfg)
			s := &RedisStore{Addresses: []string{srv.TLSAddr()}, TLS: &cfg, KeyPrefix: fmt.Sprintf("tls%d:", i)}
			testcaddy.Provision(t, s)
			k := caddyotp.CodeKey{Template: "login", Mobile: storetest.Mobile}
			err := s.PutCode(context.Background(), k, storetest.CodeHash(k, "123456"), 5, time.Minute)
			if c.ok {
				if err != nil {
					t.Fatalf("expected no error, got %v", err)
				}
				storetest.ExpectOutcome(t, storetest.CheckCode(t, s, k, "123456", storetest.LenientPolicy), caddyotp.OutcomeVerified, 0)
				return
			}
			if !errors.Is(err, caddyotp.ErrStoreUnavailable) {
				t.Fatalf("expected ErrStoreUnavailable, got %v", err)
			}
			t.Logf("refused as expected: %v", err)
		})
	}

	t.Run("placeholders in file names", func(t *testing.T) {
		t.Setenv("CADDYOTP_TEST_REDIS_CA", srv.CAFile)
		cfg := full
		cfg.CAFile = "{env.CADDYOTP_TEST_REDIS_CA}"
		s := &RedisStore{Addresses: []string{srv.TLSAddr()}, TLS: &cfg, KeyPrefix: "tlsenv:"}
		testcaddy.Provision(t, s)
		if s.TLS.CAFile != srv.CAFile {
			t.Fatalf("expected %s, got %s", srv.CAFile, s.TLS.CAFile)
		}
		storetest.PutCode(t, s, caddyotp.CodeKey{Template: "login", Mobile: storetest.Mobile}, "123456", 5, time.Minute)
	})
}

// TestRedisStoreSettings covers the Cluster, Sentinel, TLS and pool settings' checks and
// the client's identity; the basic ones are in store_redis_test.go.
func TestRedisStoreSettings(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := []struct {
		name string
		s    RedisStore
		want string
	}{
		{"cluster with master_name", RedisStore{Cluster: true, MasterName: "m"}, "cluster and master_name"},
		{"sentinel_password alone", RedisStore{SentinelPassword: "x"}, "sentinel_password needs master_name"},
		{"sentinel_username alone", RedisStore{SentinelUsername: "x"}, "sentinel_username needs master_name"},
		{"db with cluster flag", RedisStore{Cluster: true, DB: 1}, "db must be 0"},
		{"negative pool_size", RedisStore{PoolSize: -1}, "pool_size"},
		{"cert_file without key_file", RedisStore{TLS: &RedisTLS{CertFile: notPEM}}, "cert_file and key_file"},
		{"key_file without cert_file", RedisStore{TLS: &RedisTLS{KeyFile: notPEM}}, "cert_file and key_file"},
		{"missing ca_file", RedisStore{TLS: &RedisTLS{CAFile: filepath.Join(dir, "missing.pem")}}, "ca_file"},
		{"ca_file not PEM", RedisStore{TLS: &RedisTLS{CAFile: notPEM}}, "no PEM certificate"},
		{"bad client pair", RedisStore{TLS: &RedisTLS{CertFile: notPEM, KeyFile: notPEM}}, "cert_file and key_file"},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) { expectProvisionFails(t, b.s, b.want) })
	}

	t.Run("one address with cluster", func(t *testing.T) {
		s := &RedisStore{Addresses: []string{"127.0.0.1:1"}, Cluster: true}
		testcaddy.Provision(t, s)
		if _, ok := s.client.(*redis.ClusterClient); s.mode != "cluster" || !ok {
			t.Fatalf("expected a cluster client in cluster mode, got %T in %s", s.client, s.mode)
		}
	})

	// Every setting that changes the connection gives another client; equal ones share.
	t.Run("identity", func(t *testing.T) {
		base := RedisStore{Addresses: []string{"127.0.0.1:1", "127.0.0.1:2"}, MasterName: "m"}
		variants := []func(s *RedisStore){
			func(s *RedisStore) { s.Username = "u" },
			func(s *RedisStore) { s.SentinelUsername = "u" },
			func(s *RedisStore) { s.SentinelPassword = "p" },
			func(s *RedisStore) { s.PoolSize = 3 },
			func(s *RedisStore) { s.TLS = &RedisTLS{} },
			func(s *RedisStore) { s.TLS = &RedisTLS{ServerName: "x"} },
			func(s *RedisStore) { s.MasterName = "" },
		}
		seen := map[string]bool{}
		for i, v := range append([]func(*RedisStore){func(*RedisStore) {}}, variants...) {
			s := base
			v(&s)
			testcaddy.Provision(t, &s)
			if seen[s.poolKey] {
				t.Errorf("variant %d: expected its own client, got a shared one", i)
			}
			seen[s.poolKey] = true
		}
		// Username "ab" with password "c" is not username "a" with password "bc".
		a := RedisStore{Username: "ab", Password: "c"}
		b := RedisStore{Username: "a", Password: "bc"}
		testcaddy.Provision(t, &a)
		testcaddy.Provision(t, &b)
		if a.client == b.client {
			t.Error("expected different credentials to get different clients")
		}
	})
}
