package caddyotp

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/caddyotp/internal/phone"
)

// checkCounter counts the store's code checks.
type checkCounter struct {
	Store
	checks atomic.Int64
}

func (s *checkCounter) CheckCode(ctx context.Context, k CodeKey, lockGroup string, hash []byte, policy LockPolicy) (CheckResult, error) {
	s.checks.Add(1)
	return s.Store.CheckCode(ctx, k, lockGroup, hash, policy)
}

// FuzzVerifyInput drives Verify with any mobile and code: a mobile that is not E.164 is
// invalid_mobile and a code that is not exactly the template's length in ASCII digits is
// invalid_otp, both before the store is touched; a well-formed pair costs exactly one
// store check.
func FuzzVerifyInput(f *testing.F) {
	_, app := newBenchGate(f)
	counter := &checkCounter{Store: app.store}
	app.store = counter
	t := app.template(DefaultTemplate)
	for _, s := range [][2]string{
		{"+447400123456", "123456"}, {"+447400123456", "000000"}, {"+447400123456", "12345"},
		{"+447400123456", "1234567"}, {"+447400123456", " 123456"}, {"+447400123456", "12345 "},
		{"+447400123456", "+12345"}, {"+447400123456", "-12345"}, {"+447400123456", "１２３４５６"},
		{"+447400123456", "١٢٣٤٥٦"}, {"+447400123456", "12345\x00"}, {"+447400123456", ""},
		{"447400123456", "123456"}, {"+٤٤7400123456", "123456"}, {"+44 7400 123456", "123456"},
		{"+4474001234567890", "123456"}, {"+447400123456;ext=1", "123456"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(tt *testing.T, mobile, code string) {
		before := counter.checks.Load()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := app.Verify(ctx, VerifyRequest{Template: t, Mobile: mobile, Code: code})
		var e *Error
		if !errors.As(err, &e) {
			tt.Fatalf("Verify(%q, %q): expected an *Error, got %v", mobile, code, err)
		}
		checked := counter.checks.Load() - before
		wellFormed := len(code) == t.Length
		for i := 0; i < len(code); i++ {
			wellFormed = wellFormed && '0' <= code[i] && code[i] <= '9'
		}
		_, perr := phone.Parse(mobile)
		switch {
		case perr != nil:
			if e.Code != CodeInvalidMobile || checked != 0 {
				tt.Fatalf("Verify(%q, %q): expected invalid_mobile without a store check, got %s after %d", mobile, code, e.Code, checked)
			}
		case !wellFormed:
			if e.Code != CodeInvalidOTP || checked != 0 {
				tt.Fatalf("Verify(%q, %q): expected invalid_otp without a store check, got %s after %d", mobile, code, e.Code, checked)
			}
		default:
			if e.Code == CodeInvalidOTP || e.Code == CodeInvalidMobile || checked != 1 {
				tt.Fatalf("Verify(%q, %q): expected one store check, got %s after %d", mobile, code, e.Code, checked)
			}
		}
	})
}
