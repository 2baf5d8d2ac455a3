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
	// The AWS region, such as `eu-west-2`. Required unless the environment (`AWS_REGION`)
	// or the shared config profile names one.
	// Default: the environment's region
	Region string `json:"region,omitempty"`

	// An SNS-compatible endpoint to use instead of the region's public one: a VPC endpoint,
	// or a test double such as `http://127.0.0.1:4566`.
	// Default: the region's SNS endpoint
	Endpoint string `json:"endpoint,omitempty"`

	// The shared config profile (`~/.aws/config`) to load settings and credentials from.
	// Default: the SDK's default profile (`AWS_PROFILE`, else `default`)
	Profile string `json:"profile,omitempty"`

	// How long one attempt may take, connection and answer included. The caller's own
	// deadline, when shorter, wins.
	// Default: 5s
	Timeout caddy.Duration `json:"timeout,omitempty"`

	client  *sns.Client
	poolKey string
}

const defaultSNSTimeout = 5 * time.Second

// snsClients holds the SNS clients in use, keyed by region, endpoint and profile, so that a
// config reload reuses them.
var snsClients = caddy.NewUsagePool()

// pooledSNSClient is an SNS client with the HTTP client it alone uses.
type pooledSNSClient struct {
	client *sns.Client
	cfg    aws.Config
}

// Destruct closes the client's idle connections.
func (c *pooledSNSClient) Destruct() error {
	awsx.CloseIdle(c.cfg)
	return nil
}

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
	repl := caddy.NewReplacer()
	s.Region = repl.ReplaceKnown(s.Region, "")
	s.Endpoint = repl.ReplaceKnown(s.Endpoint, "")
	s.Profile = repl.ReplaceKnown(s.Profile, "")
	if s.Timeout == 0 {
		s.Timeout = caddy.Duration(defaultSNSTimeout)
	}
	if err := s.Validate(); err != nil {
		return err
	}

	key := s.Region + "\x00" + s.Endpoint + "\x00" + s.Profile
	val, _, err := snsClients.LoadOrNew(key, func() (caddy.Destructor, error) {
		return newSNSClient(ctx, s.Region, s.Endpoint, s.Profile)
	})
	if err != nil {
		return fmt.Errorf("sns sender: %w", err)
	}
	s.poolKey = key
	s.client = val.(*pooledSNSClient).client
	return nil
}

// newSNSClient builds an SNS client from the default configuration. Loading reads the
// environment and shared files only; credentials are fetched lazily at the first send.
func newSNSClient(ctx context.Context, region, endpoint, profile string) (*pooledSNSClient, error) {
	cfg, err := awsx.Config(ctx, region, profile)
	if err != nil {
		return nil, err
	}
	client := sns.NewFromConfig(cfg, func(o *sns.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		// the service counts every attempt, so the SDK must make only one per call
		o.RetryMaxAttempts = 1
		o.Retryer = aws.NopRetryer{}
	})
	return &pooledSNSClient{client: client, cfg: cfg}, nil
}

// Validate checks the configuration; it does no I/O.
func (s *SNSSender) Validate() error {
	if s.Endpoint != "" {
		if !strings.HasPrefix(s.Endpoint, "http://") && !strings.HasPrefix(s.Endpoint, "https://") {
			return fmt.Errorf("sns sender: endpoint %q must start with http:// or https://", s.Endpoint)
		}
	}
	if s.Timeout < 0 {
		return fmt.Errorf("sns sender: timeout must not be negative, got %v", time.Duration(s.Timeout))
	}
	return nil
}

// Cleanup releases the SNS client; it is safe after a half-done Provision.
func (s *SNSSender) Cleanup() error {
	if s.poolKey == "" {
		return nil
	}
	_, err := snsClients.Delete(s.poolKey)
	s.poolKey, s.client = "", nil
	return err
}

// Send publishes msg to msg.To in one attempt and returns SNS's message id.
func (s *SNSSender) Send(ctx context.Context, msg caddyotp.SMS) (string, error) {
	if s.client == nil {
		return "", &caddyotp.SendError{Code: "NotProvisioned", Err: errors.New("sns sender is not provisioned")}
	}
	attemptCtx, cancel := context.WithTimeoutCause(ctx, time.Duration(s.Timeout), awsx.ErrAttemptTimeout)
	defer cancel()

	out, err := s.client.Publish(attemptCtx, snsPublishInput(msg))
	if err != nil {
		return "", awsx.SendError(ctx, attemptCtx, err)
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
	seen := map[string]bool{}
	for d.NextBlock(0) {
		word := d.Val()
		if seen[word] {
			return d.Errf("%s specified more than once", word)
		}
		seen[word] = true
		var field *string
		switch word {
		case "region":
			field = &s.Region
		case "endpoint":
			field = &s.Endpoint
		case "profile":
			field = &s.Profile
		case "timeout":
		default:
			return d.Errf("unrecognized subdirective '%s'", word)
		}
		if !d.NextArg() {
			return d.ArgErr()
		}
		val := d.Val()
		if d.NextArg() {
			return d.ArgErr()
		}
		if field != nil {
			*field = val
			continue
		}
		dur, err := caddy.ParseDuration(val)
		if err != nil {
			return d.Errf("parsing timeout %q: %v", val, err)
		}
		if dur <= 0 {
			return d.Errf("timeout must be positive, got %s", val)
		}
		s.Timeout = caddy.Duration(dur)
	}
	return nil
}

// Interface guards
var (
	_ caddyotp.Sender       = (*SNSSender)(nil)
	_ caddy.Provisioner     = (*SNSSender)(nil)
	_ caddy.Validator       = (*SNSSender)(nil)
	_ caddy.CleanerUpper    = (*SNSSender)(nil)
	_ caddyfile.Unmarshaler = (*SNSSender)(nil)
	_ caddy.Destructor      = (*pooledSNSClient)(nil)
)
