package redistest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestStartStopRestart(t *testing.T) {
	s := Start(t)
	ctx := context.Background()
	if err := s.Client().Set(ctx, "k", "v", time.Minute).Err(); err != nil {
		t.Fatalf("expected a working server, got %v", err)
	}
	addr := s.Addr()

	s.Stop()
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if err := s.Client().Ping(short).Err(); err == nil {
		t.Fatal("expected a stopped server not to answer, got an answer")
	}

	s.Restart()
	if s.Addr() != addr {
		t.Fatalf("expected the same address %s, got %s", addr, s.Addr())
	}
	if err := s.Client().Ping(ctx).Err(); err != nil {
		t.Fatalf("expected the restarted server to answer, got %v", err)
	}
	if n := s.Client().Exists(ctx, "k").Val(); n != 0 {
		t.Fatalf("expected an empty server after restart, got %d keys", n)
	}
}

func TestCluster(t *testing.T) {
	start := time.Now()
	c := StartCluster(t)
	t.Logf("cluster started in %s", time.Since(start).Round(time.Millisecond))
	if n := len(c.Addrs()); n != 3 {
		t.Fatalf("expected 3 addresses, got %d", n)
	}
	ctx := context.Background()
	cc := c.ClusterClient()
	// Keys spread over the slots land on every master.
	for i := range 30 {
		if err := cc.Set(ctx, fmt.Sprintf("k%d", i), "v", time.Minute).Err(); err != nil {
			t.Fatalf("expected a working cluster, got %v", err)
		}
	}
	for _, n := range c.Nodes() {
		if got := n.Client().DBSize(ctx).Val(); got == 0 {
			t.Errorf("expected keys on %s, got none", n.Addr())
		}
	}
	err := cc.Eval(ctx, "return redis.call('MGET', KEYS[1], KEYS[2])", []string{"a", "b"}).Err()
	if err == nil || !strings.Contains(err.Error(), "CROSSSLOT") {
		t.Fatalf("expected CROSSSLOT for a script over two slots, got %v", err)
	}
}

func TestSentinel(t *testing.T) {
	start := time.Now()
	s := StartSentinel(t)
	t.Logf("sentinel setup started in %s", time.Since(start).Round(time.Millisecond))
	ctx := context.Background()
	fc := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:    s.MasterName(),
		SentinelAddrs: s.SentinelAddrs(),
	})
	defer fc.Close()
	if err := fc.Set(ctx, "k", "v", time.Minute).Err(); err != nil {
		t.Fatalf("expected a working master, got %v", err)
	}
	// Replication is asynchronous: wait until the replica has the write, or a failover
	// may rightly lose it.
	s.WaitReplicated()
	old := s.Master().Addr()

	start = time.Now()
	s.Failover()
	t.Logf("failover done in %s", time.Since(start).Round(time.Millisecond))
	if s.Master().Addr() == old {
		t.Fatalf("expected a new master, got %s again", old)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := fc.Set(ctx, "k2", "v", time.Minute).Err()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("expected the failover client to write to the new master, got %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := s.Master().Client().Get(ctx, "k").Val(); got != "v" {
		t.Fatalf("expected the new master to hold k=v, got %q", got)
	}
}
