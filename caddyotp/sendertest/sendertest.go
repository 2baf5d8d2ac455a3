// Package sendertest holds what the tests of a Sender share, in this module or outside it.
package sendertest

import (
	"errors"
	"testing"

	"github.com/caddyotp/caddyotp/caddyotp"
)

// AsSendError is err as the *caddyotp.SendError every failed Send must return; it fails t
// when err is nil or not one.
func AsSendError(t testing.TB, err error) *caddyotp.SendError {
	t.Helper()
	if err == nil {
		t.Fatal("expected an error, got none")
	}
	var se *caddyotp.SendError
	if !errors.As(err, &se) {
		t.Fatalf("expected a *SendError, got %T: %v", err, err)
	}
	return se
}
