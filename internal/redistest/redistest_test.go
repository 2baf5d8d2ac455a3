package redistest

import (
	"context"
	"testing"
	"time"
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
