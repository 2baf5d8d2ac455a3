package otpapi

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("otp_api", parseAPI)
	// The API answers requests itself, so it sits among the responders.
	httpcaddyfile.RegisterDirectiveOrder("otp_api", httpcaddyfile.Before, "respond")
}

// parseAPI sets up the otp_api handler.
//
// Syntax:
//
//	otp_api [<matcher>]
func parseAPI(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	h.Next() // "otp_api"
	if h.NextArg() {
		return nil, h.ArgErr()
	}
	if h.NextBlock(0) {
		return nil, h.Errf("unrecognized subdirective '%s'", h.Val())
	}
	return new(API), nil
}
