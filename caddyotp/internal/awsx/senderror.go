package awsx

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"syscall"
	"time"

	"github.com/aws/smithy-go"

	"github.com/caddyotp/caddyotp/caddyotp"
)

// Attempt makes one send call, in a context that its own timeout cuts off (the caller's
// deadline, when shorter, wins), and tells what a failure means for an SMS that may have
// been billed: the error is then a *caddyotp.SendError (see SendError).
func Attempt[T any](ctx context.Context, timeout time.Duration, call func(context.Context) (T, error)) (T, error) {
	attemptCtx, cancel := context.WithTimeoutCause(ctx, timeout, ErrAttemptTimeout)
	defer cancel()
	out, err := call(attemptCtx)
	if err != nil {
		var none T
		return none, SendError(ctx, attemptCtx, err)
	}
	return out, nil
}

// ErrAttemptTimeout is the cause a sender gives the context of one attempt cut off by its
// own timeout (context.WithTimeoutCause).
var ErrAttemptTimeout = errors.New("aws attempt timed out")

// ThrottlingCodes are the error codes that mean "slow down": SNS's own "Throttled" (HTTP
// 429), which the SDK's retryer does not list, and the AWS-wide ones.
var ThrottlingCodes = map[string]bool{
	"Throttled":                true,
	"Throttling":               true,
	"ThrottlingException":      true,
	"ThrottledException":       true,
	"TooManyRequestsException": true,
	"RequestLimitExceeded":     true,
}

// SendError turns a failed send call into a *caddyotp.SendError that says whether another
// attempt may help and whether the provider may have billed this one. callerCtx is the
// caller's context, attemptCtx the one the attempt ran in (with ErrAttemptTimeout as its
// timeout's cause).
//
// Maybe delivered: the attempt ended without an answer (the caller's deadline or
// cancellation, the attempt's own timeout, a connection lost) unless the request provably
// never left (see Unsent). An error answer from AWS, or an error before any request
// (missing credentials, a bad endpoint), billed nothing. Throttling and 5xx are retryable,
// other answers (a ValidationException, any 4xx) definite.
func SendError(callerCtx, attemptCtx context.Context, err error) *caddyotp.SendError {
	// The caller gave up: no time is left for another attempt, whatever the failure was.
	if cerr := callerCtx.Err(); cerr != nil {
		code := "Canceled"
		if errors.Is(cerr, context.DeadlineExceeded) {
			code = "DeadlineExceeded"
		}
		return &caddyotp.SendError{Code: code, MaybeDelivered: !Unsent(err), Err: err}
	}
	// The sender's own per-attempt timeout: like a lost connection, a fresh attempt may work.
	if errors.Is(context.Cause(attemptCtx), ErrAttemptTimeout) {
		return &caddyotp.SendError{Code: "Timeout", Retryable: true, MaybeDelivered: !Unsent(err), Err: err}
	}

	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		code := apiErr.ErrorCode()
		return &caddyotp.SendError{Code: code, Retryable: ThrottlingCodes[code] || HTTPStatus(err) >= 500, Err: err}
	}
	if status := HTTPStatus(err); status != 0 {
		// an answer without a readable error document
		return &caddyotp.SendError{Code: "HTTP" + strconv.Itoa(status), Retryable: status >= 500, Err: err}
	}
	if ConnectionError(err) {
		return &caddyotp.SendError{Code: "ConnectionError", Retryable: true, MaybeDelivered: !Unsent(err), Err: err}
	}
	return &caddyotp.SendError{Code: "ClientError", Err: err}
}

// Unsent reports whether err proves that the provider billed nothing: an answer came back
// (it carries an HTTP status), or the connection was never made (a failed dial, refused).
func Unsent(err error) bool {
	if HTTPStatus(err) != 0 {
		return true
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

// HTTPStatus is the HTTP status of the answer that err came from, or 0 when there was none.
func HTTPStatus(err error) int {
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// ConnectionError reports whether err is a failure to reach AWS or to read its answer:
// refused, reset, or closed before a reply.
func ConnectionError(err error) bool {
	var ce interface{ ConnectionError() bool } // smithy's RequestSendError and friends
	if errors.As(err, &ce) && ce.ConnectionError() {
		return true
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE)
}
