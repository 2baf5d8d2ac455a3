package eumsender

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddyotp/caddyotp/caddyotp/internal/awsx"
	"github.com/caddyotp/caddyotp/caddyotp/internal/caddyfilex"
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
	return s.Connection.UnmarshalBlock(d, func(word string) error {
		switch word {
		case "timeout":
			return awsx.TimeoutArg(d, &s.Timeout)
		case "configuration_set":
			return caddyfilex.OneArg(d, &s.ConfigurationSet)
		case "protect_configuration":
			return caddyfilex.OneArg(d, &s.ProtectConfiguration)
		case "feedback":
			if d.NextArg() {
				return d.Errf("'feedback' takes no value, got '%s'", d.Val())
			}
			s.FeedbackEnabled = true
			return nil
		}
		return awsx.Unrecognized(d, word)
	})
}
