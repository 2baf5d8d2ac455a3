// Package failoversender is the otp.senders.failover guest: SMS through the first of its
// senders that works, with a circuit per sender that skips one failing again and again.
package failoversender

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"

	"github.com/caddyotp/caddyotp/caddyotp"
)

func init() {
	caddy.RegisterModule(Failover{})
}

// Failover sends through its senders in order. A definite failure (the provider refused
// the SMS, or it never left) moves on to the next sender; a failure that may have been sent
// (a timeout, a lost answer) stops there, since that SMS may be delivered and billed. The
// app makes every attempt itself, each through the budget and into the ledger under its
// sender's name: the sender's module name, with "#2", "#3" … for a name given again
// ("http", "http#2").
//
// Each sender has a circuit: after `open_after` definite failures in a row it is open,
// skipped for `open_for`; then it is tried again, and one more definite failure opens it
// again at once while a success closes it. When every sender is open, all are tried, in
// order. The circuits live in the memory of this Caddy instance: each instance, and each
// config load, starts with all senders closed.
//
// The senders are loaded in the config's context, so Caddy cleans up those that need it
// when the config ends; the failover has no cleanup of its own.
type Failover struct {
	// The senders to try, in order: at least two modules of the otp.senders namespace
	// (`sns`, `eum`, `http`, `twilio`, …), none of them a failover.
	SendersRaw []json.RawMessage `json:"senders,omitempty" caddy:"namespace=otp.senders inline_key=sender"`

	// How many definite failures in a row open a sender's circuit, 1 to 100. A failure
	// that may have been sent neither counts nor resets the run; a success resets it.
	// Default: 3
	OpenAfter int `json:"open_after,omitempty"`

	// How long an open sender is skipped, 1s to 1h.
	// Default: 1m
	OpenFor caddy.Duration `json:"open_for,omitempty"`

	routes  []caddyotp.Route
	index   map[string]int // route provider → its index in routes and the circuit
	circuit *circuit
	logger  *zap.Logger
}

const (
	defaultOpenAfter = 3
	maxOpenAfter     = 100
	defaultOpenFor   = time.Minute
	minOpenFor       = time.Second
	maxOpenFor       = time.Hour
)

// CaddyModule returns the Caddy module information.
func (Failover) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "otp.senders.failover",
		New: func() caddy.Module { return new(Failover) },
	}
}

// Provision sets the defaults, checks the settings, and loads the senders.
func (f *Failover) Provision(ctx caddy.Context) error {
	f.logger = ctx.Logger()
	if f.OpenAfter == 0 {
		f.OpenAfter = defaultOpenAfter
	}
	if f.OpenFor == 0 {
		f.OpenFor = caddy.Duration(defaultOpenFor)
	}
	if err := f.checkCircuit(); err != nil {
		return err
	}
	if err := checkSenderCount(len(f.SendersRaw)); err != nil {
		return err
	}
	for i, raw := range f.SendersRaw {
		var named struct {
			Sender string `json:"sender"`
		}
		if json.Unmarshal(raw, &named) == nil && named.Sender == "failover" {
			return fmt.Errorf("failover sender: senders[%d]: failover cannot contain a failover", i)
		}
	}
	mods, err := ctx.LoadModule(f, "SendersRaw")
	if err != nil {
		return fmt.Errorf("failover sender: loading senders: %w", err)
	}
	var routes []caddyotp.Route
	index := map[string]int{}
	for i, mod := range mods.([]any) {
		s, ok := mod.(caddyotp.Sender)
		if !ok {
			return fmt.Errorf("failover sender: senders[%d]: %T is not an SMS sender", i, mod)
		}
		name := caddy.GetModuleName(s)
		if _, nested := s.(caddyotp.Router); nested {
			return fmt.Errorf("failover sender: senders[%d]: failover cannot contain a failover (%s routes senders)", i, name)
		}
		provider := routeName(name, index)
		index[provider] = len(routes)
		routes = append(routes, caddyotp.Route{Provider: provider, Sender: s})
	}
	f.routes, f.index = routes, index
	f.circuit = newCircuit(len(routes), f.OpenAfter, time.Duration(f.OpenFor))
	return nil
}

// routeName is the provider name of a sender of the module name given, unique among those
// in taken: the name itself the first time, then name#2, name#3 ….
func routeName(name string, taken map[string]int) string {
	provider := name
	for n := 2; ; n++ {
		if _, dup := taken[provider]; !dup {
			return provider
		}
		provider = name + "#" + strconv.Itoa(n)
	}
}

// Validate checks the configuration; it does no I/O.
func (f *Failover) Validate() error {
	if err := f.checkCircuit(); err != nil {
		return err
	}
	return checkSenderCount(len(f.routes))
}

func (f *Failover) checkCircuit() error {
	if f.OpenAfter < 1 || f.OpenAfter > maxOpenAfter {
		return fmt.Errorf("failover sender: open_after must be 1 to %d, got %d", maxOpenAfter, f.OpenAfter)
	}
	if d := time.Duration(f.OpenFor); d < minOpenFor || d > maxOpenFor {
		return fmt.Errorf("failover sender: open_for must be %v to %v, got %v", minOpenFor, maxOpenFor, d)
	}
	return nil
}

func checkSenderCount(n int) error {
	if n < 2 {
		return fmt.Errorf("failover sender: senders: failover needs at least two senders, got %d", n)
	}
	return nil
}

// Routes returns the senders whose circuit is not open at now, in order; all of them when
// every one is open.
func (f *Failover) Routes(now time.Time) []caddyotp.Route {
	idx, allOpen := f.circuit.usable(now)
	if allOpen {
		f.logger.Warn("every sender's circuit is open: trying them all", zap.Int("senders", len(idx)))
	}
	routes := make([]caddyotp.Route, len(idx))
	for k, i := range idx {
		routes[k] = f.routes[i]
	}
	return routes
}

// Record counts how an attempt at the route named provider went at now, opening or closing
// its circuit.
func (f *Failover) Record(provider string, err error, now time.Time) {
	i, ok := f.index[provider]
	if !ok {
		return
	}
	o := sent
	switch {
	case err != nil && caddyotp.FailsOver(err):
		o = definite
	case err != nil:
		o = maybeSent
	}
	switch f.circuit.record(i, o, now) {
	case opened:
		f.logger.Warn("sender circuit opened: skipping the sender", zap.String("provider", provider),
			zap.Int("open_after", f.OpenAfter), zap.Duration("for", time.Duration(f.OpenFor)), zap.Error(err))
	case closed:
		f.logger.Info("sender circuit closed: the sender works again", zap.String("provider", provider))
	}
}

// Send is the failover for callers other than the app, which drives Routes itself: one
// attempt per route in turn, the next only after a definite failure. It returns the first
// message id, or the last error.
func (f *Failover) Send(ctx context.Context, msg caddyotp.SMS) (string, error) {
	if f.circuit == nil {
		return "", &caddyotp.SendError{Code: "NotProvisioned", Err: errors.New("failover sender is not provisioned")}
	}
	var err error // Routes is never empty
	for _, r := range f.Routes(time.Now()) {
		var id string
		id, err = r.Sender.Send(ctx, msg)
		f.Record(r.Provider, err, time.Now())
		if err == nil || !caddyotp.FailsOver(err) || ctx.Err() != nil {
			return id, err
		}
	}
	return "", err
}

// Interface guards
var (
	_ caddyotp.Router       = (*Failover)(nil)
	_ caddy.Provisioner     = (*Failover)(nil)
	_ caddy.Validator       = (*Failover)(nil)
	_ caddyfile.Unmarshaler = (*Failover)(nil)
)
