package otpgate

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddyotp/caddyotp/caddyotp/internal/caddyfilex"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("otp_gate", parseGate)
	// The gate runs after the first factors, so {http.auth.user.id} is known to it.
	httpcaddyfile.RegisterDirectiveOrder("otp_gate", httpcaddyfile.After, "forward_auth")
}

// parseGate sets up the otp_gate handler.
//
// Syntax:
//
//	otp_gate [<matcher>] [<template>] {
//		allow <mobile...> | any
//		user <placeholder>
//		mobiles {
//			<user> <mobile>
//		}
//		mobile <placeholder>
//		session <duration>
//		idle <duration>
//		remember <duration>
//		max_age <duration>
//		lang <en|de|fr|es|pt|it|nl>
//		page <file>
//		header <name>
//		title <text>
//		secure_cookies
//	}
func parseGate(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	h.Next() // "otp_gate"
	g := new(Gate)
	if h.NextArg() {
		g.Template = h.Val()
		if h.NextArg() {
			return nil, h.ArgErr()
		}
	}
	seen := map[string]bool{}
	for h.NextBlock(0) {
		w := h.Val()
		if seen[w] {
			return nil, h.Errf("'%s' is given more than once", w)
		}
		seen[w] = true
		var err error
		switch w {
		case "allow":
			args := h.RemainingArgs()
			if len(args) == 0 {
				return nil, h.Errf("allow needs mobiles in E.164, or 'any'")
			}
			if len(args) == 1 && args[0] == "any" {
				g.AllowAny = true
			} else {
				for _, a := range args {
					if a == "any" {
						return nil, h.Errf("'allow any' stands alone")
					}
				}
				g.Allow = args
			}
		case "user":
			err = caddyfilex.OneArg(h.Dispenser, &g.User)
		case "mobiles":
			if h.NextArg() {
				return nil, h.ArgErr()
			}
			g.Mobiles = map[string]string{}
			for nesting := h.Nesting(); h.NextBlock(nesting); {
				user := h.Val()
				args := h.RemainingArgs()
				if len(args) != 1 {
					return nil, h.Errf("mobiles: '%s' needs exactly one mobile", user)
				}
				if _, dup := g.Mobiles[user]; dup {
					return nil, h.Errf("mobiles: '%s' is given more than once", user)
				}
				g.Mobiles[user] = args[0]
			}
		case "mobile":
			err = caddyfilex.OneArg(h.Dispenser, &g.Mobile)
		case "remember":
			g.Remember, err = caddyfilex.DurationArg(h.Dispenser)
		case "max_age":
			g.MaxAge, err = caddyfilex.DurationArg(h.Dispenser)
		case "lang":
			err = caddyfilex.OneArg(h.Dispenser, &g.Lang)
		case "page":
			err = caddyfilex.OneArg(h.Dispenser, &g.Page)
		case "session":
			g.Session, err = caddyfilex.DurationArg(h.Dispenser)
		case "idle":
			g.Idle, err = caddyfilex.DurationArg(h.Dispenser)
		case "header":
			err = caddyfilex.OneArg(h.Dispenser, &g.Header)
		case "title":
			err = caddyfilex.OneArg(h.Dispenser, &g.Title)
		case "secure_cookies":
			if h.NextArg() {
				return nil, h.Errf("'secure_cookies' takes no value, got '%s'", h.Val())
			}
			g.SecureCookies = true
		default:
			return nil, h.Errf("unrecognized subdirective '%s'", w)
		}
		if err != nil {
			return nil, err
		}
	}
	return g, nil
}
