package caddyotp

import (
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("otp", parseGlobalOTP)
	httpcaddyfile.RegisterHandlerDirective("otp_api", parseAPI)
	httpcaddyfile.RegisterHandlerDirective("otp_gate", parseGate)
	// The gate runs after the first factors, so {http.auth.user.id} is known to it.
	httpcaddyfile.RegisterDirectiveOrder("otp_gate", httpcaddyfile.After, "forward_auth")
	// The API answers requests itself, so it sits among the responders.
	httpcaddyfile.RegisterDirectiveOrder("otp_api", httpcaddyfile.Before, "respond")
}

// parseGlobalOTP sets up the otp app from the global option block.
//
// Syntax:
//
//	otp {
//		secret <secret>
//		previous_secrets <secret...>
//		store <module> { … }
//		sender <module> { … }
//		send_timeout <duration>
//		prices {
//			default <usd>
//			<country> <usd>
//		}
//		budget {
//			daily <usd>
//			monthly <usd>
//		}
//		lockout {
//			after <failures>
//			base <duration>
//			max <duration>
//			window <duration>
//			ceiling <failures>
//		}
//		template <name> {
//			key <key>
//			message <text>
//			length <digits>
//			ttl <duration>
//			attempts <n>
//			resend <duration>
//			sender_id <id>
//			origination_number <e164>
//			max_price <usd>
//			countries <cc...>
//			limit mobile|ip|prefix|template <count> <window>
//			web_otp <domain>
//			lock_group <name>
//		}
//	}
func parseGlobalOTP(d *caddyfile.Dispenser, existing any) (any, error) {
	if existing != nil {
		return nil, d.Err("the otp global option is given more than once")
	}
	app := new(App)
	d.Next() // "otp"
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	seen := map[string]bool{}
	for d.NextBlock(0) {
		word := d.Val()
		if word != "template" {
			if seen[word] {
				return nil, d.Errf("'%s' is given more than once", word)
			}
			seen[word] = true
		}
		switch word {
		case "secret":
			if err := oneArg(d, &app.Secret); err != nil {
				return nil, err
			}
		case "previous_secrets":
			app.PreviousSecrets = d.RemainingArgs()
			if len(app.PreviousSecrets) == 0 {
				return nil, d.ArgErr()
			}
		case "store", "sender":
			if !d.NextArg() {
				return nil, d.ArgErr()
			}
			name := d.Val()
			unm, err := caddyfile.UnmarshalModule(d, "otp."+word+"s."+name)
			if err != nil {
				return nil, err
			}
			raw := caddyconfig.JSONModuleObject(unm, word, name, nil)
			if word == "store" {
				app.StoreRaw = raw
			} else {
				app.SenderRaw = raw
			}
		case "send_timeout":
			dur, err := durationArg(d)
			if err != nil {
				return nil, err
			}
			app.SendTimeout = dur
		case "prices":
			if d.NextArg() {
				return nil, d.ArgErr()
			}
			app.Prices = map[string]float64{}
			for nesting := d.Nesting(); d.NextBlock(nesting); {
				country := d.Val()
				if country != "default" {
					country = strings.ToUpper(country)
				}
				if _, dup := app.Prices[country]; dup {
					return nil, d.Errf("price for '%s' is given more than once", country)
				}
				v, err := floatArg(d)
				if err != nil {
					return nil, err
				}
				app.Prices[country] = v
			}
		case "budget":
			if d.NextArg() {
				return nil, d.ArgErr()
			}
			app.Budget = new(Budget)
			inner := map[string]bool{}
			for nesting := d.Nesting(); d.NextBlock(nesting); {
				w := d.Val()
				if inner[w] {
					return nil, d.Errf("'%s' is given more than once", w)
				}
				inner[w] = true
				v, err := floatArg(d)
				if err != nil {
					return nil, err
				}
				switch w {
				case "daily":
					app.Budget.Daily = v
				case "monthly":
					app.Budget.Monthly = v
				default:
					return nil, d.Errf("unrecognized subdirective '%s'", w)
				}
			}
		case "lockout":
			if d.NextArg() {
				return nil, d.ArgErr()
			}
			app.Lockout = new(Lockout)
			if err := parseLockout(d, app.Lockout); err != nil {
				return nil, err
			}
		case "template":
			if !d.NextArg() {
				return nil, d.ArgErr()
			}
			name := d.Val()
			if d.NextArg() {
				return nil, d.ArgErr()
			}
			if app.Templates == nil {
				app.Templates = map[string]*Template{}
			}
			if _, dup := app.Templates[name]; dup {
				return nil, d.Errf("template '%s' is given more than once", name)
			}
			t := new(Template)
			if err := parseTemplate(d, t); err != nil {
				return nil, err
			}
			app.Templates[name] = t
		default:
			return nil, d.Errf("unrecognized subdirective '%s'", word)
		}
	}
	return httpcaddyfile.App{Name: "otp", Value: caddyconfig.JSON(app, nil)}, nil
}

func parseLockout(d *caddyfile.Dispenser, lo *Lockout) error {
	seen := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		w := d.Val()
		if seen[w] {
			return d.Errf("'%s' is given more than once", w)
		}
		seen[w] = true
		var err error
		switch w {
		case "after":
			err = intArg(d, &lo.After)
		case "base":
			lo.Base, err = durationArg(d)
		case "max":
			lo.Max, err = durationArg(d)
		case "window":
			lo.Window, err = durationArg(d)
		case "ceiling":
			err = intArg(d, &lo.Ceiling)
		default:
			return d.Errf("unrecognized subdirective '%s'", w)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// parseTemplate reads the block of `template <name> { … }`.
func parseTemplate(d *caddyfile.Dispenser, t *Template) error {
	seen := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		w := d.Val()
		if w != "limit" {
			if seen[w] {
				return d.Errf("'%s' is given more than once", w)
			}
			seen[w] = true
		}
		var err error
		switch w {
		case "key":
			err = oneArg(d, &t.Key)
		case "message":
			err = oneArg(d, &t.Message)
		case "length":
			err = intArg(d, &t.Length)
		case "ttl":
			t.TTL, err = durationArg(d)
		case "attempts":
			err = intArg(d, &t.Attempts)
		case "resend":
			var dur caddy.Duration
			dur, err = durationArg(d)
			t.Resend = &dur
		case "sender_id":
			err = oneArg(d, &t.SenderID)
		case "origination_number":
			err = oneArg(d, &t.OriginationNumber)
		case "max_price":
			t.MaxPrice, err = floatArg(d)
		case "countries":
			t.Countries = d.RemainingArgs()
			if len(t.Countries) == 0 {
				return d.ArgErr()
			}
		case "web_otp":
			err = oneArg(d, &t.WebOTP)
		case "lock_group":
			err = oneArg(d, &t.LockGroup)
		case "limit":
			args := d.RemainingArgs()
			if len(args) != 3 {
				return d.Errf("limit takes a kind, a count and a window, as in 'limit mobile 5 1h'")
			}
			kind := args[0]
			if !isLimitKind(kind) {
				return d.Errf("unknown limit kind '%s': use %s", kind, limitKindList())
			}
			if t.Limits == nil {
				t.Limits = map[string]LimitConfig{}
			}
			if _, dup := t.Limits[kind]; dup {
				return d.Errf("limit '%s' is given more than once", kind)
			}
			n, perr := strconv.Atoi(args[1])
			if perr != nil {
				return d.Errf("limit %s: count '%s' is not a whole number", kind, args[1])
			}
			win, perr := caddy.ParseDuration(args[2])
			if perr != nil {
				return d.Errf("limit %s: window '%s': %v", kind, args[2], perr)
			}
			t.Limits[kind] = LimitConfig{Count: n, Window: caddy.Duration(win)}
		default:
			return d.Errf("unrecognized subdirective '%s'", w)
		}
		if err != nil {
			return err
		}
	}
	return nil
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
//		session <duration>
//		idle <duration>
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
			err = oneArg(h.Dispenser, &g.User)
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
		case "session":
			g.Session, err = durationArg(h.Dispenser)
		case "idle":
			g.Idle, err = durationArg(h.Dispenser)
		case "header":
			err = oneArg(h.Dispenser, &g.Header)
		case "title":
			err = oneArg(h.Dispenser, &g.Title)
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

func oneArg(d *caddyfile.Dispenser, dst *string) error {
	word := d.Val()
	if !d.NextArg() {
		return d.Errf("'%s' needs a value", word)
	}
	*dst = d.Val()
	if d.NextArg() {
		return d.Errf("'%s' takes one value, got another: '%s'", word, d.Val())
	}
	return nil
}

func intArg(d *caddyfile.Dispenser, dst *int) error {
	word := d.Val()
	var s string
	if err := oneArg(d, &s); err != nil {
		return err
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return d.Errf("'%s': '%s' is not a whole number", word, s)
	}
	*dst = n
	return nil
}

func floatArg(d *caddyfile.Dispenser) (float64, error) {
	word := d.Val()
	var s string
	if err := oneArg(d, &s); err != nil {
		return 0, err
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, d.Errf("'%s': '%s' is not a number", word, s)
	}
	return v, nil
}

func durationArg(d *caddyfile.Dispenser) (caddy.Duration, error) {
	word := d.Val()
	var s string
	if err := oneArg(d, &s); err != nil {
		return 0, err
	}
	v, err := caddy.ParseDuration(s)
	if err != nil {
		return 0, d.Errf("'%s': '%s' is not a duration: %v", word, s, err)
	}
	return caddy.Duration(v), nil
}

// Interface guards
var (
	_ caddyhttp.MiddlewareHandler = (*API)(nil)
	_ caddy.Provisioner           = (*API)(nil)
)
