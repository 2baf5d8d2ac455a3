package awsx

import (
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddyotp/caddyotp/caddyotp/internal/caddyfilex"
)

// Connection is where an AWS guest connects: the region, an endpoint other than the
// region's public one, and the shared config profile. Each AWS guest embeds it, so that
// its fields are the guest's own in JSON and in the Caddyfile block.
type Connection struct {
	// The AWS region, such as `eu-west-2`. Required unless the environment (`AWS_REGION`)
	// or the shared config profile names one.
	// Default: the environment's region
	Region string `json:"region,omitempty"`

	// An endpoint of the module's AWS service (SNS, End User Messaging SMS, SQS or
	// CloudWatch Logs) to use instead of the region's public one: a VPC endpoint, or a
	// test double such as `http://127.0.0.1:4566`.
	// Default: the region's endpoint of the service
	Endpoint string `json:"endpoint,omitempty"`

	// The shared config profile (`~/.aws/config`) to load settings and credentials from.
	// Default: the SDK's default profile (`AWS_PROFILE`, else `default`)
	Profile string `json:"profile,omitempty"`
}

// Replace resolves the placeholders (such as `{env.AWS_REGION}`) of the three settings.
func (c *Connection) Replace(repl *caddy.Replacer) {
	c.Region = repl.ReplaceKnown(c.Region, "")
	c.Endpoint = repl.ReplaceKnown(c.Endpoint, "")
	c.Profile = repl.ReplaceKnown(c.Profile, "")
}

// Validate checks the settings, naming the guest (module, such as "sns sender") in the
// error; it does no I/O. A missing region or an unknown profile is told by LoadConfig.
func (c Connection) Validate(module string) error {
	if c.Endpoint != "" && !strings.HasPrefix(c.Endpoint, "http://") && !strings.HasPrefix(c.Endpoint, "https://") {
		return fmt.Errorf("%s: endpoint %q must start with http:// or https://", module, c.Endpoint)
	}
	return nil
}

// Key names the connection by its three settings: two guests with one key share a pooled
// client, and a reporter's key says where it reads.
func (c Connection) Key() string {
	return fmt.Sprintf("region %q, endpoint %q, profile %q", c.Region, c.Endpoint, c.Profile)
}

// SetEndpoint points a client at the configured endpoint, if any: a service client's
// options take it as BaseEndpoint (`func(o *sns.Options) { c.SetEndpoint(&o.BaseEndpoint) }`).
// Without one, the SDK's own choice stays (the region's, or AWS_ENDPOINT_URL_<SERVICE>).
func (c Connection) SetEndpoint(base **string) {
	if c.Endpoint != "" {
		*base = aws.String(c.Endpoint)
	}
}

// UnmarshalBlock reads the block of an AWS guest's Caddyfile directive, whose syntax has
//
//	region   <region>
//	endpoint <url>
//	profile  <name>
//
// beside the guest's own subdirectives: other reads each of those (its arguments too) and
// answers a word it does not know with an error. Every word may be given once.
func (c *Connection) UnmarshalBlock(d *caddyfile.Dispenser, other func(word string) error) error {
	seen := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		word := d.Val()
		if seen[word] {
			return d.Errf("'%s' is given more than once", word)
		}
		seen[word] = true
		var err error
		switch word {
		case "region":
			err = caddyfilex.OneArg(d, &c.Region)
		case "endpoint":
			err = caddyfilex.OneArg(d, &c.Endpoint)
		case "profile":
			err = caddyfilex.OneArg(d, &c.Profile)
		default:
			err = other(word)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
