package sqsdouble

import (
	"strings"
	"testing"

	"github.com/caddyotp/caddyotp/internal/snsdouble"
)

// OfflineAWS sets an AWS SDK environment that points at nothing real (fixed credentials,
// empty shared files, no instance metadata, no region, no endpoint override, SQS's
// included) for the rest of the test, so that the real SDK talks to nothing but the double
// it is pointed at.
func OfflineAWS(tb testing.TB) {
	tb.Helper()
	for _, kv := range snsdouble.OfflineAWSEnv(tb) {
		k, v, _ := strings.Cut(kv, "=")
		tb.Setenv(k, v)
	}
	tb.Setenv("AWS_ENDPOINT_URL_SQS", "")
}
