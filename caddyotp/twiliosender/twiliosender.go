// Package twiliosender is the otp.senders.twilio guest: SMS through Twilio's Programmable
// Messaging REST API (Create Message), sent with Twilio's official Go library, twilio-go.
// What its errors mean for the service (caddyotp.SendError) is told by internal/httpsend,
// which the http sender shares.
package twiliosender

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/internal/httpsend"
)

func init() {
	caddy.RegisterModule(TwilioSender{})
}

// TwilioSender sends SMS with Twilio's Messages API (`POST
// /2010-04-01/Accounts/{AccountSid}/Messages.json`), authenticated with the account's auth
// token or with an API key and its secret, from one sender (`from`) or through a Messaging
// Service (`messaging_service_sid`).
//
// A template's `origination_number`, else its `sender_id`, when set, overrides `from` for
// that template's messages; with a Messaging Service it is sent beside it, and Twilio uses
// that sender of the service's pool. The template's `ttl` is the message's `ValidityPeriod`
// (whole seconds, within Twilio's 1 to 36000): Twilio drops a message still queued after
// the code expired. When Twilio's answer tells the price (in USD; it is usually null when
// the message was just created), the ledger records it at once. The template's `max_price`
// is not sent: Twilio no longer honours `MaxPrice`.
//
// Each call makes exactly one attempt, bounded by `timeout`; no redirect is followed. The
// module makes no network call at provision.
type TwilioSender struct {
	// The Twilio account's SID: `AC` and 32 hex digits. Like every setting here it takes
	// placeholders, such as `{env.TWILIO_ACCOUNT_SID}`, resolved at provision.
	// Default: none (required)
	AccountSID string `json:"account_sid,omitempty"`

	// The account's auth token (letters and digits). Set it, or `api_key` and
	// `api_secret`, not both.
	// Default: none
	AuthToken string `json:"auth_token,omitempty"`

	// The SID of an API key of the account (`SK` and 32 hex digits), to authenticate with
	// instead of the auth token; it needs `api_secret`.
	// Default: none
	APIKey string `json:"api_key,omitempty"`

	// The API key's secret (letters and digits).
	// Default: none
	APISecret string `json:"api_secret,omitempty"`

	// The sender: a Twilio phone number in E.164 (such as `+15005550006`) or an
	// alphanumeric sender ID (up to 11 letters, digits and spaces, a letter among them).
	// Set it or `messaging_service_sid`, not both.
	// Default: none
	From string `json:"from,omitempty"`

	// The SID of the Messaging Service to send through (`MG` and 32 hex digits): Twilio
	// picks the sender from the service's pool.
	// Default: none
	MessagingServiceSID string `json:"messaging_service_sid,omitempty"`

	// Where Twilio's REST API is, as an http or https URL of a scheme and host only, such
	// as `http://127.0.0.1:4567`: for tests against a stand-in. Every request keeps its
	// path and query and goes there instead.
	// Default: https://api.twilio.com
	Endpoint string `json:"endpoint,omitempty"`

	// How long one attempt may take, connection and answer included; from 1s to 30s. The
	// caller's own deadline, when shorter, wins.
	// Default: 5s
	Timeout caddy.Duration `json:"timeout,omitempty"`

	client   *http.Client // the provider's client: its transport and timeout, no redirects
	endpoint *url.URL     // nil: Twilio's own
}

// The bounds of one attempt.
const (
	defaultTimeout = 5 * time.Second
	minTimeout     = time.Second
	maxTimeout     = 30 * time.Second
)

// The shapes Twilio gives its SIDs and credentials.
var (
	accountSID          = regexp.MustCompile(`^AC[0-9a-fA-F]{32}$`)
	apiKeySID           = regexp.MustCompile(`^SK[0-9a-fA-F]{32}$`)
	messagingServiceSID = regexp.MustCompile(`^MG[0-9a-fA-F]{32}$`)
	// twilio-go refuses, before sending, a username or password of anything else
	lettersAndDigits = regexp.MustCompile(`^[A-Za-z0-9]+$`)
)

// CaddyModule returns the Caddy module information.
func (TwilioSender) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "otp.senders.twilio",
		New: func() caddy.Module { return new(TwilioSender) },
	}
}

// Provision resolves placeholders, sets the default timeout, checks the configuration and
// makes the HTTP client.
func (s *TwilioSender) Provision(caddy.Context) error {
	repl := caddy.NewReplacer()
	for _, v := range []*string{&s.AccountSID, &s.AuthToken, &s.APIKey, &s.APISecret, &s.From, &s.MessagingServiceSID, &s.Endpoint} {
		*v = repl.ReplaceKnown(*v, "")
	}
	if s.Timeout == 0 {
		s.Timeout = caddy.Duration(defaultTimeout)
	}
	if err := s.Validate(); err != nil {
		return err
	}
	if s.Endpoint != "" {
		s.endpoint, _ = url.Parse(s.Endpoint) // Validate parsed it
	}
	s.client = httpsend.Client(time.Duration(s.Timeout))
	return nil
}

// Validate checks the configuration; it does no I/O. Secrets are never in its errors.
func (s *TwilioSender) Validate() error {
	if err := s.validateAccount(); err != nil {
		return err
	}
	if err := s.validateSender(); err != nil {
		return err
	}
	if err := validateEndpoint(s.Endpoint); err != nil {
		return err
	}
	if t := time.Duration(s.Timeout); t < minTimeout || t > maxTimeout {
		return fmt.Errorf("twilio sender: timeout must be from %v to %v, got %v", minTimeout, maxTimeout, t)
	}
	return nil
}

// validateAccount checks account_sid and the one way to authenticate.
func (s *TwilioSender) validateAccount() error {
	switch {
	case s.AccountSID == "":
		return errors.New("twilio sender: account_sid is required")
	case !accountSID.MatchString(s.AccountSID):
		return fmt.Errorf("twilio sender: account_sid %q must be AC and 32 hex digits", s.AccountSID)
	case s.AuthToken != "" && (s.APIKey != "" || s.APISecret != ""):
		return errors.New("twilio sender: set auth_token, or api_key and api_secret, not both")
	case s.AuthToken == "" && s.APIKey == "" && s.APISecret == "":
		return errors.New("twilio sender: set auth_token, or api_key and api_secret")
	case s.AuthToken != "" && !lettersAndDigits.MatchString(s.AuthToken):
		return errors.New("twilio sender: auth_token must be letters and digits only")
	case s.AuthToken != "":
		return nil
	case s.APIKey == "":
		return errors.New("twilio sender: api_secret needs api_key")
	case s.APISecret == "":
		return errors.New("twilio sender: api_key needs api_secret")
	case !apiKeySID.MatchString(s.APIKey):
		return fmt.Errorf("twilio sender: api_key %q must be SK and 32 hex digits", s.APIKey)
	case !lettersAndDigits.MatchString(s.APISecret):
		return errors.New("twilio sender: api_secret must be letters and digits only")
	}
	return nil
}

// validateSender checks that exactly one of from and messaging_service_sid is set, well.
func (s *TwilioSender) validateSender() error {
	switch {
	case s.From != "" && s.MessagingServiceSID != "":
		return errors.New("twilio sender: set from or messaging_service_sid, not both")
	case s.From == "" && s.MessagingServiceSID == "":
		return errors.New("twilio sender: set from or messaging_service_sid")
	case s.From != "" && !validFrom(s.From):
		return fmt.Errorf("twilio sender: from %q must be a phone number in E.164 (+ and up to 15 digits) or an alphanumeric sender ID (up to 11 letters, digits and spaces, with a letter)", s.From)
	case s.MessagingServiceSID != "" && !messagingServiceSID.MatchString(s.MessagingServiceSID):
		return fmt.Errorf("twilio sender: messaging_service_sid %q must be MG and 32 hex digits", s.MessagingServiceSID)
	}
	return nil
}

// validateEndpoint checks that endpoint, when set, is an http or https URL of a scheme and
// host only: the requests keep their own path.
func validateEndpoint(endpoint string) error {
	if endpoint == "" {
		return nil
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("twilio sender: endpoint %q must be an http or https URL", endpoint)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("twilio sender: endpoint %q must be a scheme and host only, without a path, query or credentials", endpoint)
	}
	return nil
}

// Cleanup closes the client's idle connections; it is safe after a half-done Provision.
func (s *TwilioSender) Cleanup() error {
	if s.client != nil {
		s.client.CloseIdleConnections()
	}
	return nil
}

// Send sends msg to msg.To in one attempt and returns Twilio's message SID.
func (s *TwilioSender) Send(ctx context.Context, msg caddyotp.SMS) (string, error) {
	r, err := s.SendPriced(ctx, msg)
	return r.MessageID, err
}

// SendPriced sends msg to msg.To in one attempt and returns Twilio's message SID, with the
// price when Twilio's answer tells it in USD.
func (s *TwilioSender) SendPriced(ctx context.Context, msg caddyotp.SMS) (caddyotp.Receipt, error) {
	if s.client == nil {
		return caddyotp.Receipt{}, &caddyotp.SendError{Code: "NotProvisioned", Err: errors.New("twilio sender is not provisioned")}
	}
	if err := ctx.Err(); err != nil {
		return caddyotp.Receipt{}, notSent(err)
	}
	ex := s.newExchange(ctx)
	defer ex.finish()
	answer, err := s.api(ex).CreateMessageWithMetadata(s.createMessageParams(msg))
	if err != nil {
		return caddyotp.Receipt{}, ex.sendError(err)
	}
	if status := answer.GetStatusCode(); status < 200 || status > 299 {
		// a 3xx, which twilio-go takes for an answer: nothing was sent
		return caddyotp.Receipt{}, httpsend.StatusError(status, "", fmt.Errorf("twilio answered %d", status))
	}
	return receipt(answer.Resource)
}

// notSent is the SendError of an attempt the caller gave up before it began.
func notSent(err error) *caddyotp.SendError {
	code := "Canceled"
	if errors.Is(err, context.DeadlineExceeded) {
		code = "DeadlineExceeded"
	}
	return &caddyotp.SendError{Code: code, Err: err}
}

// Interface guards
var (
	_ caddyotp.PricedSender = (*TwilioSender)(nil)
	_ caddy.Provisioner     = (*TwilioSender)(nil)
	_ caddy.Validator       = (*TwilioSender)(nil)
	_ caddy.CleanerUpper    = (*TwilioSender)(nil)
	_ caddyfile.Unmarshaler = (*TwilioSender)(nil)
)
