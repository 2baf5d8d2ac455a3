package caddyotp

import (
	"context"
	"errors"
	"time"
)

// Sender sends one SMS. Senders are guest modules in the otp.senders namespace, so another
// plugin can add a provider. A sender makes exactly one attempt per call: the service owns
// the attempt policy (at most two attempts inside the send deadline, each one counted by the
// limits), so that it is the same for every provider.
type Sender interface {
	// Send makes one attempt to deliver msg and returns the provider's message id.
	// Every failure is a *SendError: the sender knows its provider's errors, the service
	// decides only from the SendError's fields. An error that is not a *SendError is taken
	// as maybe delivered and not retryable: the budget keeps its reservation and no second
	// attempt is made, since nothing says the first one billed nothing.
	Send(ctx context.Context, msg SMS) (messageID string, err error)
}

// PricedSender is a Sender whose provider may say in its answer what the SMS cost (the
// http sender's price_field, Twilio's price): the service then records the ledger entry's
// billed price at once and moves the budget by billed − estimate, as a delivery report
// would.
type PricedSender interface {
	Sender
	// SendPriced is Send, with the provider's price when its answer had one.
	SendPriced(ctx context.Context, msg SMS) (Receipt, error)
}

// Receipt is a provider's answer to a send that worked.
type Receipt struct {
	MessageID string
	// BilledUSD is what the provider says the whole message cost, all parts together; it
	// counts only with HasPrice.
	BilledUSD float64
	HasPrice  bool
}

// Router is a Sender made of other senders, such as otp.senders.failover. The service asks
// it which senders to try, in order, and makes one attempt at each in turn, every attempt
// through the budget and the ledger under its route's provider name: a definite failure
// moves on to the next route; a failure that may have been sent stops (FailsOver).
type Router interface {
	Sender
	// Routes returns the senders to try now, in order; never empty.
	Routes(now time.Time) []Route
	// Record tells the router how an attempt at the route named provider went: nil when
	// the SMS was sent.
	Record(provider string, err error, now time.Time)
}

// Route is one sender a Router offers.
type Route struct {
	Provider string // its name in the ledger and the metrics: "sns", "twilio", "http#2"
	Sender   Sender
}

// FailsOver reports whether, after the failed attempt err, another provider may be tried:
// only when the failure was definite, so that nothing may have been sent or billed.
func FailsOver(err error) bool { return !maybeDelivered(err) }

// sendOnce makes one attempt at s, with the price when s can tell it.
func sendOnce(ctx context.Context, s Sender, msg SMS) (Receipt, error) {
	if ps, ok := s.(PricedSender); ok {
		return ps.SendPriced(ctx, msg)
	}
	id, err := s.Send(ctx, msg)
	return Receipt{MessageID: id}, err
}

// SMS is one message to send.
type SMS struct {
	To                string  // E.164
	Text              string  // the whole text, code included
	SenderID          string  // alphanumeric sender ID, may be empty
	OriginationNumber string  // E.164, may be empty
	MaxPriceUSD       float64 // the most the provider may charge per part, 0 for no cap

	Template string        // the template's name, for a provider that can carry it (End User Messaging's Context)
	TTL      time.Duration // the code's lifetime: a provider that can should not deliver later
}

// FeedbackSender is a Sender that tells its provider which codes were used, such as End
// User Messaging's PutMessageFeedback: the provider learns which SMS arrived without a
// delivery receipt from the carrier. The app calls Feedback in the background after a
// right code, never delaying the answer, when WantsFeedback is true.
type FeedbackSender interface {
	Sender
	// WantsFeedback reports whether feedback is configured.
	WantsFeedback() bool
	// Feedback tells the provider that the SMS messageID reached its reader.
	Feedback(ctx context.Context, messageID string) error
}

// SendError is a failed send attempt, told in the words the service acts on.
type SendError struct {
	// Code is the provider's error code, such as "Throttled" or "InvalidParameter"; it goes
	// to the ledger and the log.
	Code string
	// Retryable says another attempt may work: throttling, a 5xx, a timeout, a lost
	// connection. The service then makes a second attempt if the send deadline allows.
	Retryable bool
	// MaybeDelivered says the request may have reached the provider and been billed: it
	// went out and no answer came back (a timeout, a connection lost mid-request). The
	// service then keeps the budget reservation and writes the ledger entry "unknown".
	// False means the provider answered with an error or the request never left: nothing
	// was billed, and the reservation is given back.
	MaybeDelivered bool
	Err            error
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

// maybeDelivered reports whether a failed attempt may have been billed. An error that is
// not a *SendError breaks the Sender contract and counts as maybe delivered, so that the
// budget never forgets an SMS that may be on its way.
func maybeDelivered(err error) bool {
	var se *SendError
	if errors.As(err, &se) {
		return se.MaybeDelivered
	}
	return true
}
