package caddyotp

import (
	"context"
	"errors"
)

// Sender sends one SMS. Senders are guest modules in the otp.senders namespace, so another
// plugin can add a provider. A sender makes exactly one attempt per call: the service owns
// the attempt policy (at most two attempts inside the send deadline, each one counted by the
// limits), so that it is the same for every provider.
type Sender interface {
	// Send makes one attempt to deliver msg and returns the provider's message id.
	// A failure should be a *SendError, which says whether another attempt may help.
	Send(ctx context.Context, msg SMS) (messageID string, err error)
}

// SMS is one message to send.
type SMS struct {
	To                string  // E.164
	Text              string  // the whole text, code included
	SenderID          string  // alphanumeric sender ID, may be empty
	OriginationNumber string  // E.164, may be empty
	MaxPriceUSD       float64 // the most the provider may charge per part, 0 for no cap
}

// SendError is a failed send attempt.
type SendError struct {
	Code      string // the provider's error code, such as "Throttled" or "InvalidParameter"
	Retryable bool   // throttling, a 5xx or a connection error: another attempt may work
	Err       error
}

func (e *SendError) Error() string {
	if e.Err == nil {
		return "send failed: " + e.Code
	}
	return "send failed: " + e.Code + ": " + e.Err.Error()
}

func (e *SendError) Unwrap() error { return e.Err }

// retryable reports whether err says that another attempt may succeed.
func retryable(err error) bool {
	var se *SendError
	return errors.As(err, &se) && se.Retryable
}
