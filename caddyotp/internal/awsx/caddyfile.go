package awsx

import (
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddyotp/caddyotp/caddyotp/internal/caddyfilex"
)

// Unrecognized is the error for a word of a guest's block that it does not know, as the
// other of Connection.UnmarshalBlock answers it.
func Unrecognized(d *caddyfile.Dispenser, word string) error {
	return d.Errf("unrecognized subdirective '%s'", word)
}

// TimeoutArg reads the one value of a sender's timeout word (the bound of one Attempt)
// into dst: a positive duration.
func TimeoutArg(d *caddyfile.Dispenser, dst *caddy.Duration) error {
	word := d.Val()
	v, err := caddyfilex.DurationArg(d)
	if err != nil {
		return err
	}
	if v <= 0 {
		return d.Errf("'%s' must be positive, got %s", word, time.Duration(v))
	}
	*dst = v
	return nil
}
