package caddyotp

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddyotp/caddyotp/caddyotp/internal/phone"
)

// TestLimitKindsAreWhole walks the table of limit kinds, so that a new kind cannot be half
// added: each parses from the Caddyfile, has a default that provision applies, counts a
// send under a key, and is documented in the README (limits table and metric labels), the
// Caddyfile syntax and the JSON field's comment.
func TestLimitKindsAreWhole(t *testing.T) {
	readme := readSource(t, "../README.md")
	syntax := readSource(t, "caddyfile.go")
	jsonDoc := readSource(t, "template.go")
	num := phone.Number{E164: "+447400123456", Country: "GB"}
	defaults := make([]string, 0, len(limitKinds))
	for _, k := range limitKinds {
		t.Run(k.Name, func(t *testing.T) {
			d := caddyfile.NewTestDispenser(fmt.Sprintf("template a {\n\tlimit %s 3 1m\n}", k.Name))
			d.Next()
			d.NextArg()
			var tmpl Template
			if err := parseTemplate(d, &tmpl); err != nil {
				t.Fatalf("expected 'limit %s 3 1m' to parse, got %v", k.Name, err)
			}
			if got, want := tmpl.Limits[k.Name], (LimitConfig{Count: 3, Window: caddy.Duration(time.Minute)}); got != want {
				t.Errorf("expected %+v, got %+v", want, got)
			}

			if k.Default.Count < 1 || k.Default.Window < time.Second {
				t.Errorf("expected a default of at least 1 in 1s, got %+v", k.Default)
			}
			var def Template
			def.provision("a", caddy.NewReplacer())
			if got := def.limits[k.Name]; got != k.Default {
				t.Errorf("expected provision to apply the default %+v, got %+v", k.Default, got)
			}
			if k.Key == nil {
				t.Fatal("expected a key function, got nil")
			}
			if _, ok := k.Key(num, "203.0.113.9"); !ok {
				t.Errorf("expected a send with a mobile and a client address to be counted")
			}

			if !tableRowWith(readme, "`limit "+k.Name+" ") {
				t.Errorf("expected a row of the README's limits table with `limit %s …`", k.Name)
			}
			if !tableRowWith(readme, "`caddy_otp_limit_hits_total`", "`"+k.Name+"`") {
				t.Errorf("expected `%s` among the kind labels of caddy_otp_limit_hits_total in the README", k.Name)
			}
		})
		defaults = append(defaults, fmt.Sprintf("%s %d/%s", k.Name, k.Default.Count, shortDuration(k.Default.Window)))
	}
	if want := "limit " + strings.Join(limitKindNames(), "|") + " <count> <window>"; !strings.Contains(syntax, want) {
		t.Errorf("expected caddyfile.go's Syntax block to show %q", want)
	}
	if want := "Default: " + strings.Join(defaults, ", "); !strings.Contains(jsonDoc, want) {
		t.Errorf("expected the comment of Template.Limits to end with %q", want)
	}
}

// TestLimitKindsOrder pins what a refusal and the metric name, and the keys counted: the
// table's order is the order checked.
func TestLimitKindsOrder(t *testing.T) {
	if got, want := strings.Join(limitKindNames(), ","), "mobile,ip,prefix,template"; got != want {
		t.Errorf("expected kinds %s, got %s", want, got)
	}
	if got, want := limitKindList(), "mobile, ip, prefix or template"; got != want {
		t.Errorf("expected %q, got %q", want, got)
	}
	num := phone.Number{E164: "+447400123456", Country: "GB"}
	for _, tt := range []struct {
		clientIP string
		want     []string // key per kind, "-" for not counted
	}{
		{"203.0.113.9", []string{"+447400123456", "203.0.113.9", phone.Prefix(num.E164), ""}},
		{"2001:db8::1", []string{"+447400123456", "2001:db8::/64", phone.Prefix(num.E164), ""}},
		{"", []string{"+447400123456", "-", phone.Prefix(num.E164), ""}},
	} {
		if len(tt.want) != len(limitKinds) {
			t.Fatalf("expected %d kinds, got %d", len(tt.want), len(limitKinds))
		}
		for i, k := range limitKinds {
			got, ok := k.Key(num, tt.clientIP)
			if !ok {
				got = "-"
			}
			if got != tt.want[i] {
				t.Errorf("%s key for client %q: expected %q, got %q", k.Name, tt.clientIP, tt.want[i], got)
			}
		}
	}
}

func readSource(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("expected to read %s, got %v", path, err)
	}
	return string(b)
}

// tableRowWith says whether a Markdown table row holds every one of parts.
func tableRowWith(doc string, parts ...string) bool {
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(line, "|") {
			continue
		}
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			return true
		}
	}
	return false
}

// shortDuration writes 1h for 1h0m0s, as the docs do.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
