package caddyotp

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/caddyotp/caddyotp/caddyotp/internal/otpcode"
	"github.com/caddyotp/caddyotp/caddyotp/internal/phone"
	"github.com/caddyotp/caddyotp/caddyotp/internal/smsparts"
)

// maxSendAttempts bounds the provider calls of one send: Publish is not idempotent, so every
// attempt may bill an SMS (SECURITY.md, "The provider").
const maxSendAttempts = 2

// retryBackoff is the pause before the second attempt.
var retryBackoff = 250 * time.Millisecond

// SendRequest asks for a code to be sent.
type SendRequest struct {
	Template          *Template
	Mobile            string // as the client gave it; checked here
	SenderID          string // overrides the template's when set
	OriginationNumber string // overrides the template's when set
	ClientIP          string // Caddy's {client_ip}

	// Locale picks the SMS text: the template's Messages entry that best matches this
	// BCP 47 tag (the gate's page language, the API's `locale`), else its Message.
	Locale string

	// Decoy runs every store step of a send for a mobile that may not sign in (the gate's
	// refused mobiles): the country, the lock, the resend interval and the limits are
	// checked and taken, and the hash of a code nobody is told is stored, so that attempts
	// left, burning, expiry, the lock, a spent budget and a store outage read as for an
	// allowed mobile. No SMS: the provider and the ledger are not touched, and the budget is
	// only asked (reserved and given back at once).
	Decoy bool
}

// SendResult is a successful send.
type SendResult struct {
	MessageID string
	Mobile    string
	ExpiresIn time.Duration
}

// Send checks the request, the lock, the resend interval, the limits and the budget, in
// that order and all before the provider is called; then stores the code's hash and sends
// it. A failed send leaves no live code and gives back its budget reservation. A Decoy send
// stops once the code's hash is stored. A send to one of the template's test numbers
// stores the hash of its fixed code and ledgers it, without the budget or the provider.
func (a *App) Send(ctx context.Context, req SendRequest) (SendResult, error) {
	t := req.Template
	num, err := phone.Parse(req.Mobile)
	if err != nil {
		return SendResult{}, &Error{Code: CodeInvalidMobile, Message: err.Error()}
	}
	sms := SMS{To: num.E164, SenderID: t.SenderID, OriginationNumber: t.OriginationNumber, MaxPriceUSD: t.MaxPrice,
		Template: t.name, TTL: time.Duration(t.TTL)}
	if req.SenderID != "" {
		if err := checkSenderID(req.SenderID); err != nil {
			return SendResult{}, &Error{Code: CodeInvalidSenderID, Message: "sender_id " + err.Error()}
		}
		sms.SenderID = req.SenderID
	}
	if req.OriginationNumber != "" {
		if err := checkOriginationNumber(req.OriginationNumber); err != nil {
			return SendResult{}, &Error{Code: CodeInvalidOriginationNumber, Message: "origination_number " + err.Error()}
		}
		sms.OriginationNumber = req.OriginationNumber
	}
	if !t.allowsCountry(num.Country) {
		a.metrics.limitHits.WithLabelValues(t.name, "country").Inc()
		return SendResult{}, NewError(CodeCountryNotAllowed, "sending to %s numbers is not allowed for this template", num.Country)
	}
	if err := a.checkGuard(ctx, t, num); err != nil {
		return SendResult{}, err
	}

	key := CodeKey{Template: t.name, Mobile: num.E164}
	nonce := newNonce()
	d, err := a.store.ClaimSend(ctx, key, t.lockGroup, nonce, time.Duration(*t.Resend))
	if err != nil {
		return SendResult{}, StoreError(err)
	}
	if !d.Allowed {
		return SendResult{}, a.refusal(t, d)
	}
	// From here on every early return gives the resend interval back.
	release := func() {
		if err := a.store.ReleaseSend(context.WithoutCancel(ctx), key, nonce); err != nil {
			a.logger.Error("releasing resend interval", zap.String("mobile", num.Mask()), zap.Error(err))
		}
	}

	if refusal, err := a.takeLimits(ctx, t, num, req.ClientIP); err != nil || refusal != nil {
		release()
		if err != nil {
			return SendResult{}, StoreError(err)
		}
		return SendResult{}, refusal
	}

	code, isTest := t.testCodes[num.E164]
	if !isTest {
		code, err = otpcode.Generate(t.Length)
		if err != nil {
			release()
			return SendResult{}, &Error{Code: CodeInternal, Message: "could not make a code", Err: err}
		}
	}
	sms.Text = t.render(t.messageFor(req.Locale), code)
	parts, _ := smsparts.Count(sms.Text)
	price := float64(parts) * a.priceUSD(num.Country)
	if req.Decoy {
		return a.storeDecoy(ctx, t, key, num, toMicroUSD(price), release)
	}
	if isTest {
		return a.storeTest(ctx, t, key, num, code, parts, release)
	}

	hash := otpcode.Hash(a.secret, t.name, num.E164, code)
	if err := a.store.PutCode(ctx, key, hash, t.Attempts, time.Duration(t.TTL)); err != nil {
		release()
		return SendResult{}, StoreError(err)
	}

	id, sendErr := a.deliver(ctx, t, num, sms, parts, price, req.ClientIP)
	if sendErr != nil {
		cleanup := context.WithoutCancel(ctx)
		if err := a.store.DropCode(cleanup, key, hash); err != nil {
			a.logger.Error("dropping the code of a failed send", zap.String("mobile", num.Mask()), zap.Error(err))
		}
		release()
		return SendResult{}, sendErr
	}
	a.countGuard(ctx, t, num, false)
	if a.feedback != nil && id != "" {
		// for the provider's feedback once the code is used; a failure costs only that
		if err := a.store.SetCodeMessage(context.WithoutCancel(ctx), key, hash, id); err != nil {
			a.logger.Warn("noting the message id on the code", zap.String("message_id", id), zap.Error(err))
		}
	}
	a.logger.Info("otp sent", zap.String("template", t.name), zap.String("mobile", num.Mask()),
		zap.String("country", num.Country), zap.Int("parts", parts), zap.Float64("price_usd", price),
		zap.String("message_id", id))
	return SendResult{MessageID: id, Mobile: num.E164, ExpiresIn: time.Duration(t.TTL)}, nil
}

// storeDecoy ends a Decoy send. It asks the budget for the SMS's estimate and gives it back
// at once, so that a spent budget refuses a decoy as it refuses a real send (which then
// leaves no code either). Then it stores, as PutCode does for a real code, the hash of a
// random string nobody is told. The string is not digits of the template's length, which
// Verify checks before hashing, so no code can ever match it.
func (a *App) storeDecoy(ctx context.Context, t *Template, key CodeKey, num phone.Number, micro int64, release func()) (SendResult, error) {
	at := time.Now()
	d, err := a.store.ReserveBudget(ctx, at, micro, a.budgetCaps())
	if err != nil {
		release()
		return SendResult{}, StoreError(err)
	}
	if !d.Allowed {
		release()
		return SendResult{}, a.refusal(t, d)
	}
	if err := a.store.ReleaseBudget(context.WithoutCancel(ctx), at, micro); err != nil {
		a.logger.Error("releasing a decoy's budget check", zap.Error(err))
	}
	hash := otpcode.Hash(a.secret, t.name, num.E164, "decoy:"+newNonce())
	if err := a.store.PutCode(ctx, key, hash, t.Attempts, time.Duration(t.TTL)); err != nil {
		release()
		return SendResult{}, StoreError(err)
	}
	a.logger.Info("decoy code stored", zap.String("template", t.name), zap.String("mobile", num.Mask()),
		zap.String("country", num.Country))
	return SendResult{Mobile: num.E164, ExpiresIn: time.Duration(t.TTL)}, nil
}

// storeTest ends a send to a test number: it stores the hash of the number's fixed code, as
// PutCode does for a real one, and ledgers the send as "test" at 0 USD from provider
// "test". No SMS, no budget, and no count (the daily counts take only SMS that left, and
// the guard's counts are about real destinations).
func (a *App) storeTest(ctx context.Context, t *Template, key CodeKey, num phone.Number, code string, parts int, release func()) (SendResult, error) {
	hash := otpcode.Hash(a.secret, t.name, num.E164, code)
	if err := a.store.PutCode(ctx, key, hash, t.Attempts, time.Duration(t.TTL)); err != nil {
		release()
		return SendResult{}, StoreError(err)
	}
	id := "test-" + newNonce()
	entry := LedgerEntry{Time: time.Now().UTC(), Template: t.name, Provider: providerTest, MessageID: id, Mobile: num.Mask(),
		Country: num.Country, Parts: parts, PriceUSD: 0, Status: statusTest}
	if err := a.store.AppendLedger(context.WithoutCancel(ctx), entry); err != nil {
		a.logger.Error("recording the sms in the ledger", zap.String("message_id", id), zap.Error(err))
	}
	a.logger.Info("otp sent to a test number: no sms", zap.String("template", t.name), zap.String("mobile", num.Mask()),
		zap.String("country", num.Country), zap.String("message_id", id))
	return SendResult{MessageID: id, Mobile: num.E164, ExpiresIn: time.Duration(t.TTL)}, nil
}

// deliver makes the provider attempts of one send inside the send timeout. With one sender,
// at most maxSendAttempts, the second only after a retryable failure; it takes the limits
// again, since a retried attempt may bill a second SMS. With a Router (failover), one
// attempt per route in turn, the next only after a definite failure. Every attempt
// reserves the budget and goes to the ledger under its provider's name.
func (a *App) deliver(ctx context.Context, t *Template, num phone.Number, sms SMS, parts int, price float64, clientIP string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(a.SendTimeout))
	defer cancel()
	start := time.Now()
	defer func() { a.metrics.sendDuration.WithLabelValues(t.name).Observe(time.Since(start).Seconds()) }()

	router, failover := a.sender.(Router)
	routes := []Route{{Provider: a.provider, Sender: a.sender}}
	if failover {
		if routes = router.Routes(start); len(routes) == 0 {
			return "", a.sendFailed(&SendError{Code: "NoRoute", Err: errors.New("the failover offered no sender")})
		}
	}
	micro := toMicroUSD(price)
	var lastErr error
	for attempt := 1; ; attempt++ {
		route := routes[0]
		if failover {
			route = routes[attempt-1]
		} else if attempt > 1 {
			select {
			case <-time.After(retryBackoff):
			case <-ctx.Done():
				return "", a.sendFailed(lastErr)
			}
			if refusal, err := a.takeLimits(ctx, t, num, clientIP); err != nil || refusal != nil {
				return "", a.sendFailed(lastErr)
			}
		}
		at := time.Now()
		d, err := a.store.ReserveBudget(ctx, at, micro, a.budgetCaps())
		if err != nil {
			if attempt == 1 {
				return "", StoreError(err)
			}
			return "", a.sendFailed(lastErr)
		}
		if !d.Allowed {
			if attempt == 1 {
				return "", a.refusal(t, d)
			}
			return "", a.sendFailed(lastErr)
		}

		receipt, err := sendOnce(ctx, route.Sender, sms)
		if failover {
			router.Record(route.Provider, err, time.Now())
		}
		entry := a.attemptEntry(ctx, t, num, route.Provider, at, receipt, err, parts, price, micro, attempt)
		if lerr := a.store.AppendLedger(context.WithoutCancel(ctx), entry); lerr != nil {
			a.logger.Error("recording the sms in the ledger", zap.String("message_id", entry.MessageID), zap.Error(lerr))
		}
		if err == nil {
			return receipt.MessageID, nil
		}
		lastErr = err
		more := retryable(err) && attempt < maxSendAttempts
		if failover {
			more = FailsOver(err) && attempt < len(routes)
		}
		if !more || ctx.Err() != nil {
			break
		}
	}
	return "", a.sendFailed(lastErr)
}

// attemptEntry is the ledger entry of one attempt at provider, reserved micro at at. It
// settles the attempt's budget and metrics: a definite failure gives the reservation back;
// one that may have been sent keeps it ("unknown"); a price in the provider's answer
// becomes the entry's billed price and moves the budget by billed − estimate.
func (a *App) attemptEntry(ctx context.Context, t *Template, num phone.Number, provider string, at time.Time, receipt Receipt,
	err error, parts int, price float64, micro int64, attempt int) LedgerEntry {
	entry := LedgerEntry{Time: at.UTC(), Template: t.name, Provider: provider, MessageID: receipt.MessageID, Mobile: num.Mask(),
		Country: num.Country, Parts: parts, PriceUSD: price, Status: statusSent}
	settle := context.WithoutCancel(ctx)
	switch {
	case err == nil && receipt.HasPrice:
		billed := receipt.BilledUSD
		entry.BilledUSD = &billed
		a.moveBudget(settle, at, ToMicroUSD(billed)-micro)
		a.metrics.billed.WithLabelValues(t.name, num.Country).Add(billed)
	case err != nil:
		entry.Status, entry.Error = statusFailed, providerCode(err)
		if maybeDelivered(err) {
			// The request went out and no answer came back: the SMS may be on its way
			// and billed. Keep the reservation and count the spend; a budget that
			// forgot it would not be a hard stop.
			entry.Status = statusUnknown
		} else {
			entry.PriceUSD = 0
			if rerr := a.store.ReleaseBudget(settle, at, micro); rerr != nil {
				a.logger.Error("releasing a budget reservation", zap.Error(rerr))
			}
		}
		kind := "permanent"
		if retryable(err) {
			kind = "retryable"
		}
		a.metrics.providerErrors.WithLabelValues(t.name, kind, provider).Inc()
		a.logger.Warn("sms send failed", zap.String("template", t.name), zap.String("mobile", num.Mask()),
			zap.String("provider", provider), zap.Int("attempt", attempt), zap.String("error_code", entry.Error),
			zap.String("status", entry.Status), zap.Error(err))
	}
	a.metrics.sends.WithLabelValues(t.name, num.Country, entry.Status, provider).Inc()
	if entry.PriceUSD > 0 {
		a.metrics.spend.WithLabelValues(t.name, num.Country).Add(entry.PriceUSD)
	}
	return entry
}

// moveBudget moves the spend of at's day and month by delta micro-USD: a price the provider
// told at once, against the estimate reserved. It is spent already, so no cap applies.
func (a *App) moveBudget(ctx context.Context, at time.Time, delta int64) {
	var err error
	switch {
	case delta > 0:
		_, err = a.store.ReserveBudget(ctx, at, delta, BudgetCaps{})
	case delta < 0:
		err = a.store.ReleaseBudget(ctx, at, -delta)
	}
	if err != nil {
		a.logger.Error("correcting the budget to the provider's price", zap.Int64("micro_usd", delta), zap.Error(err))
	}
}

func (a *App) sendFailed(err error) *Error {
	return &Error{Code: CodeSendFailed, Message: "the SMS provider did not accept the message; no code was issued", Err: err}
}

// takeLimits takes one send from every limit of the template in one store step, all or
// nothing: a send refused by one limit spends none of the others. An empty clientIP (no
// client, as in a test) skips the ip limit; IPv6 clients are counted by their /64.
func (a *App) takeLimits(ctx context.Context, t *Template, num phone.Number, clientIP string) (*Error, error) {
	takes := make([]LimitTake, 0, len(limitKinds))
	for _, kind := range limitKinds {
		l, on := t.limits[kind.Name]
		if !on {
			continue
		}
		if key, have := kind.Key(num, clientIP); have {
			takes = append(takes, LimitTake{Kind: kind.Name, Key: key, Limit: l})
		}
	}
	d, err := a.store.Allow(ctx, t.name, takes)
	if err != nil {
		return nil, err
	}
	if !d.Allowed {
		a.metrics.limitHits.WithLabelValues(t.name, d.Limit).Inc()
		return &Error{Code: CodeRateLimited, Message: "too many codes requested (" + d.Limit + " limit); try again later", RetryAfter: d.RetryAfter}, nil
	}
	return nil, nil
}

// refusal turns a store's refusal into the client's error.
func (a *App) refusal(t *Template, d Decision) *Error {
	switch d.Reason {
	case ReasonLocked:
		a.metrics.limitHits.WithLabelValues(t.name, "locked").Inc()
		return lockedError(d.RetryAfter)
	case ReasonTooSoon:
		a.metrics.limitHits.WithLabelValues(t.name, "resend").Inc()
		return &Error{Code: CodeResendTooSoon, Message: "a code was sent to this mobile moments ago; wait before asking for another", RetryAfter: d.RetryAfter}
	case ReasonBudget:
		a.metrics.limitHits.WithLabelValues(t.name, "budget").Inc()
		return &Error{Code: CodeBudgetExhausted, Message: "the SMS budget is used up; no more codes are sent for now", RetryAfter: d.RetryAfter}
	default:
		return &Error{Code: CodeRateLimited, Message: "too many codes requested; try again later", RetryAfter: d.RetryAfter}
	}
}

func lockedError(retryAfter time.Duration) *Error {
	return &Error{Code: CodeLocked, Message: "too many wrong codes for this mobile; try again later", RetryAfter: retryAfter}
}

// VerifyRequest asks whether a code is right.
type VerifyRequest struct {
	Template *Template
	Mobile   string
	Code     string
}

// Verify checks and consumes a code in one store step. It returns the mobile in E.164.
// The work is the same for an unknown mobile, a wrong code and a right one: one HMAC and one
// store call.
func (a *App) Verify(ctx context.Context, req VerifyRequest) (string, error) {
	t := req.Template
	num, err := phone.Parse(req.Mobile)
	if err != nil {
		return "", &Error{Code: CodeInvalidMobile, Message: err.Error()}
	}
	if len(req.Code) != t.Length || !otpcode.Valid(req.Code) {
		return "", NewError(CodeInvalidOTP, "otp must be %d ASCII digits", t.Length)
	}
	hash := otpcode.Hash(a.secret, t.name, num.E164, req.Code)
	res, err := a.store.CheckCode(ctx, CodeKey{Template: t.name, Mobile: num.E164}, t.lockGroup, hash, a.policy)
	if err != nil {
		return "", StoreError(err)
	}
	a.metrics.verifications.WithLabelValues(t.name, num.Country, string(res.Outcome)).Inc()
	if res.LockedNow {
		a.metrics.lockouts.WithLabelValues(t.name).Inc()
		a.logger.Warn("mobile locked after wrong codes", zap.String("template", t.name), zap.String("lock_group", t.lockGroup),
			zap.String("mobile", num.Mask()), zap.Duration("for", res.RetryAfter))
		// The failure that starts a lock says so, rather than "N attempts left".
		return "", lockedError(res.RetryAfter)
	}
	switch res.Outcome {
	case OutcomeVerified:
		if _, isTest := t.testCodes[num.E164]; isTest {
			// a test number's send was not counted, so neither is its code
			return num.E164, nil
		}
		// the daily counts: the code's own step is in the mobile's slot, the counts in the
		// template's, so this is a second step; a failure costs one count, logged
		if err := a.store.CountVerified(context.WithoutCancel(ctx), t.name, StatsCountry(num.Country), time.Now()); err != nil {
			a.logger.Warn("counting a verified code", zap.String("template", t.name), zap.Error(err))
		}
		a.countGuard(ctx, t, num, true)
		if a.feedback != nil && res.MessageID != "" {
			a.sendFeedback(res.MessageID)
		}
		return num.E164, nil
	case OutcomeIncorrect:
		return "", &Error{Code: CodeOTPIncorrect, Message: "the code is not right", AttemptsLeft: res.AttemptsLeft}
	case OutcomeBurned:
		return "", &Error{Code: CodeTooManyAttempts, Message: "too many wrong codes: this code no longer works; ask for a new one"}
	case OutcomeExpired:
		return "", NewError(CodeOTPExpired, "no live code for this mobile: it expired, was used, or was never sent")
	case OutcomeLocked:
		return "", lockedError(res.RetryAfter)
	}
	return "", StoreError(errors.New("unknown outcome " + string(res.Outcome)))
}

// sendFeedback tells the sender, in the background, that the SMS messageID was used.
func (a *App) sendFeedback(messageID string) {
	a.bg.run(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(a.SendTimeout))
		defer cancel()
		if err := a.feedback.Feedback(ctx, messageID); err != nil {
			a.logger.Warn("sms feedback failed", zap.String("message_id", messageID), zap.Error(err))
			return
		}
		a.metrics.feedback.WithLabelValues(a.provider).Inc()
	})
}

// Ledger statuses of a send attempt, also the outcome label of caddy_otp_sms_sends_total.
const (
	statusSent    = "sent"    // the provider accepted it
	statusFailed  = "failed"  // the provider refused it, or it never left: nothing billed
	statusUnknown = "unknown" // it left and no answer came back: it may have been billed
	statusTest    = "test"    // a send to a test number: no SMS, 0 USD (ledger only)
)

// providerTest is the ledger's provider of a send to a test number.
const providerTest = "test"

func providerCode(err error) string {
	var se *SendError
	if errors.As(err, &se) && se.Code != "" {
		return se.Code
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timeout"
	}
	return "error"
}

func newNonce() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}
