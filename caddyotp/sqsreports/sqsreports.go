// Package sqsreports is the otp.reports.sqs guest: it long-polls an Amazon SQS queue that
// receives AWS End User Messaging SMS delivery events, and hands each final one (delivered
// or failed, the billed price, the carrier) to the otp app.
package sqsreports

import (
	"fmt"
	"net/url"
	"strings"
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

// Reader reads AWS End User Messaging SMS events from an SQS queue. The events reach the
// queue from a configuration set's event destination: an SNS topic the queue subscribes to
// (with or without raw message delivery), or an EventBridge rule with the queue as target.
// A message's body may be the event itself, an SNS notification carrying it in `Message`,
// or an EventBridge event carrying it in `detail`.
//
// A message is deleted from the queue once its report is applied (or was before: SQS
// delivers at least once), and when it is not a final SMS event or makes no sense. A report
// for a message id that no ledger entry has yet is left in the queue: the send's own entry
// may not be written yet, so it is read again after the queue's visibility timeout, up to
// five receives, then dropped. Several instances may read one queue; each message goes to
// one of them at a time.
//
// Credentials come from the AWS SDK's default chain, resolved at the first read: the module
// makes no AWS call at provision. The IAM policy needs `sqs:ReceiveMessage` and
// `sqs:DeleteMessage` on the queue.
type Reader struct {
	// The queue's URL, such as
	// `https://sqs.eu-west-2.amazonaws.com/123456789012/otp-events`. Required.
	QueueURL string `json:"queue_url,omitempty"`

	// Where SQS is: `region`, `endpoint` (an SQS-compatible one, instead of the region's)
	// and `profile`, each documented there.
	awsx.Connection

	// How long one receive waits for a message to arrive (SQS long polling), in whole
	// seconds from 1s to 20s. Longer waits make fewer (billed) requests; a report still
	// arrives as soon as it is in the queue.
	// Default: 20s
	Wait caddy.Duration `json:"wait,omitempty"`

	logger *zap.Logger

	// the bounds of the wait after a failure; tests shorten them
	backoffMin, backoffMax time.Duration
}

const (
	defaultWait = 20 * time.Second
	minWait     = time.Second
	maxWait     = 20 * time.Second
)

// CaddyModule returns the Caddy module information.
func (Reader) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "otp.reports.sqs",
		New: func() caddy.Module { return new(Reader) },
	}
}

// Provision resolves placeholders, sets defaults and checks that the AWS configuration
// loads (environment and files only, no network). The SQS client is made by Run, which may
// outlive this config across reloads.
func (r *Reader) Provision(ctx caddy.Context) error {
	repl := caddy.NewReplacer()
	r.QueueURL = repl.ReplaceKnown(r.QueueURL, "")
	r.Connection.Replace(repl)
	if r.Wait == 0 {
		r.Wait = caddy.Duration(defaultWait)
	}
	r.logger = ctx.Logger()
	if err := r.Validate(); err != nil {
		return err
	}
	// a missing region or an unknown profile is a config error, better told now than logged
	// by Run forever
	if _, err := r.Connection.LoadConfig(ctx); err != nil {
		return fmt.Errorf("sqs reports: %w", err)
	}
	return nil
}

// Validate checks the configuration; it does no I/O.
func (r *Reader) Validate() error {
	wait := time.Duration(r.Wait)
	connErr := r.Connection.Validate("sqs reports")
	switch {
	case r.QueueURL == "":
		return fmt.Errorf("sqs reports: queue_url is required")
	case !queueURL(r.QueueURL):
		return fmt.Errorf("sqs reports: queue_url %q must be an http:// or https:// URL with the queue's path, such as https://sqs.eu-west-2.amazonaws.com/123456789012/otp-events", r.QueueURL)
	case connErr != nil:
		return connErr
	case wait != 0 && (wait < minWait || wait > maxWait):
		return fmt.Errorf("sqs reports: wait %s is outside %s..%s", wait, minWait, maxWait)
	case wait%time.Second != 0:
		return fmt.Errorf("sqs reports: wait %s is not a whole number of seconds", wait)
	}
	return nil
}

// queueURL reports whether s is an http(s) URL with a host and a path.
func queueURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" &&
		strings.Trim(u.Path, "/") != ""
}

// ReporterKey names what the reader reads: the queue where the region, endpoint and
// profile say.
func (r *Reader) ReporterKey() string {
	return r.QueueURL + " (" + r.Connection.Key() + ")"
}

// UnmarshalCaddyfile sets up the reader from Caddyfile tokens. Syntax:
//
//	reports sqs <queue-url> {
//		region   <region>
//		endpoint <url>
//		profile  <name>
//		wait     <duration>
//	}
//
// The dispenser starts at `sqs`. The block is optional.
func (r *Reader) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the module name, "sqs"
	if !d.NextArg() {
		return d.Errf("'sqs' needs a queue URL")
	}
	r.QueueURL = d.Val()
	if d.NextArg() {
		return d.Errf("'sqs' takes one queue URL, got another: '%s'", d.Val())
	}
	return r.Connection.UnmarshalBlock(d, func(word string) error {
		if word != "wait" {
			return awsx.Unrecognized(d, word)
		}
		var err error
		r.Wait, err = caddyfilex.DurationArg(d)
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
