package eumsender

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// UnmarshalCaddyfile sets up the sender from Caddyfile tokens. Syntax:
//
//	sender eum {
//		region                <region>
//		endpoint              <url>
//		profile               <name>
//		timeout               <duration>
//		configuration_set     <name|arn>
//		protect_configuration <id|arn>
//		feedback
//	}
//
// The block is optional when the environment names the region.
func (s *EUMSender) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the module name, "eum"
	if d.NextArg() {
		return d.ArgErr()
	}
	seen := map[string]bool{}
	for d.NextBlock(0) {
		word := d.Val()
		if seen[word] {
			return d.Errf("%s specified more than once", word)
		}
		seen[word] = true
		var field *string
		switch word {
		case "region":
			field = &s.Region
		case "endpoint":
			field = &s.Endpoint
		case "profile":
			field = &s.Profile
		case "configuration_set":
			field = &s.ConfigurationSet
		case "protect_configuration":
			field = &s.ProtectConfiguration
		case "timeout":
		case "feedback":
			if d.NextArg() {
				return d.ArgErr()
			}
			s.FeedbackEnabled = true
			continue
		default:
			return d.Errf("unrecognized subdirective '%s'", word)
		}
		if !d.NextArg() {
			return d.ArgErr()
		}
		val := d.Val()
		if d.NextArg() {
			return d.ArgErr()
		}
		if field != nil {
			*field = val
			continue
		}
		dur, err := caddy.ParseDuration(val)
		if err != nil {
			return d.Errf("parsing timeout %q: %v", val, err)
		}
		if dur <= 0 {
			return d.Errf("timeout must be positive, got %s", val)
		}
		s.Timeout = caddy.Duration(dur)
	}
	return nil
}
