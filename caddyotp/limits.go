package caddyotp

import (
	"strings"
	"time"

	"github.com/caddyotp/caddyotp/caddyotp/internal/phone"
)

// Limit kinds, the first word after `limit`.
const (
	LimitMobile   = "mobile"
	LimitIP       = "ip"
	LimitPrefix   = "prefix"
	LimitTemplate = "template"
)

// limitKind is one thing a template's sends are counted by.
type limitKind struct {
	// Name is the word after `limit`, the key of the JSON `limits`, the kind a refusal
	// names (Decision.Limit) and its `kind` label in caddy_otp_limit_hits_total.
	Name string
	// Default applies where a template sets none of this kind.
	Default Limit
	// Key is what one send is counted under; false when the send has nothing to count
	// (no client address for the ip limit).
	Key func(num phone.Number, clientIP string) (key string, ok bool)
}

// limitKinds is every kind, in the order a send is checked: a refusal names the first
// kind without room. The Caddyfile parser, template defaults and validation, takeLimits
// and the metric's help read it; a new kind is a row here and one in the README's table
// (TestLimitKindsAreWhole checks both).
var limitKinds = []limitKind{
	{Name: LimitMobile, Default: Limit{Count: 5, Window: time.Hour},
		Key: func(num phone.Number, _ string) (string, bool) { return num.E164, true }},
	{Name: LimitIP, Default: Limit{Count: 20, Window: time.Hour},
		Key: func(_ phone.Number, clientIP string) (string, bool) { return ipLimitKey(clientIP), clientIP != "" }},
	{Name: LimitPrefix, Default: Limit{Count: 50, Window: time.Hour},
		Key: func(num phone.Number, _ string) (string, bool) { return phone.Prefix(num.E164), true }},
	{Name: LimitTemplate, Default: Limit{Count: 1000, Window: 24 * time.Hour},
		Key: func(phone.Number, string) (string, bool) { return "", true }},
}

// isLimitKind says whether name is a row of limitKinds.
func isLimitKind(name string) bool {
	for _, k := range limitKinds {
		if k.Name == name {
			return true
		}
	}
	return false
}

// limitKindNames are the kinds' names in check order.
func limitKindNames() []string {
	names := make([]string, len(limitKinds))
	for i, k := range limitKinds {
		names[i] = k.Name
	}
	return names
}

// limitKindList names the kinds for an error message: "mobile, ip, prefix or template".
func limitKindList() string {
	names := limitKindNames()
	last := len(names) - 1
	return strings.Join(names[:last], ", ") + " or " + names[last]
}
