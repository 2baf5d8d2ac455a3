package caddyotp

import (
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"

	"github.com/caddyotp/caddyotp/caddyotp/internal/caddyfilex"
	"github.com/caddyotp/caddyotp/caddyotp/internal/otpcode"
	"github.com/caddyotp/caddyotp/caddyotp/internal/phone"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("otp", parseGlobalOTP)
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
//		reports <module> <source> { … }   (repeatable)
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
//			message [<lang>] <text>          (repeatable with a lang: one text per language)
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
//			test_number <e164> <code>         (repeatable)
//			guard {
//				window <duration>
//				min_sends <n>
//				min_conversion <ratio>
//				block <duration>
//				shadow
//			}
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
		if word != "template" && word != "reports" {
			if seen[word] {
				return nil, d.Errf("'%s' is given more than once", word)
			}
			seen[word] = true
		}
		switch word {
		case "secret":
			if err := caddyfilex.OneArg(d, &app.Secret); err != nil {
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
		case "reports":
			if !d.NextArg() {
				return nil, d.ArgErr()
			}
			name := d.Val()
			unm, err := caddyfile.UnmarshalModule(d, "otp.reports."+name)
			if err != nil {
				return nil, err
			}
			app.ReportsRaw = append(app.ReportsRaw, caddyconfig.JSONModuleObject(unm, "reporter", name, nil))
		case "send_timeout":
			dur, err := caddyfilex.DurationArg(d)
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
				v, err := caddyfilex.FloatArg(d)
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
				v, err := caddyfilex.FloatArg(d)
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
			err = caddyfilex.IntArg(d, &lo.After)
		case "base":
			lo.Base, err = caddyfilex.DurationArg(d)
		case "max":
			lo.Max, err = caddyfilex.DurationArg(d)
		case "window":
			lo.Window, err = caddyfilex.DurationArg(d)
		case "ceiling":
			err = caddyfilex.IntArg(d, &lo.Ceiling)
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
		if w != "limit" && w != "message" && w != "test_number" {
			if seen[w] {
				return d.Errf("'%s' is given more than once", w)
			}
			seen[w] = true
		}
		var err error
		switch w {
		case "key":
			err = caddyfilex.OneArg(d, &t.Key)
		case "message":
			err = parseMessage(d, t, seen)
		case "test_number":
			err = parseTestNumber(d, t)
		case "length":
			err = caddyfilex.IntArg(d, &t.Length)
		case "ttl":
			t.TTL, err = caddyfilex.DurationArg(d)
		case "attempts":
			err = caddyfilex.IntArg(d, &t.Attempts)
		case "resend":
			var dur caddy.Duration
			dur, err = caddyfilex.DurationArg(d)
			t.Resend = &dur
		case "sender_id":
			err = caddyfilex.OneArg(d, &t.SenderID)
		case "origination_number":
			err = caddyfilex.OneArg(d, &t.OriginationNumber)
		case "max_price":
			t.MaxPrice, err = caddyfilex.FloatArg(d)
		case "countries":
			t.Countries = d.RemainingArgs()
			if len(t.Countries) == 0 {
				return d.ArgErr()
			}
		case "web_otp":
			err = caddyfilex.OneArg(d, &t.WebOTP)
		case "lock_group":
			err = caddyfilex.OneArg(d, &t.LockGroup)
		case "guard":
			t.Guard, err = parseGuard(d)
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

// parseMessage reads `message <text>` (the plain message, once) or `message <lang> <text>`
// (one per language, stored under the tag's canonical form).
func parseMessage(d *caddyfile.Dispenser, t *Template, seen map[string]bool) error {
	args := d.RemainingArgs()
	switch len(args) {
	case 1:
		if seen["message"] {
			return d.Err("'message' is given more than once")
		}
		seen["message"] = true
		t.Message = args[0]
	case 2:
		tag, err := messageLanguage(args[0])
		if err != nil {
			return d.Errf("message %q %v", args[0], err)
		}
		lang := tag.String()
		if t.Messages == nil {
			t.Messages = map[string]string{}
		}
		if _, dup := t.Messages[lang]; dup {
			return d.Errf("message %s is given more than once", lang)
		}
		t.Messages[lang] = args[1]
	default:
		return d.Err(`message takes a text, or a language and a text, as in 'message fr "{code} est votre code"'`)
	}
	return nil
}

// parseTestNumber reads `test_number <e164> <code>`. The code's length is checked at
// provision, where the template's length is known and placeholders are resolved.
func parseTestNumber(d *caddyfile.Dispenser, t *Template) error {
	args := d.RemainingArgs()
	if len(args) != 2 {
		return d.Err("test_number takes a mobile and a code, as in 'test_number +447400000001 123456'")
	}
	mobile, code := args[0], args[1]
	if _, err := phone.Parse(mobile); err != nil {
		return d.Errf("test_number %s: %v", mobile, err)
	}
	if !strings.Contains(code, "{") && !otpcode.Valid(code) {
		return d.Errf("test_number %s: the code must be ASCII digits", mobile)
	}
	if t.TestNumbers == nil {
		t.TestNumbers = map[string]string{}
	}
	if _, dup := t.TestNumbers[mobile]; dup {
		return d.Errf("test_number %s is given more than once", mobile)
	}
	t.TestNumbers[mobile] = code
	return nil
}
