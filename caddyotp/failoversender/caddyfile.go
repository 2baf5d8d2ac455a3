package failoversender

import (
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddyotp/caddyotp/caddyotp/internal/caddyfilex"
)

// UnmarshalCaddyfile sets up the failover from Caddyfile tokens. Syntax:
//
//	sender failover {
//		sender     <module> { … }
//		sender     <module> { … }
//		open_after <n>
//		open_for   <duration>
//	}
//
// Each `sender` is a sender module with its own block, as in the otp global option, tried
// in the order given.
func (f *Failover) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the module name, "failover"
	if d.NextArg() {
		return d.ArgErr()
	}
	seen := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		word := d.Val()
		if word != "sender" {
			if seen[word] {
				return d.Errf("'%s' is given more than once", word)
			}
			seen[word] = true
		}
		switch word {
		case "sender":
			if !d.NextArg() {
				return d.Errf("'sender' needs a module name")
			}
			name := d.Val()
			if name == "failover" {
				return d.Err("failover cannot contain a failover")
			}
			unm, err := caddyfile.UnmarshalModule(d, "otp.senders."+name)
			if err != nil {
				return err
			}
			f.SendersRaw = append(f.SendersRaw, caddyconfig.JSONModuleObject(unm, "sender", name, nil))
		case "open_after":
			if err := caddyfilex.IntArg(d, &f.OpenAfter); err != nil {
				return err
			}
			if f.OpenAfter < 1 { // 0 would read as "not set" in JSON
				return d.Errf("'open_after' must be 1 to %d, got %d", maxOpenAfter, f.OpenAfter)
			}
		case "open_for":
			dur, err := caddyfilex.DurationArg(d)
			if err != nil {
				return err
			}
			if dur <= 0 {
				return d.Errf("'open_for' must be positive")
			}
			f.OpenFor = dur
		default:
			return d.Errf("unrecognized subdirective '%s'", word)
		}
	}
	return nil
}
