package eumdouble

import (
	"testing"

	"github.com/caddyotp/caddyotp/internal/snsdouble"
)

// endpointVar is the SDK's endpoint override for End User Messaging SMS, from its service
// id "Pinpoint SMS Voice V2".
const endpointVar = "AWS_ENDPOINT_URL_PINPOINT_SMS_VOICE_V2"

// OfflineAWS sets the offline AWS environment for the rest of the test (snsdouble's: fixed
// credentials, empty shared files, no instance metadata, no region, no endpoint override),
// so that the real SDK talks to nothing but the double it is pointed at.
func OfflineAWS(t *testing.T) {
	t.Helper()
	snsdouble.OfflineAWS(t)
	t.Setenv(endpointVar, "")
}

// OfflineAWSEnv is the same environment as KEY=value lines, for a child process.
func OfflineAWSEnv(t testing.TB) []string {
	t.Helper()
	return append(snsdouble.OfflineAWSEnv(t), endpointVar+"=")
}
