package caddyotp

import (
	"fmt"
	"net/http"
	"time"
)

// Error codes of the API (docs/api.md); each maps to exactly one HTTP status in errorStatus.
const (
	CodeInvalidJSON              = "invalid_json"
	CodeInvalidMobile            = "invalid_mobile"
	CodeInvalidOTP               = "invalid_otp"
	CodeInvalidSenderID          = "invalid_sender_id"
	CodeInvalidOriginationNumber = "invalid_origination_number"
	CodeInvalidLimit             = "invalid_limit"
	CodeInvalidDays              = "invalid_days"
	CodeInvalidTemplateKey       = "invalid_template_key"
	CodeOTPIncorrect             = "otp_incorrect"
	CodeOTPRequired              = "otp_required"
	CodeCountryNotAllowed        = "country_not_allowed"
	CodeNotFound                 = "not_found"
	CodeMethodNotAllowed         = "method_not_allowed"
	CodeOTPExpired               = "otp_expired"
	CodeBodyTooLarge             = "body_too_large"
	CodeUnsupportedMediaType     = "unsupported_media_type"
	CodeRateLimited              = "rate_limited"
	CodeResendTooSoon            = "resend_too_soon"
	CodeBudgetExhausted          = "budget_exhausted"
	CodeTooManyAttempts          = "too_many_attempts"
	CodeLocked                   = "locked"
	CodeSendFailed               = "send_failed"
	CodeStoreUnavailable         = "store_unavailable"
	CodeInternal                 = "internal_error"
)

// errorStatus is the one place where an error code gets its HTTP status.
var errorStatus = map[string]int{
	CodeInvalidJSON:              http.StatusBadRequest,
	CodeInvalidMobile:            http.StatusBadRequest,
	CodeInvalidOTP:               http.StatusBadRequest,
	CodeInvalidSenderID:          http.StatusBadRequest,
	CodeInvalidOriginationNumber: http.StatusBadRequest,
	CodeInvalidLimit:             http.StatusBadRequest,
	CodeInvalidDays:              http.StatusBadRequest,
	CodeInvalidTemplateKey:       http.StatusUnauthorized,
	CodeOTPIncorrect:             http.StatusUnauthorized,
	CodeOTPRequired:              http.StatusUnauthorized,
	CodeCountryNotAllowed:        http.StatusForbidden,
	CodeNotFound:                 http.StatusNotFound,
	CodeMethodNotAllowed:         http.StatusMethodNotAllowed,
	CodeOTPExpired:               http.StatusGone,
	CodeBodyTooLarge:             http.StatusRequestEntityTooLarge,
	CodeUnsupportedMediaType:     http.StatusUnsupportedMediaType,
	CodeRateLimited:              http.StatusTooManyRequests,
	CodeResendTooSoon:            http.StatusTooManyRequests,
	CodeBudgetExhausted:          http.StatusTooManyRequests,
	CodeTooManyAttempts:          http.StatusTooManyRequests,
	CodeLocked:                   http.StatusTooManyRequests,
	CodeSendFailed:               http.StatusBadGateway,
	CodeStoreUnavailable:         http.StatusServiceUnavailable,
	CodeInternal:                 http.StatusInternalServerError,
}

// Error is a refusal of the service that the API and the gate show to the client.
type Error struct {
	Code         string
	Message      string
	RetryAfter   time.Duration // sent as Retry-After (whole seconds, rounded up) when set
	AttemptsLeft int           // with otp_incorrect
	Err          error         // the cause, for the log only
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Code + ": " + e.Message + ": " + e.Err.Error()
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Status is the HTTP status that goes with the error's code.
func (e *Error) Status() int {
	if s, ok := errorStatus[e.Code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// RetryAfterSeconds rounds RetryAfter up to whole seconds, at least 1.
func (e *Error) RetryAfterSeconds() int {
	s := int((e.RetryAfter + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return s
}

func NewError(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func StoreError(err error) *Error {
	return &Error{Code: CodeStoreUnavailable, Message: "the OTP store is unavailable; nothing was sent or checked", Err: err}
}
