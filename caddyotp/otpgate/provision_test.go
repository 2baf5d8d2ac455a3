package otpgate

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"

	"github.com/caddyotp/caddyotp/internal/testcaddy"
)

// TestGateProvisionErrors loads Caddyfiles whose gate settings are out of bounds or do not
// go together: each fails at start with a message naming the setting.
func TestGateProvisionErrors(t *testing.T) {
	for _, tt := range []struct {
		name, gate, want string
	}{
		{"remember over 30d", `allow +447400123456
		remember 31d`, "remember 744h0m0s is outside 1h..720h"},
		{"remember under 1h", `allow +447400123456
		remember 59m`, "remember 59m0s is outside 1h..720h"},
		{"max_age over session", `allow +447400123456
		session 1h
		max_age 61m`, "max_age 1h1m0s is outside 1m..1h0m0s (the session)"},
		{"max_age over the default session", `allow +447400123456
		max_age 9h`, "max_age 9h0m0s is outside 1m..8h0m0s (the session)"},
		{"session over 24h", `allow +447400123456
		session 25h`, "session 25h0m0s is outside 1m..24h"},
		{"idle over 1h", `allow +447400123456
		idle 61m`, "idle 1h1m0s is outside 1m..1h"},
		{"unknown lang", `allow +447400123456
		lang xx`, `lang "xx" is not one of the pages' languages: en, de, fr, es, pt, it, nl`},
		{"lang with a region", `allow +447400123456
		lang fr-CA`, `lang "fr-CA" is not one of the pages' languages`},
		{"mobile without a placeholder", `allow any
		mobile +447400123456`, `mobile "+447400123456" is not a placeholder`},
		{"mobile with user", `user {http.auth.user.id}
		mobiles {
			alice +447400123456
		}
		mobile {http.request.header.X-Auth-Phone}`, "mobile does not go with user"},
		{"mobile without allow", `mobile {http.request.header.X-Auth-Phone}`, "nobody may sign in"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newSite(t)
			err := provisionError(t, s.caddyfile(loginTemplate, "otp_gate /admin/* login {\n\t\t"+tt.gate+"\n\t}"))
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("expected an error with %q, got %v", tt.want, err)
			}
		})
	}
}

// TestGateCaddyfileV2 adapts the version 2 subdirectives to the handler's JSON, and
// refuses their bad forms, naming the word.
func TestGateCaddyfileV2(t *testing.T) {
	site := func(gate string) string {
		return "{\n\totp {\n\t\tsecret " + gateSecret + "\n\t}\n}\nhttp://127.0.0.1:9 {\n\totp_gate login {\n\t\t" + gate + "\n\t}\n}\n"
	}
	out := testcaddy.Adapt(t, site(`allow any
		remember 30d
		max_age 5m
		mobile {http.request.header.X-Auth-Phone}
		lang fr
		page /etc/caddy/otp-page.html`))
	var cfg struct {
		Apps struct {
			HTTP struct {
				Servers map[string]struct {
					Routes []struct {
						Handle []json.RawMessage `json:"handle"`
					} `json:"routes"`
				} `json:"servers"`
			} `json:"http"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatal(err)
	}
	var gate map[string]any
	for _, srv := range cfg.Apps.HTTP.Servers {
		for _, r := range srv.Routes {
			for _, h := range r.Handle {
				found := findHandler(h, "otp_gate")
				if found != nil {
					gate = found
				}
			}
		}
	}
	if gate == nil {
		t.Fatalf("expected an otp_gate handler, got %s", out)
	}
	want := map[string]any{"handler": "otp_gate", "template": "login", "allow_any": true, "remember": 2592e12, "max_age": 3e11,
		"mobile": "{http.request.header.X-Auth-Phone}", "lang": "fr", "page": "/etc/caddy/otp-page.html"}
	for k, v := range want {
		if gate[k] != v {
			t.Errorf("expected %s: %v, got %v", k, v, gate[k])
		}
	}
	if len(gate) != len(want) {
		t.Errorf("expected exactly %v, got %v", want, gate)
	}

	for _, tt := range []struct{ gate, want string }{
		{"allow any\n\t\tremember", "'remember' needs a value"},
		{"allow any\n\t\tremember 30d 1h", "'remember' takes one value, got another: '1h'"},
		{"allow any\n\t\tremember thirty", "remember"},
		{"allow any\n\t\tmax_age", "'max_age' needs a value"},
		{"allow any\n\t\tlang fr de", "'lang' takes one value, got another: 'de'"},
		{"allow any\n\t\tlang fr\n\t\tlang de", "'lang' is given more than once"},
		{"allow any\n\t\tpage", "'page' needs a value"},
		{"allow any\n\t\tmobile", "'mobile' needs a value"},
		{"allow any\n\t\tremember_me 30d", "unrecognized subdirective 'remember_me'"},
	} {
		_, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(site(tt.gate)), map[string]any{"filename": "Caddyfile"})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: expected an error with %q, got %v", tt.gate, tt.want, err)
		}
	}
}

// findHandler finds the handler named name in h or in the subroutes under it.
func findHandler(h json.RawMessage, name string) map[string]any {
	var m map[string]any
	if json.Unmarshal(h, &m) != nil {
		return nil
	}
	if m["handler"] == name {
		return m
	}
	var sub struct {
		Routes []struct {
			Handle []json.RawMessage `json:"handle"`
		} `json:"routes"`
	}
	json.Unmarshal(h, &sub)
	for _, r := range sub.Routes {
		for _, hh := range r.Handle {
			if found := findHandler(hh, name); found != nil {
				return found
			}
		}
	}
	return nil
}
