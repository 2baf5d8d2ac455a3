package twiliosender

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddyotp/caddyotp/caddyotp/internal/caddyfilex"
)

// UnmarshalCaddyfile sets up the sender from Caddyfile tokens. Syntax:
//
//	sender twilio {
//		account_sid           <AC…>
//		auth_token            <token>
//		api_key               <SK…>
//		api_secret            <secret>
//		from                  <+E.164|sender id>
//		messaging_service_sid <MG…>
//		endpoint              <url>
//		timeout               <duration>
//	}
//
// Every word may be given once; which must be given, and together with which, Provision
// checks.
func (s *TwilioSender) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the module name, "twilio"
	if d.NextArg() {
		return d.ArgErr()
	}
	values := map[string]*string{
		"account_sid":           &s.AccountSID,
		"auth_token":            &s.AuthToken,
		"api_key":               &s.APIKey,
		"api_secret":            &s.APISecret,
		"from":                  &s.From,
		"messaging_service_sid": &s.MessagingServiceSID,
		"endpoint":              &s.Endpoint,
	}
	seen := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		word := d.Val()
		if seen[word] {
			return d.Errf("'%s' is given more than once", word)
		}
		seen[word] = true
		var err error
		switch dst, ok := values[word]; {
		case ok:
			err = caddyfilex.OneArg(d, dst)
		case word == "timeout":
			s.Timeout, err = caddyfilex.DurationArg(d)
		default:
			return d.Errf("unrecognized subdirective '%s'", word)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
