// Package logsreports is the otp.reports.cloudwatch_logs guest: it reads the delivery-status
// logs that Amazon SNS writes to CloudWatch Logs for SMS, and hands each final report (the
// billed price, the carrier, delivered or failed) to the otp app.
package logsreports

import (
	"fmt"
	"regexp"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/internal/awsx"
	"github.com/caddyotp/caddyotp/caddyotp/internal/caddyfilex"
)

func init() {
	caddy.RegisterModule(Reader{})
}

// Reader reads Amazon SNS SMS delivery-status logs from a CloudWatch Logs log group and
// its `/Failure` sibling (where SNS puts failed deliveries) with `FilterLogEvents`, every
// interval. Turn on SNS's "SMS delivery status logging" for the account to get them.
//
// One instance reads at a time: the reader holds a lease in the otp store while it reads,
// and keeps its read position there, so a restart or another instance continues where it
// was. Each round re-reads the last five minutes, so events that CloudWatch ingests late are
// not missed; the store applies each report once. Credentials come from the AWS SDK's
// default chain, resolved at the first read: the module makes no AWS call at provision.
// The IAM policy needs `logs:FilterLogEvents` on both log groups.
type Reader struct {
	// The log group SNS writes successful SMS deliveries to, such as
	// `sns/eu-west-2/123456789012/DirectPublishToPhoneNumber`. Its sibling with `/Failure`
	// appended is read too. Required.
	LogGroup string `json:"log_group,omitempty"`

	// Where CloudWatch Logs is: `region`, `endpoint` (a compatible one, instead of the
	// region's) and `profile`, each documented there.
	awsx.Connection

	// How often the log groups are read, from 10s to 1h. When AWS fails or throttles, the
	// reader waits longer, doubling the wait up to 15 minutes (or the interval, if longer).
	// Default: 1m
	Interval caddy.Duration `json:"interval,omitempty"`

	logger *zap.Logger
}

const (
	defaultInterval = time.Minute
	minInterval     = 10 * time.Second
	maxInterval     = time.Hour
)

// failureSuffix names the sibling group where SNS logs failed deliveries.
const failureSuffix = "/Failure"

// logGroupName is what CloudWatch Logs accepts as a log group name (1 to 512 characters);
// the /Failure sibling must fit too.
var logGroupName = regexp.MustCompile(`^[.\-_/#A-Za-z0-9]+$`)

const maxLogGroup = 512 - len(failureSuffix)

// CaddyModule returns the Caddy module information.
func (Reader) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "otp.reports.cloudwatch_logs",
		New: func() caddy.Module { return new(Reader) },
	}
}

// Provision resolves placeholders and sets defaults. The AWS client is made by Run.
func (r *Reader) Provision(ctx caddy.Context) error {
	repl := caddy.NewReplacer()
	r.LogGroup = repl.ReplaceKnown(r.LogGroup, "")
	r.Connection.Replace(repl)
	if r.Interval == 0 {
		r.Interval = caddy.Duration(defaultInterval)
	}
	r.logger = ctx.Logger()
	return r.Validate()
}

// Validate checks the configuration; it does no I/O.
func (r *Reader) Validate() error {
	connErr := r.Connection.Validate("cloudwatch_logs reports")
	switch {
	case r.LogGroup == "":
		return fmt.Errorf("cloudwatch_logs reports: log_group is required")
	case len(r.LogGroup) > maxLogGroup:
		return fmt.Errorf("cloudwatch_logs reports: log_group is %d characters long, more than %d (its %s sibling must fit in 512)",
			len(r.LogGroup), maxLogGroup, failureSuffix)
	case !logGroupName.MatchString(r.LogGroup):
		return fmt.Errorf("cloudwatch_logs reports: log_group %q may hold only letters, digits and . - _ / #", r.LogGroup)
	case connErr != nil:
		return connErr
	case !intervalInRange(time.Duration(r.Interval)):
		return fmt.Errorf("cloudwatch_logs reports: interval %s is outside %s..%s", time.Duration(r.Interval), minInterval, maxInterval)
	}
	return nil
}

func intervalInRange(d time.Duration) bool { return d >= minInterval && d <= maxInterval }

// ReporterKey names what the reader reads: the log group where the region, endpoint and
// profile say.
func (r *Reader) ReporterKey() string {
	return r.LogGroup + " (" + r.Connection.Key() + ")"
}

// UnmarshalCaddyfile sets up the reader from Caddyfile tokens. Syntax:
//
//	reports cloudwatch_logs <log-group> {
//		region   <region>
//		endpoint <url>
//		profile  <name>
//		interval <duration>
//	}
//
// The dispenser starts at `cloudwatch_logs`. The block is optional.
func (r *Reader) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the module name, "cloudwatch_logs"
	if !d.NextArg() {
		return d.Errf("'cloudwatch_logs' needs a log group")
	}
	r.LogGroup = d.Val()
	if d.NextArg() {
		return d.Errf("'cloudwatch_logs' takes one log group, got another: '%s'", d.Val())
	}
	return r.Connection.UnmarshalBlock(d, func(word string) error {
		if word != "interval" {
			return awsx.Unrecognized(d, word)
		}
		var err error
		r.Interval, err = caddyfilex.DurationArg(d)
		if err == nil && !intervalInRange(time.Duration(r.Interval)) {
			err = d.Errf("'interval' %s is outside %s..%s", time.Duration(r.Interval), minInterval, maxInterval)
		}
		return err
	})
}

// Interface guards
var (
	_ caddyotp.Reporter     = (*Reader)(nil)
	_ caddy.Provisioner     = (*Reader)(nil)
	_ caddy.Validator       = (*Reader)(nil)
	_ caddyfile.Unmarshaler = (*Reader)(nil)
)
