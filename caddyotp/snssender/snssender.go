// Package snssender is the otp.senders.sns guest: SMS through Amazon SNS Publish. What its
// errors mean for the service (caddyotp.SendError) is told by internal/awsx, which End
// User Messaging shares.
package snssender

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/internal/awsx"
)

func init() {
	caddy.RegisterModule(SNSSender{})
}

// SNSSender sends SMS with Amazon SNS (`Publish` to a phone number), always with
// `AWS.SNS.SMS.SMSType` `Transactional`. Credentials come from the AWS SDK's default chain
// (environment, shared files, container or instance role), resolved at the first send: the
// module makes no AWS call at provision. Each call makes exactly one attempt (the SDK's own
// retries are off); the service decides whether to try again.
type SNSSender struct {
	// Where SNS is: `region`, `endpoint` (an SNS-compatible one, instead of the region's)
	// and `profile`, each documented there.
	awsx.Connection

	// How long one attempt may take, connection and answer included. The caller's own
	// deadline, when shorter, wins.
	// Default: 5s
	Timeout caddy.Duration `json:"timeout,omitempty"`

	lease *awsx.Lease[*sns.Client]
}

const defaultSNSTimeout = 5 * time.Second

// snsClients holds the SNS clients in use, keyed by connection, so that a config reload
// reuses them.
var snsClients = awsx.NewPool(newSNSClient)

// CaddyModule returns the Caddy module information.
func (SNSSender) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "otp.senders.sns",
		New: func() caddy.Module { return new(SNSSender) },
	}
}

// Provision resolves placeholders, loads the AWS configuration (environment and files only)
// and takes an SNS client from the pool.
func (s *SNSSender) Provision(ctx caddy.Context) error {
	s.Connection.Replace(caddy.NewReplacer())
	if s.Timeout == 0 {
		s.Timeout = caddy.Duration(defaultSNSTimeout)
	}
	if err := s.Validate(); err != nil {
		return err
	}
	lease, err := snsClients.Take(ctx, s.Connection)
	if err != nil {
		return fmt.Errorf("sns sender: %w", err)
	}
	s.lease = lease
	return nil
}

// newSNSClient is an SNS client for cfg, at c's endpoint.
func newSNSClient(cfg aws.Config, c awsx.Connection) *sns.Client {
	return sns.NewFromConfig(cfg, func(o *sns.Options) { c.SetEndpoint(&o.BaseEndpoint) })
}

// Validate checks the configuration; it does no I/O.
func (s *SNSSender) Validate() error {
	if err := s.Connection.Validate("sns sender"); err != nil {
		return err
	}
	if s.Timeout < 0 {
		return fmt.Errorf("sns sender: timeout must not be negative, got %v", time.Duration(s.Timeout))
	}
	return nil
}

// Cleanup releases the SNS client; it is safe after a half-done Provision.
func (s *SNSSender) Cleanup() error {
	err := s.lease.Release()
	s.lease = nil
	return err
}

// Send publishes msg to msg.To in one attempt and returns SNS's message id.
func (s *SNSSender) Send(ctx context.Context, msg caddyotp.SMS) (string, error) {
	if s.lease == nil {
		return "", &caddyotp.SendError{Code: "NotProvisioned", Err: errors.New("sns sender is not provisioned")}
	}
	out, err := awsx.Attempt(ctx, time.Duration(s.Timeout), func(ctx context.Context) (*sns.PublishOutput, error) {
		return s.lease.Client.Publish(ctx, snsPublishInput(msg))
	})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.MessageId), nil
}

// snsPublishInput is the Publish request for msg.
func snsPublishInput(msg caddyotp.SMS) *sns.PublishInput {
	attrs := map[string]snstypes.MessageAttributeValue{
		"AWS.SNS.SMS.SMSType": snsString("Transactional"),
	}
	if msg.SenderID != "" {
		attrs["AWS.SNS.SMS.SenderID"] = snsString(msg.SenderID)
	}
	if msg.OriginationNumber != "" {
		attrs["AWS.MM.SMS.OriginationNumber"] = snsString(msg.OriginationNumber)
	}
	if msg.MaxPriceUSD > 0 {
		attrs["AWS.SNS.SMS.MaxPrice"] = snsString(formatMaxPrice(msg.MaxPriceUSD))
	}
	return &sns.PublishInput{
		PhoneNumber:       aws.String(msg.To),
		Message:           aws.String(msg.Text),
		MessageAttributes: attrs,
	}
}

func snsString(v string) snstypes.MessageAttributeValue {
	return snstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
}

// formatMaxPrice writes a USD price with at least two decimals and no rounding of the
// rest: 0.1 → "0.10", 0.0463 → "0.0463", 1 → "1.00".
func formatMaxPrice(p float64) string {
	s := strconv.FormatFloat(p, 'f', -1, 64)
	dot := strings.IndexByte(s, '.')
	switch {
	case dot < 0:
		return s + ".00"
	case len(s)-dot-1 < 2:
		return s + "0"
	}
	return s
}

// UnmarshalCaddyfile sets up the sender from Caddyfile tokens. Syntax:
//
//	sender sns {
//		region   <region>
//		endpoint <url>
//		profile  <name>
//		timeout  <duration>
//	}
//
// The block is optional when the environment names the region.
func (s *SNSSender) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the module name, "sns"
	if d.NextArg() {
		return d.ArgErr()
	}
	return s.Connection.UnmarshalBlock(d, func(word string) error {
		if word != "timeout" {
			return awsx.Unrecognized(d, word)
		}
		return awsx.TimeoutArg(d, &s.Timeout)
	})
}

// Interface guards
var (
	_ caddyotp.Sender       = (*SNSSender)(nil)
	_ caddy.Provisioner     = (*SNSSender)(nil)
	_ caddy.Validator       = (*SNSSender)(nil)
	_ caddy.CleanerUpper    = (*SNSSender)(nil)
	_ caddyfile.Unmarshaler = (*SNSSender)(nil)
)
