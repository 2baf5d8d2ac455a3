package snsdouble

import (
	"testing"

	"github.com/caddyotp/caddyotp/internal/awsdouble"
)

// OfflineAWS sets the offline AWS environment of awsdouble.OfflineAWS for the rest of the
// test (fixed credentials, empty shared files, no instance metadata, no region, no endpoint
// override), so that the real SDK talks to nothing but the double it is pointed at.
func OfflineAWS(tb testing.TB) {
	tb.Helper()
	awsdouble.OfflineAWS(tb)
}
