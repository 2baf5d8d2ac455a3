// Package redistest starts private Redis servers for a test: a single server (Start), one
// with TLS (StartTLS), a three-master Cluster (StartCluster) and a primary, replica and
// sentinel (StartSentinel), all on free 127.0.0.1 ports and killed when the test ends. It
// never connects to any other Redis and never flushes anything it did not start.
package redistest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/internal/testnet"
	"github.com/redis/go-redis/v9"
)

// startTimeout bounds how long a server may take to answer PING.
const startTimeout = 5 * time.Second

// Server is a redis-server started for one test, killed when the test ends.
type Server struct {
	t    testing.TB
	bin  string
	dir  string
	port int
	// extra gives more arguments for redis-server on port: first before the common
	// ones (where a config file must go), last after them.
	extra func(port int) (first, last []string)

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited
	out    *syncBuffer   // the output of cmd
	client *redis.Client
}

// Start starts a redis-server on a free 127.0.0.1 port, with no persistence, and waits
// until it answers PING. The test fails if redis-server is not installed: run ./test.sh,
// which installs it.
func Start(t testing.TB) *Server {
	t.Helper()
	return startServer(t, t.TempDir(), nil)
}

// startServer is Start with extra arguments for redis-server, in dir.
func startServer(t testing.TB, dir string, extra func(port int) (first, last []string)) *Server {
	t.Helper()
	s := &Server{t: t, bin: lookPath(t, "redis-server"), dir: dir, extra: extra}
	t.Cleanup(s.close)

	// A free port can be taken by someone else before redis-server binds it: try again.
	var err, lastErr error
	for range 3 {
		s.port, err = testnet.TryFreePort()
		if err != nil {
			t.Fatalf("finding a free port: %v", err)
		}
		if lastErr = s.start(); lastErr == nil {
			return s
		}
	}
	t.Fatalf("starting redis-server: %v", lastErr)
	return nil
}

// lookPath finds a Redis program, or fails the test: Redis is required, never skipped.
func lookPath(t testing.TB, name string) string {
	t.Helper()
	bin, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not on PATH (%v): run ./test.sh, which installs it", name, err)
	}
	return bin
}

// Addr is the server's host:port.
func (s *Server) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
}

// Client returns a client of this server for inspecting it, closed when the test ends.
func (s *Server) Client() *redis.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client == nil {
		s.client = redis.NewClient(&redis.Options{Addr: s.Addr()})
	}
	return s.client
}

// Output is what the running (or last) redis-server process wrote, for failure messages.
func (s *Server) Output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.out == nil {
		return ""
	}
	return s.out.String()
}

// Stop kills the server; its port stays reserved for Restart.
func (s *Server) Stop() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kill()
}

// Restart starts the server again on the same port, empty.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	if err := s.start(); err != nil {
		s.t.Fatalf("restarting redis-server: %v", err)
	}
}

// start runs redis-server on s.port and waits for PING.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := new(syncBuffer)
	var first, last []string
	if s.extra != nil {
		first, last = s.extra(s.port)
	}
	args := append(first,
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		// A replica's first sync would wait 5s for others to join it.
		"--repl-diskless-sync-delay", "0",
		"--dir", s.dir,
	)
	cmd := exec.Command(s.bin, append(args, last...)...)
	cmd.Stdout, cmd.Stderr = out, out
	s.out = out
	if err := cmd.Start(); err != nil {
		return err
	}
	s.cmd = cmd

	exited := make(chan struct{})
	go func() {
		// Wait is called here only to learn of an early exit; kill waits through it.
		_ = cmd.Wait()
		close(exited)
	}()
	s.exited = exited

	probe := redis.NewClient(&redis.Options{
		Addr:        s.Addr(),
		MaxRetries:  -1,
		DialTimeout: 200 * time.Millisecond,
		ReadTimeout: 200 * time.Millisecond,
	})
	defer probe.Close()
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-exited:
			s.cmd = nil
			return fmt.Errorf("redis-server exited: %s", out.String())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		err := probe.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			s.kill()
			return fmt.Errorf("no answer to PING after %s: %v; output: %s", startTimeout, err, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill ends the process and waits for it. The caller holds mu.
func (s *Server) kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

func (s *Server) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client != nil {
		_ = s.client.Close()
		s.client = nil
	}
	s.kill()
}

// syncBuffer is a bytes.Buffer that the process's output and the test may use at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// sidePort gives a second free port for each main port, the same one every time, so
// that a Restart keeps it.
func sidePort(t testing.TB) func(port int) int {
	var main, side int
	return func(port int) int {
		if port != main {
			var err error
			if side, err = testnet.TryFreePort(); err != nil {
				t.Fatalf("finding a free port: %v", err)
			}
			main = port
		}
		return side
	}
}
