package otpdashboard

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("otp_dashboard", parseDashboard)
	// The dashboard answers requests itself, so it sits among the responders: after
	// basic_auth, forward_auth and otp_gate, which vouch for the request.
	httpcaddyfile.RegisterDirectiveOrder("otp_dashboard", httpcaddyfile.Before, "respond")
}

// parseDashboard sets up the otp_dashboard handler.
//
// Syntax:
//
//	otp_dashboard [<matcher>] {
//		templates <name...>
//		public
//	}
func parseDashboard(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	h.Next() // "otp_dashboard"
	if h.NextArg() {
		return nil, h.Errf("otp_dashboard takes no argument besides a matcher, got '%s'", h.Val())
	}
	d := new(Dashboard)
	seen := map[string]bool{}
	for h.NextBlock(0) {
		w := h.Val()
		if seen[w] {
			return nil, h.Errf("'%s' is given more than once", w)
		}
		seen[w] = true
		switch w {
		case "templates":
			d.Templates = h.RemainingArgs()
			if len(d.Templates) == 0 {
				return nil, h.Errf("'templates' needs at least one template name")
			}
		case "public":
			if h.NextArg() {
				return nil, h.Errf("'public' takes no value, got '%s'", h.Val())
			}
			d.Public = true
		default:
			return nil, h.Errf("unrecognized subdirective '%s'", w)
		}
	}
	return d, nil
}
