// Package httpsender is the otp.senders.http guest: each SMS is POSTed to a URL of the
// user's, as JSON or a form, optionally signed with HMAC-SHA256, so that any provider or
// in-house gateway with an HTTP API can send the codes. What an exchange means for the
// service (caddyotp.SendError) is told by internal/httpsend, which Twilio shares.
package httpsender

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/internal/httpsend"
)

func init() {
	caddy.RegisterModule(HTTPSender{})
}

// HTTPSender sends each SMS as one POST to `url`. The body, JSON or a form, has `to` (the
// mobile, E.164), `text` (the whole message, code included), `sender_id` and
// `origination_number` (the template's, each left out when empty) and `reference`: 32 hex
// digits, new at every attempt, so that the receiver can drop a request it has already
// seen. With `sign`, the request carries `X-OTP-Signature: t=<unix seconds>,v1=<hex
// HMAC-SHA256 of "<t>.<body>">` over the exact bytes of the body.
//
// A 2xx answer means sent; 429 and 5xx are failures worth another attempt; any other
// status, a 3xx included (no redirect is followed), is a definite failure; no answer (a
// timeout, a connection lost) may have been sent. Only the first 64 KiB of an answer are
// read. The message id is the value at `message_id_field` in a JSON answer, else the
// reference; the price at `price_field`, when given, is billed at once.
type HTTPSender struct {
	// Where each SMS is POSTed: an `http://` or `https://` URL, which may hold `{env.*}`
	// placeholders (resolved at start). Required.
	URL string `json:"url,omitempty"`

	// Headers sent with every request, such as `Authorization` (a name may have several
	// values). Values may hold `{env.*}` placeholders, resolved at start; a value that is
	// empty then is an error. `Host`, `Content-Length`, `Content-Type` and
	// `X-OTP-Signature` are the sender's own and cannot be set.
	// Default: none
	Headers http.Header `json:"headers,omitempty"`

	// How the body is encoded: `json` (an object, `Content-Type: application/json`) or
	// `form` (`application/x-www-form-urlencoded`).
	// Default: json
	Format string `json:"format,omitempty"`

	// The secret that signs each request with HMAC-SHA256, in the `X-OTP-Signature` header:
	// at least 16 bytes once its `{env.*}` placeholders are resolved. Give it as a
	// placeholder, such as `{env.SMS_SIGNING_SECRET}`, to keep it out of the config. The
	// receiver checks the signature and refuses a timestamp more than a few minutes old.
	// Default: none (requests are not signed)
	Sign string `json:"sign,omitempty"`

	// Where the provider's message id is in a JSON answer: a JSON pointer (RFC 6901), such
	// as `/id` or `/messages/0/id` (`~1` stands for a `/` in a key, `~0` for a `~`). The
	// value must be a string or a number. An answer without it still counts as sent, with
	// the reference as the message id, and a warning.
	// Default: none (the reference is the message id)
	MessageIDField string `json:"message_id_field,omitempty"`

	// Where the price of the SMS, in USD for all its parts, is in a JSON answer: a JSON
	// pointer (RFC 6901), as for `message_id_field`. The value must be a number or a string
	// holding one, from 0 to 100; the ledger then records it as billed and the budget moves
	// to it at once. A missing or invalid price leaves the estimate, with a warning.
	// Default: none (the template's price estimate is kept)
	PriceField string `json:"price_field,omitempty"`

	// How long one attempt may take, from connecting to reading the answer: from 1s to 30s.
	// The service's own send deadline, when shorter, wins.
	// Default: 5s
	Timeout caddy.Duration `json:"timeout,omitempty"`

	url          string      // URL with its placeholders resolved
	target       string      // url without query, fragment or credentials, for errors
	headers      http.Header // Headers, canonical names, placeholders resolved
	secret       []byte      // Sign resolved
	idPointer    pointer
	pricePointer pointer
	client       *http.Client
	logger       *zap.Logger
}

const (
	defaultTimeout = 5 * time.Second
	minTimeout     = time.Second
	maxTimeout     = 30 * time.Second
	minSecret      = 16
)

// reservedHeaders are set by the sender itself (or by Go's client, for Host and
// Content-Length) and cannot be configured.
var reservedHeaders = []string{"Host", "Content-Length", "Content-Type", signatureHeader}

// CaddyModule returns the Caddy module information.
func (HTTPSender) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "otp.senders.http",
		New: func() caddy.Module { return new(HTTPSender) },
	}
}

// Provision sets the defaults, resolves the placeholders of url, headers and sign, checks
// the result and makes the HTTP client. It makes no request.
func (s *HTTPSender) Provision(ctx caddy.Context) error {
	s.logger = ctx.Logger()
	if s.Format == "" {
		s.Format = formatJSON
	}
	if s.Timeout == 0 {
		s.Timeout = caddy.Duration(defaultTimeout)
	}
	repl := caddy.NewReplacer()
	s.url = repl.ReplaceKnown(s.URL, "")
	s.secret = []byte(repl.ReplaceKnown(s.Sign, ""))
	s.headers = make(http.Header, len(s.Headers))
	for name, values := range s.Headers {
		for _, v := range values {
			s.headers.Add(name, repl.ReplaceKnown(v, ""))
		}
	}
	if err := s.Validate(); err != nil {
		return err
	}
	u, _ := url.Parse(s.url) // Validate parsed it
	s.target = (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
	s.idPointer, _ = parsePointer(s.MessageIDField)
	s.pricePointer, _ = parsePointer(s.PriceField)
	s.client = httpsend.Client(time.Duration(s.Timeout))
	return nil
}

// Validate checks the configuration, placeholders resolved (by Provision); it does no I/O.
func (s *HTTPSender) Validate() error {
	if err := checkURL(s.url); err != nil {
		return fmt.Errorf("http sender: url %w", err)
	}
	if err := checkHeaders(s.headers); err != nil {
		return fmt.Errorf("http sender: header %w", err)
	}
	if s.Format != formatJSON && s.Format != formatForm {
		return fmt.Errorf("http sender: format must be json or form, got %q", s.Format)
	}
	if s.Sign != "" && len(s.secret) < minSecret {
		return fmt.Errorf("http sender: sign must be a secret of at least %d bytes once its placeholders are resolved, got %d",
			minSecret, len(s.secret))
	}
	if _, err := parsePointer(s.MessageIDField); err != nil {
		return fmt.Errorf("http sender: message_id_field %q is not a JSON pointer: %w", s.MessageIDField, err)
	}
	if _, err := parsePointer(s.PriceField); err != nil {
		return fmt.Errorf("http sender: price_field %q is not a JSON pointer: %w", s.PriceField, err)
	}
	if t := time.Duration(s.Timeout); t < minTimeout || t > maxTimeout {
		return fmt.Errorf("http sender: timeout must be from %v to %v, got %v", minTimeout, maxTimeout, t)
	}
	return nil
}

// checkURL says what is wrong with u, the resolved url. Its text is not quoted: a URL may
// hold a token.
func checkURL(u string) error {
	if u == "" {
		return errors.New("is required (is its placeholder's variable set?)")
	}
	parsed, err := url.Parse(u)
	if err != nil {
		return errors.New("is not a valid URL")
	}
	if parsed.Scheme != "http" && parsed.Scheme != "https" {
		return fmt.Errorf("must start with http:// or https://, got scheme %q", parsed.Scheme)
	}
	if parsed.Host == "" {
		return errors.New("has no host")
	}
	return nil
}

// checkHeaders says what is wrong with h, the resolved headers. Values are not quoted: they
// are often credentials.
func checkHeaders(h http.Header) error {
	for name, values := range h {
		if !validHeaderName(name) {
			return fmt.Errorf("name %q is not a valid header name", name)
		}
		for _, reserved := range reservedHeaders {
			if strings.EqualFold(name, reserved) {
				return fmt.Errorf("%s is set by the sender and cannot be configured", reserved)
			}
		}
		for _, v := range values {
			if v == "" {
				return fmt.Errorf("%s is empty (is its placeholder's variable set?)", name)
			}
			if !validHeaderValue(v) {
				return fmt.Errorf("%s has a control character in its value", name)
			}
		}
	}
	return nil
}

// validHeaderName reports whether name is an HTTP token (RFC 9110, section 5.6.2).
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for _, c := range []byte(name) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '!' || c == '#' || c == '$' || c == '%' || c == '&' || c == '\'' || c == '*' ||
			c == '+' || c == '-' || c == '.' || c == '^' || c == '_' || c == '`' || c == '|' || c == '~') {
			return false
		}
	}
	return true
}

// validHeaderValue reports whether v has no control character but tab (RFC 9110, 5.5).
func validHeaderValue(v string) bool {
	for _, c := range []byte(v) {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// Cleanup closes the client's idle connections; it is safe after a half-done Provision.
func (s *HTTPSender) Cleanup() error {
	if s.client != nil {
		s.client.CloseIdleConnections()
	}
	return nil
}

// Send sends msg in one attempt and returns the message id; it is SendPriced without the
// price.
func (s *HTTPSender) Send(ctx context.Context, msg caddyotp.SMS) (string, error) {
	r, err := s.SendPriced(ctx, msg)
	return r.MessageID, err
}

// SendPriced POSTs msg to the url in one attempt and returns the message id, with the price
// when price_field found one.
func (s *HTTPSender) SendPriced(ctx context.Context, msg caddyotp.SMS) (caddyotp.Receipt, error) {
	if s.client == nil {
		return caddyotp.Receipt{}, &caddyotp.SendError{Code: "NotProvisioned", Err: errors.New("http sender is not provisioned")}
	}
	ref := newReference()
	body, contentType, err := newRequest(msg, ref).encode(s.Format)
	if err != nil {
		return caddyotp.Receipt{}, &caddyotp.SendError{Code: "ClientError", Err: fmt.Errorf("http sender: encoding the body: %w", err)}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return caddyotp.Receipt{}, &caddyotp.SendError{Code: "ClientError", Err: fmt.Errorf("http sender: %w", err)}
	}
	req.Header = s.headers.Clone()
	req.Header.Set("Content-Type", contentType)
	if len(s.secret) > 0 {
		req.Header.Set(signatureHeader, signature(s.secret, time.Now().Unix(), body))
	}

	resp, err := s.client.Do(req)
	if err != nil {
		return caddyotp.Receipt{}, httpsend.TransportError(ctx, s.posting(err))
	}
	defer resp.Body.Close()
	raw, readErr := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return caddyotp.Receipt{}, httpsend.StatusError(resp.StatusCode, "",
			fmt.Errorf("http sender: %s answered %s", s.target, resp.Status))
	}
	return s.receipt(raw, readErr, ref), nil
}

// posting is err, from the client, with the url's query and credentials left out (they may
// hold a token): the error goes to the log.
func (s *HTTPSender) posting(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("http sender: posting to %s: %w", s.target, err)
}

// Interface guards
var (
	_ caddyotp.PricedSender = (*HTTPSender)(nil)
	_ caddy.Provisioner     = (*HTTPSender)(nil)
	_ caddy.Validator       = (*HTTPSender)(nil)
	_ caddy.CleanerUpper    = (*HTTPSender)(nil)
	_ caddyfile.Unmarshaler = (*HTTPSender)(nil)
)
