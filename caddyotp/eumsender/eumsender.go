// Package eumsender is the otp.senders.eum guest: SMS through AWS End User Messaging SMS
// (the pinpointsmsvoicev2 API's SendTextMessage), with delivery events through a
// configuration set and message feedback for the codes that were used. What its errors
// mean for the service (caddyotp.SendError) is told by internal/awsx, which SNS shares.
package eumsender

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sms "github.com/aws/aws-sdk-go-v2/service/pinpointsmsvoicev2"
	"github.com/aws/aws-sdk-go-v2/service/pinpointsmsvoicev2/types"
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/internal/awsx"
)

func init() {
	caddy.RegisterModule(EUMSender{})
}

// EUMSender sends SMS with AWS End User Messaging SMS (`SendTextMessage`), always with
// `MessageType` `TRANSACTIONAL`. The template's `origination_number` (else its `sender_id`)
// is the origination identity, its `max_price` the `MaxPrice`, its `ttl` the message's
// `TimeToLive`, and its name goes in the message's `Context` as `template`, so that the
// delivery events of a configuration set name it. Credentials come from the AWS SDK's
// default chain (environment, shared files, container or instance role), resolved at the
// first send: the module makes no AWS call at provision. Each call makes exactly one attempt
// (the SDK's own retries are off); the service decides whether to try again.
type EUMSender struct {
	// Where End User Messaging SMS is: `region`, `endpoint` (a compatible one, instead of
	// the region's) and `profile`, each documented there.
	awsx.Connection

	// How long one attempt may take, connection and answer included; the same bound holds
	// for one message feedback call. The caller's own deadline, when shorter, wins.
	// Default: 5s
	Timeout caddy.Duration `json:"timeout,omitempty"`

	// The configuration set to send with, by name (letters, digits, `_` and `-`, at most 64)
	// or ARN. Its event destinations receive the messages' delivery events, which the
	// `reports` of the `otp` app can read.
	// Default: none (the messages publish no delivery events)
	ConfigurationSet string `json:"configuration_set,omitempty"`

	// The protect configuration to send with (AWS's per-country allow and block rules), by
	// id (letters, digits, `_` and `-`, at most 64) or ARN.
	// Default: none (the account's default protect configuration applies, if one is set)
	ProtectConfiguration string `json:"protect_configuration,omitempty"`

	// Send with message feedback on (`MessageFeedbackEnabled`), and tell AWS about every
	// code that was verified (`PutMessageFeedback` with `RECEIVED`), in the background. AWS
	// then knows which messages arrived without a carrier receipt.
	// Default: false
	FeedbackEnabled bool `json:"feedback,omitempty"`

	lease *awsx.Lease[*sms.Client]
}

const defaultEUMTimeout = 5 * time.Second

// The shapes AWS accepts: a configuration set name or a protect configuration id, or the
// ARN of one.
var (
	resourceName            = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	configurationSetARN     = regexp.MustCompile(`^arn:aws[a-z-]*:sms-voice:[a-z0-9-]+:[0-9]{12}:configuration-set/[A-Za-z0-9_-]{1,64}$`)
	protectConfigurationARN = regexp.MustCompile(`^arn:aws[a-z-]*:sms-voice:[a-z0-9-]+:[0-9]{12}:protect-configuration/[A-Za-z0-9_-]{1,64}$`)
)

// eumClients holds the End User Messaging SMS clients in use, keyed by connection, so that
// a config reload reuses them.
var eumClients = awsx.NewPool(newEUMClient)

// CaddyModule returns the Caddy module information.
func (EUMSender) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "otp.senders.eum",
		New: func() caddy.Module { return new(EUMSender) },
	}
}

// Provision resolves placeholders, loads the AWS configuration (environment and files only)
// and takes a client from the pool.
func (s *EUMSender) Provision(ctx caddy.Context) error {
	repl := caddy.NewReplacer()
	s.Connection.Replace(repl)
	s.ConfigurationSet = repl.ReplaceKnown(s.ConfigurationSet, "")
	s.ProtectConfiguration = repl.ReplaceKnown(s.ProtectConfiguration, "")
	if s.Timeout == 0 {
		s.Timeout = caddy.Duration(defaultEUMTimeout)
	}
	if err := s.Validate(); err != nil {
		return err
	}

	lease, err := eumClients.Take(ctx, s.Connection)
	if err != nil {
		return fmt.Errorf("eum sender: %w", err)
	}
	s.lease = lease
	return nil
}

// newEUMClient is an End User Messaging SMS client for cfg, at c's endpoint.
func newEUMClient(cfg aws.Config, c awsx.Connection) *sms.Client {
	return sms.NewFromConfig(cfg, func(o *sms.Options) { c.SetEndpoint(&o.BaseEndpoint) })
}

// Validate checks the configuration; it does no I/O.
func (s *EUMSender) Validate() error {
	if err := s.Connection.Validate("eum sender"); err != nil {
		return err
	}
	if s.Timeout < 0 {
		return fmt.Errorf("eum sender: timeout must not be negative, got %v", time.Duration(s.Timeout))
	}
	if s.ConfigurationSet != "" && !resourceName.MatchString(s.ConfigurationSet) && !configurationSetARN.MatchString(s.ConfigurationSet) {
		return fmt.Errorf("eum sender: configuration_set %q must be a name (letters, digits, _ and -, at most 64) or a configuration set ARN", s.ConfigurationSet)
	}
	if s.ProtectConfiguration != "" && !resourceName.MatchString(s.ProtectConfiguration) && !protectConfigurationARN.MatchString(s.ProtectConfiguration) {
		return fmt.Errorf("eum sender: protect_configuration %q must be a protect configuration id (letters, digits, _ and -, at most 64) or ARN", s.ProtectConfiguration)
	}
	return nil
}

// Cleanup releases the client; it is safe after a half-done Provision.
func (s *EUMSender) Cleanup() error {
	err := s.lease.Release()
	s.lease = nil
	return err
}

// Send sends msg to msg.To in one attempt and returns End User Messaging's message id.
func (s *EUMSender) Send(ctx context.Context, msg caddyotp.SMS) (string, error) {
	if s.lease == nil {
		return "", &caddyotp.SendError{Code: "NotProvisioned", Err: errors.New("eum sender is not provisioned")}
	}
	out, err := awsx.Attempt(ctx, time.Duration(s.Timeout), func(ctx context.Context) (*sms.SendTextMessageOutput, error) {
		return s.lease.Client.SendTextMessage(ctx, s.sendTextMessageInput(msg))
	})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.MessageId), nil
}

// WantsFeedback reports whether feedback is on.
func (s *EUMSender) WantsFeedback() bool { return s.FeedbackEnabled }

// Feedback tells End User Messaging, in one attempt, that the SMS messageID reached its
// reader (PutMessageFeedback RECEIVED).
func (s *EUMSender) Feedback(ctx context.Context, messageID string) error {
	if s.lease == nil {
		return errors.New("eum sender is not provisioned")
	}
	if messageID == "" {
		return errors.New("eum sender: message feedback needs a message id")
	}
	ctx, cancel := context.WithTimeoutCause(ctx, time.Duration(s.Timeout), awsx.ErrAttemptTimeout)
	defer cancel()
	_, err := s.lease.Client.PutMessageFeedback(ctx, &sms.PutMessageFeedbackInput{
		MessageId:             aws.String(messageID),
		MessageFeedbackStatus: types.MessageFeedbackStatusReceived,
	})
	if err != nil {
		return fmt.Errorf("eum sender: message feedback for %s: %w", messageID, err)
	}
	return nil
}

// Interface guards
var (
	_ caddyotp.FeedbackSender = (*EUMSender)(nil)
	_ caddy.Provisioner       = (*EUMSender)(nil)
	_ caddy.Validator         = (*EUMSender)(nil)
	_ caddy.CleanerUpper      = (*EUMSender)(nil)
	_ caddyfile.Unmarshaler   = (*EUMSender)(nil)
)
