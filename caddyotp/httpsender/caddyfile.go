package httpsender

import (
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddyotp/caddyotp/caddyotp/internal/caddyfilex"
)

// UnmarshalCaddyfile sets up the sender from Caddyfile tokens. Syntax:
//
//	sender http {
//		url              <http(s) url>
//		header           <name> <value>
//		format           json|form
//		sign             <secret>
//		message_id_field <JSON pointer>
//		price_field      <JSON pointer>
//		timeout          <duration>
//	}
//
// header may be given several times; every other word once. Values are checked at
// provision, once placeholders are resolved.
func (s *HTTPSender) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the module name, "http"
	if d.NextArg() {
		return d.ArgErr()
	}
	seen := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		word := d.Val()
		if seen[word] && word != "header" {
			return d.Errf("'%s' is given more than once", word)
		}
		seen[word] = true
		var err error
		switch word {
		case "url":
			err = caddyfilex.OneArg(d, &s.URL)
		case "header":
			err = s.headerArgs(d)
		case "format":
			err = caddyfilex.OneArg(d, &s.Format)
		case "sign":
			err = caddyfilex.OneArg(d, &s.Sign)
		case "message_id_field":
			err = caddyfilex.OneArg(d, &s.MessageIDField)
		case "price_field":
			err = caddyfilex.OneArg(d, &s.PriceField)
		case "timeout":
			s.Timeout, err = caddyfilex.DurationArg(d)
			if err == nil && s.Timeout <= 0 {
				err = d.Errf("'timeout' must be positive, got %s", time.Duration(s.Timeout))
			}
		default:
			err = d.Errf("unrecognized subdirective '%s'", word)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// headerArgs reads `header <name> <value>`.
func (s *HTTPSender) headerArgs(d *caddyfile.Dispenser) error {
	args := d.RemainingArgs()
	if len(args) != 2 {
		return d.Errf("'header' needs a name and a value, got %d arguments", len(args))
	}
	if s.Headers == nil {
		s.Headers = http.Header{}
	}
	s.Headers.Add(args[0], args[1])
	return nil
}
