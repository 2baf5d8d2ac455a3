package awsx

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/caddyotp/caddyotp/internal/awsdouble"
)

// testClient is what a test pool makes: the connection and config it was made for.
type testClient struct {
	conn Connection
	cfg  aws.Config
}

func TestPool(t *testing.T) {
	awsdouble.OfflineAWS(t)
	made := 0
	p := NewPool(func(cfg aws.Config, c Connection) *testClient {
		made++
		return &testClient{conn: c, cfg: cfg}
	})
	here := Connection{Region: "eu-west-2", Endpoint: "http://127.0.0.1:1"}
	there := Connection{Region: "eu-west-1", Endpoint: "http://127.0.0.1:1"}
	ctx := context.Background()

	a, err := p.Take(ctx, here)
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.Take(ctx, here)
	if err != nil {
		t.Fatal(err)
	}
	c, err := p.Take(ctx, there)
	if err != nil {
		t.Fatal(err)
	}
	if a.Client != b.Client || made != 2 {
		t.Errorf("expected one connection to share a client (2 made in all), got %d made", made)
	}
	if a.Client == c.Client || c.Client.conn != there || c.Client.cfg.Region != "eu-west-1" {
		t.Errorf("expected another connection to get its own client, for its config, got %+v", c.Client.conn)
	}
	if refs, ok := p.References(here); !ok || refs != 2 {
		t.Errorf("expected 2 references, got %d (%v)", refs, ok)
	}

	if err := a.Release(); err != nil {
		t.Fatal(err)
	}
	if refs, ok := p.References(here); !ok || refs != 1 {
		t.Errorf("expected the client kept for the other lease, got %d references (%v)", refs, ok)
	}
	if err := b.Release(); err != nil {
		t.Fatal(err)
	}
	if _, ok := p.References(here); ok {
		t.Error("expected the client let go after the last release, got it still pooled")
	}
	if err := c.Release(); err != nil {
		t.Fatal(err)
	}
	var none *Lease[*testClient]
	if err := none.Release(); err != nil {
		t.Errorf("expected a nil lease to release nothing, got %v", err)
	}
}

func TestPoolTakeFails(t *testing.T) {
	awsdouble.OfflineAWS(t)
	p := NewPool(func(cfg aws.Config, c Connection) *testClient { return &testClient{conn: c, cfg: cfg} })
	lease, err := p.Take(context.Background(), Connection{}) // no region anywhere
	if err == nil || !strings.Contains(err.Error(), "region is required") {
		t.Fatalf("expected the config error, got %v (%v)", err, lease)
	}
	if _, ok := p.References(Connection{}); ok {
		t.Error("expected nothing pooled after a failed take, got a client")
	}
}

// TestPooledDestruct: a client let go by its last lease closes its idle connections.
func TestPooledDestruct(t *testing.T) {
	closer := &closeCounter{}
	p := &pooled[*testClient]{cfg: aws.Config{HTTPClient: closer}}
	if err := p.Destruct(); err != nil || closer.closed != 1 {
		t.Errorf("expected the idle connections closed once, got %d (%v)", closer.closed, err)
	}
}

// closeCounter is an HTTP client that counts CloseIdleConnections.
type closeCounter struct {
	http.Client
	closed int
}

func (c *closeCounter) CloseIdleConnections() { c.closed++ }
