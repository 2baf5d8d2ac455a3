// Package httpsend is what the senders that speak plain HTTP (otp.senders.http,
// otp.senders.twilio) share: a client that follows no redirect, and the one mapping of an
// HTTP exchange to the host's SendError, so that both read a status, a timeout and a lost
// connection the same way.
package httpsend

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"

	"github.com/caddyotp/caddyotp/caddyotp"
)

// Client is an HTTP client for one provider: each exchange is cut off after timeout, and
// no redirect is followed (a 3xx answer comes back as it is; the sender treats it as a
// definite failure), so a provider cannot send the message, or its credentials, elsewhere.
func Client(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          16,
			MaxIdleConnsPerHost:   16,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   timeout,
			ExpectContinueTimeout: time.Second,
		},
	}
}

// StatusError is the SendError of an answer with a status that is not 2xx: 429 and 5xx are
// retryable, anything else (a 3xx, a 4xx) definite. An answer means the provider decided:
// nothing was sent. code is the provider's own error code when its body had one, else
// "HTTP<status>".
func StatusError(status int, code string, err error) *caddyotp.SendError {
	if code == "" {
		code = "HTTP" + strconv.Itoa(status)
	}
	return &caddyotp.SendError{Code: code, Retryable: status == http.StatusTooManyRequests || status >= 500, Err: err}
}

// TransportError is the SendError of an exchange that got no answer (err from
// http.Client.Do, or from reading the answer's body). ctx is the caller's context.
//
// Maybe delivered, unless the request provably never left (a failed dial, refused): a
// timeout, the caller's deadline or a connection lost may come after the provider took the
// message. Timeouts and lost connections are retryable; the caller giving up is not.
func TransportError(ctx context.Context, err error) *caddyotp.SendError {
	maybe := !Unsent(err)
	if cerr := ctx.Err(); cerr != nil {
		code := "Canceled"
		if errors.Is(cerr, context.DeadlineExceeded) {
			code = "DeadlineExceeded"
		}
		return &caddyotp.SendError{Code: code, MaybeDelivered: maybe, Err: err}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &caddyotp.SendError{Code: "Timeout", Retryable: true, MaybeDelivered: maybe, Err: err}
	}
	if connectionError(err) {
		return &caddyotp.SendError{Code: "ConnectionError", Retryable: true, MaybeDelivered: maybe, Err: err}
	}
	return &caddyotp.SendError{Code: "ClientError", MaybeDelivered: maybe, Err: err}
}

// Unsent reports whether err proves the request never reached the provider: the
// connection was never made.
func Unsent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns) || errors.Is(err, syscall.ECONNREFUSED)
}

func connectionError(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE)
}
