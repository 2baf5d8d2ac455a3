package redistest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// sentinelTimeout bounds waiting for the sentinel to see the setup, and for a failover.
const sentinelTimeout = 15 * time.Second

// masterName is the name the sentinel monitors the primary under.
const masterName = "mymaster"

// Sentinel is a primary, a replica of it and one sentinel monitoring the pair (quorum 1),
// started for one test on free 127.0.0.1 ports and killed when the test ends.
type Sentinel struct {
	t        testing.TB
	servers  [2]*Server // the first primary and replica; their roles swap on Failover
	sentinel *Server

	mu     sync.Mutex
	client *redis.SentinelClient
}

// StartSentinel starts the primary, the replica (--replicaof the primary) and the
// sentinel (redis-server <conf> --sentinel), and waits until the sentinel names the primary
// as the master and knows the replica, and the replica's link to the primary is up. The
// test fails if redis-server is missing.
func StartSentinel(t testing.TB) *Sentinel {
	t.Helper()
	s := &Sentinel{t: t}
	t.Cleanup(s.close)
	primary := Start(t)
	replica := startServer(t, t.TempDir(), func(int) (first, last []string) {
		host, port := splitAddr(primary.Addr())
		return nil, []string{"--replicaof", host, port}
	})
	s.servers = [2]*Server{primary, replica}

	dir := t.TempDir()
	conf := filepath.Join(dir, "sentinel.conf")
	// Started last, so killed first: the sentinel never sees the servers die.
	s.sentinel = startServer(t, dir, func(int) (first, last []string) {
		host, port := splitAddr(primary.Addr())
		// The sentinel rewrites its config file, so it is written again on every try.
		text := strings.Join([]string{
			"sentinel monitor " + masterName + " " + host + " " + port + " 1",
			"sentinel down-after-milliseconds " + masterName + " 1000",
			"sentinel failover-timeout " + masterName + " 5000",
			"",
		}, "\n")
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			t.Fatalf("writing the sentinel config: %v", err)
		}
		return []string{conf}, []string{"--sentinel"}
	})

	ctx, cancel := context.WithTimeout(context.Background(), sentinelTimeout)
	defer cancel()
	// The sentinel asks for INFO every 10s and turns a returning old master into a
	// replica 8s after noticing it: far too slow for a test.
	err := s.sentinel.Client().Do(ctx, "SENTINEL", "DEBUG", "info-period", 250, "publish-period", 250).Err()
	if err != nil {
		t.Fatalf("SENTINEL DEBUG: %v", err)
	}
	s.waitMaster(ctx, primary, replica)
	return s
}

// SentinelAddrs are the host:port of the sentinels (one).
func (s *Sentinel) SentinelAddrs() []string {
	return []string{s.sentinel.Addr()}
}

// MasterName is the name the sentinel knows the primary by.
func (s *Sentinel) MasterName() string {
	return masterName
}

// Master is the server that is the primary now (the replica after a Failover).
func (s *Sentinel) Master() *Server {
	return s.servers[0]
}

// Replica is the server that is the replica now.
func (s *Sentinel) Replica() *Server {
	return s.servers[1]
}

// SentinelClient returns a client of the sentinel, closed when the test ends.
func (s *Sentinel) SentinelClient() *redis.SentinelClient {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client == nil {
		s.client = redis.NewSentinelClient(&redis.Options{Addr: s.sentinel.Addr()})
	}
	return s.client
}

// Failover makes the sentinel promote the replica (SENTINEL FAILOVER) and waits until
// it names the replica as the master, the replica says it is the master, and the old
// primary has come back as the new primary's replica with its link up.
func (s *Sentinel) Failover() {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), sentinelTimeout)
	defer cancel()
	if err := s.SentinelClient().Failover(ctx, masterName).Err(); err != nil {
		s.t.Fatalf("SENTINEL FAILOVER %s: %v", masterName, err)
	}
	s.servers[0], s.servers[1] = s.servers[1], s.servers[0]
	s.waitMaster(ctx, s.servers[0], s.servers[1])
}

// WaitReplicated waits until the replica has received every write the primary had taken
// when it was called, so that a Failover after it loses nothing. (WAIT does not do this
// for a test: it counts only the writes of the connection that sends it, and a pooled
// client's WAIT may go out on a connection that wrote nothing and return at once.)
func (s *Sentinel) WaitReplicated() {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), sentinelTimeout)
	defer cancel()
	want, err := replOffset(ctx, s.Master(), "master_repl_offset")
	if err != nil {
		s.t.Fatalf("reading the primary's replication offset: %v", err)
	}
	waitFor(s.t, ctx, s.Replica().Addr()+" to reach offset "+strconv.FormatInt(want, 10), func() (bool, string) {
		got, err := replOffset(ctx, s.Replica(), "slave_repl_offset")
		if err != nil {
			return false, err.Error()
		}
		return got >= want, "offset " + strconv.FormatInt(got, 10)
	})
}

// replOffset reads one offset field of srv's INFO replication.
func replOffset(ctx context.Context, srv *Server, field string) (int64, error) {
	info, err := srv.Client().Info(ctx, "replication").Result()
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in INFO replication", field)
}

// waitMaster waits until the sentinel names primary as the master and knows replica,
// and both servers agree.
func (s *Sentinel) waitMaster(ctx context.Context, primary, replica *Server) {
	s.t.Helper()
	sc := s.SentinelClient()
	waitFor(s.t, ctx, "the sentinel to name "+primary.Addr()+" the master", func() (bool, string) {
		addr, err := sc.GetMasterAddrByName(ctx, masterName).Result()
		if err != nil {
			return false, err.Error()
		}
		got := strings.Join(addr, ":")
		return got == primary.Addr(), "master " + got
	})
	waitFor(s.t, ctx, primary.Addr()+" to be the master", func() (bool, string) {
		info, err := primary.Client().Info(ctx, "replication").Result()
		if err != nil {
			return false, err.Error()
		}
		return strings.Contains(info, "role:master") && strings.Contains(info, "connected_slaves:1"), info
	})
	waitFor(s.t, ctx, replica.Addr()+" to replicate "+primary.Addr(), func() (bool, string) {
		info, err := replica.Client().Info(ctx, "replication").Result()
		if err != nil {
			return false, err.Error()
		}
		host, port := splitAddr(primary.Addr())
		return strings.Contains(info, "role:slave") &&
			strings.Contains(info, "master_host:"+host+"\r\n") &&
			strings.Contains(info, "master_port:"+port+"\r\n") &&
			strings.Contains(info, "master_link_status:up"), info
	})
	waitFor(s.t, ctx, "the sentinel to know the replica "+replica.Addr(), func() (bool, string) {
		replicas, err := sc.Replicas(ctx, masterName).Result()
		if err != nil {
			return false, err.Error()
		}
		for _, r := range replicas {
			if r["ip"]+":"+r["port"] == replica.Addr() &&
				!strings.Contains(r["flags"], "down") && !strings.Contains(r["flags"], "disconnected") &&
				r["master-link-status"] == "ok" {
				return true, ""
			}
		}
		return false, fmt.Sprint(replicas)
	})
}

func (s *Sentinel) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client != nil {
		_ = s.client.Close()
		s.client = nil
	}
}

// splitAddr splits 127.0.0.1:port.
func splitAddr(addr string) (host, port string) {
	i := strings.LastIndexByte(addr, ':')
	return addr[:i], addr[i+1:]
}
