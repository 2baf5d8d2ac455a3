package redistest

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// clusterTimeout bounds creating a cluster and waiting until every node says it is ok.
const clusterTimeout = 15 * time.Second

// Cluster is a Redis Cluster of three masters without replicas, started for one test on
// free 127.0.0.1 ports and killed when the test ends.
type Cluster struct {
	t     testing.TB
	nodes []*Server

	mu     sync.Mutex
	client *redis.ClusterClient
}

// StartCluster starts three cluster-enabled redis-servers, joins them with
// `redis-cli --cluster create` (the 16384 slots split between them) and waits until every
// node reports cluster_state:ok. The test fails if redis-server or redis-cli is missing.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	cli := lookPath(t, "redis-cli")
	dir := t.TempDir()
	c := &Cluster{t: t}
	t.Cleanup(c.close)
	for range 3 {
		busPort := sidePort(t)
		c.nodes = append(c.nodes, startServer(t, dir, func(port int) (first, last []string) {
			bus := busPort(port)
			return nil, []string{
				"--cluster-enabled", "yes",
				"--cluster-config-file", filepath.Join(dir, fmt.Sprintf("nodes-%d.conf", port)),
				// The bus port is port+10000 by default, which may be taken or past 65535.
				"--cluster-port", strconv.Itoa(bus),
				"--cluster-node-timeout", "2000",
			}
		}))
	}

	ctx, cancel := context.WithTimeout(context.Background(), clusterTimeout)
	defer cancel()
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v: %s", err, out)
	}
	for _, n := range c.nodes {
		waitFor(t, ctx, n.Addr()+" to report cluster_state:ok", func() (bool, string) {
			info, err := n.Client().ClusterInfo(ctx).Result()
			if err != nil {
				return false, err.Error()
			}
			return strings.Contains(info, "cluster_state:ok") &&
				strings.Contains(info, "cluster_known_nodes:3"), info
		})
	}
	return c
}

// Addrs are the host:port of the three masters.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		addrs[i] = n.Addr()
	}
	return addrs
}

// Nodes are the three masters, each with its own Client for inspection.
func (c *Cluster) Nodes() []*Server {
	return c.nodes
}

// ClusterClient returns a cluster client for inspecting the cluster, closed when the
// test ends.
func (c *Cluster) ClusterClient() *redis.ClusterClient {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.client == nil {
		c.client = redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	}
	return c.client
}

// close closes the inspection client. t.Cleanup runs last-in first-out, so the nodes,
// registered later, are killed before it.
func (c *Cluster) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.client != nil {
		_ = c.client.Close()
		c.client = nil
	}
}

// waitFor polls cond every 50ms until it holds or ctx ends; then the test fails with
// what, and cond's last detail.
func waitFor(t testing.TB, ctx context.Context, what string, cond func() (bool, string)) {
	t.Helper()
	for {
		ok, detail := cond()
		if ok {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v; last state: %s", what, ctx.Err(), detail)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
