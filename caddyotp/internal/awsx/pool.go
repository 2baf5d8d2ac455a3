package awsx

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/caddyserver/caddy/v2"
)

// Pool holds the clients (C, such as *sns.Client) of one service that guests use, keyed by
// their Connection, in a caddy.UsagePool: a config reload reuses them, and the last guest
// to let one go closes the idle connections of its HTTP client, which it alone uses.
type Pool[C any] struct {
	usage     *caddy.UsagePool
	newClient func(cfg aws.Config, c Connection) C
}

// NewPool is an empty pool whose clients newClient makes, for the config that c loads.
func NewPool[C any](newClient func(cfg aws.Config, c Connection) C) *Pool[C] {
	return &Pool[C]{usage: caddy.NewUsagePool(), newClient: newClient}
}

// Lease is one guest's hold on a pooled client, from its Provision to its Cleanup.
type Lease[C any] struct {
	Client C
	key    string
	usage  *caddy.UsagePool
}

// Take leases c's client, making it if no guest holds one: loading its configuration
// reads the environment and shared files only, and no AWS call is made.
func (p *Pool[C]) Take(ctx context.Context, c Connection) (*Lease[C], error) {
	key := c.Key()
	val, _, err := p.usage.LoadOrNew(key, func() (caddy.Destructor, error) {
		cfg, err := c.LoadConfig(ctx)
		if err != nil {
			return nil, err
		}
		return &pooled[C]{client: p.newClient(cfg, c), cfg: cfg}, nil
	})
	if err != nil {
		return nil, err
	}
	return &Lease[C]{Client: val.(*pooled[C]).client, key: key, usage: p.usage}, nil
}

// References is how many leases c's client has, and whether the pool holds it at all.
func (p *Pool[C]) References(c Connection) (int, bool) {
	return p.usage.References(c.Key())
}

// Release lets the lease go; a nil lease (nothing taken, or a Provision that failed) is
// nothing to let go.
func (l *Lease[C]) Release() error {
	if l == nil {
		return nil
	}
	_, err := l.usage.Delete(l.key)
	return err
}

// pooled is a client with the config, and so the HTTP client, it was made from.
type pooled[C any] struct {
	client C
	cfg    aws.Config
}

// Destruct closes the idle connections of the client's HTTP client.
func (p *pooled[C]) Destruct() error {
	CloseIdle(p.cfg)
	return nil
}

// Interface guards
var _ caddy.Destructor = (*pooled[any])(nil)
