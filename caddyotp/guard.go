package caddyotp

import (
	"fmt"
	"math"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddyotp/caddyotp/caddyotp/internal/caddyfilex"
	"github.com/caddyotp/caddyotp/caddyotp/internal/phone"
)

// Guard is a template's pumping guard. SMS pumping (toll fraud) sends many codes to
// numbers that never use them; a real person types the code. So the guard counts, per
// destination country and per number prefix (the prefix of `limit prefix`), the SMS sent and
// the codes used over a rolling window, and once a destination has had at least MinSends
// sends with fewer than MinConversion of its codes used, it refuses that destination for
// Block: 429 `rate_limited` with Retry-After, metric kind `guard`, before any provider call.
// Blocks live in the store, so every instance refuses alike.
type Guard struct {
	// The rolling window of the counts, 1h to 30 days. Default: 24h
	Window caddy.Duration `json:"window,omitempty"`

	// Sends to one country (or prefix) in the window before it is judged, 5 to 1000000.
	// Default: 20
	MinSends int `json:"min_sends,omitempty"`

	// Codes used ÷ SMS sent below this blocks the country (or prefix), 0.01 to 1.
	// Default: 0.2
	MinConversion float64 `json:"min_conversion,omitempty"`

	// How long a block lasts, 1m to 7 days. Default: 6h
	Block caddy.Duration `json:"block,omitempty"`

	// Only log and count (metric caddy_otp_guard_blocks_total with mode `shadow`) what would
	// be blocked; refuse nothing. For trying the thresholds on real traffic first.
	// Default: off
	Shadow bool `json:"shadow,omitempty"`
}

// Guard defaults.
const (
	defaultGuardWindow     = 24 * time.Hour
	defaultGuardMinSends   = 20
	defaultGuardConversion = 0.2
	defaultGuardBlock      = 6 * time.Hour
)

// GuardPolicy is a guard as the store applies it. The store blocks alike in shadow mode
// (so a destination is reported once per block, not at every send); the app decides whether
// a block refuses.
type GuardPolicy struct {
	Window        time.Duration
	MinSends      int
	MinConversion float64
	Block         time.Duration
}

// provision fills in the defaults.
func (g *Guard) provision() {
	if g.Window == 0 {
		g.Window = caddy.Duration(defaultGuardWindow)
	}
	if g.MinSends == 0 {
		g.MinSends = defaultGuardMinSends
	}
	if g.MinConversion == 0 {
		g.MinConversion = defaultGuardConversion
	}
	if g.Block == 0 {
		g.Block = caddy.Duration(defaultGuardBlock)
	}
}

// validate checks the provisioned guard; every message names the setting.
func (g *Guard) validate() error {
	switch w := time.Duration(g.Window); {
	case w < time.Hour || w > 30*24*time.Hour:
		return fmt.Errorf("guard window %s is outside 1h..720h", w)
	case g.MinSends < 5 || g.MinSends > 1_000_000:
		return fmt.Errorf("guard min_sends %d is outside 5..1000000", g.MinSends)
	case !(g.MinConversion >= 0.01 && g.MinConversion <= 1): // also NaN
		return fmt.Errorf("guard min_conversion %v is outside 0.01..1", g.MinConversion)
	case time.Duration(g.Block) < time.Minute || time.Duration(g.Block) > 7*24*time.Hour:
		return fmt.Errorf("guard block %s is outside 1m..168h", time.Duration(g.Block))
	}
	return nil
}

// isShadow reports whether the guard only reports (nil: no guard, which refuses nothing either).
func (g *Guard) isShadow() bool { return g == nil || g.Shadow }

// policy is the guard as the store applies it.
func (g *Guard) policy() GuardPolicy {
	return GuardPolicy{Window: time.Duration(g.Window), MinSends: g.MinSends, MinConversion: g.MinConversion,
		Block: time.Duration(g.Block)}
}

// Guard keys name what the guard judges: a destination country or a number prefix.
const (
	GuardScopeCountry = "country"
	GuardScopePrefix  = "prefix"
)

// guardKeys are the destinations a send to num is judged under, country first.
func guardKeys(num phone.Number) []string {
	return []string{GuardScopeCountry + ":" + StatsCountry(num.Country), GuardScopePrefix + ":" + phone.Prefix(num.E164)}
}

// GuardScope is the scope of a guard key ("country" or "prefix").
func GuardScope(key string) string {
	for i := range len(key) {
		if key[i] == ':' {
			return key[:i]
		}
	}
	return ""
}

// GuardJudge says whether sends and verified codes in a window reach a guard's mark: at
// least MinSends sends with verified ÷ sent below MinConversion. Both stores judge with it.
func GuardJudge(p GuardPolicy, sent, verified float64) bool {
	if sent < float64(p.MinSends) || sent <= 0 {
		return false
	}
	return verified/sent < p.MinConversion
}

// GuardWindowCounts estimates the sends (or codes used) in the rolling window at now from
// two fixed windows of its length, the one now is in and the one before: all of the current
// window's and the part of the previous one's that the rolling window still covers.
func GuardWindowCounts(previous, current float64, window time.Duration, now time.Time) float64 {
	elapsed := time.Duration(now.UnixNano() % int64(window))
	return current + previous*(1-float64(elapsed)/float64(window))
}

// GuardWindowIndex is the number of the fixed window of the given length that at is in.
func GuardWindowIndex(at time.Time, window time.Duration) int64 {
	return at.UnixNano() / int64(window)
}

// CheckGuardArgs checks the guard methods' arguments: one key at least, each with a scope,
// and a valid policy.
func CheckGuardArgs(keys []string, p GuardPolicy) error {
	if len(keys) == 0 {
		return fmt.Errorf("%w: guard without keys", ErrInvalidArgument)
	}
	for _, k := range keys {
		if s := GuardScope(k); s != GuardScopeCountry && s != GuardScopePrefix {
			return fmt.Errorf("%w: guard key %q has no scope", ErrInvalidArgument, k)
		}
	}
	switch {
	case p.Window < time.Millisecond, p.Block < time.Millisecond, p.MinSends < 1,
		!(p.MinConversion > 0 && p.MinConversion <= 1), math.IsNaN(p.MinConversion):
		return fmt.Errorf("%w: guard policy %+v", ErrInvalidArgument, p)
	}
	return nil
}

// parseGuard reads a template's `guard { … }` block.
func parseGuard(d *caddyfile.Dispenser) (*Guard, error) {
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	g := new(Guard)
	seen := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		word := d.Val()
		if seen[word] {
			return nil, d.Errf("guard: '%s' is given more than once", word)
		}
		seen[word] = true
		var err error
		switch word {
		case "window":
			g.Window, err = caddyfilex.DurationArg(d)
		case "min_sends":
			err = caddyfilex.IntArg(d, &g.MinSends)
		case "min_conversion":
			g.MinConversion, err = caddyfilex.FloatArg(d)
		case "block":
			g.Block, err = caddyfilex.DurationArg(d)
		case "shadow":
			if d.NextArg() {
				return nil, d.ArgErr()
			}
			g.Shadow = true
		default:
			return nil, d.Errf("guard: unrecognized subdirective '%s' (window, min_sends, min_conversion, block, shadow)", word)
		}
		if err != nil {
			return nil, err
		}
	}
	return g, nil
}
