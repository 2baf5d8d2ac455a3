package awsdouble

import (
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
)

// offlineVars is the AWS SDK environment that points at nothing real: fixed credentials,
// empty shared files, no instance metadata, no region, and no endpoint override, neither
// the global one nor those of the services the project's guests use. EMPTY stands for the
// path of an empty file.
var offlineVars = map[string]string{
	"AWS_ACCESS_KEY_ID":                      "test",
	"AWS_SECRET_ACCESS_KEY":                  "test",
	"AWS_SESSION_TOKEN":                      "",
	"AWS_EC2_METADATA_DISABLED":              "true",
	"AWS_CONFIG_FILE":                        "EMPTY",
	"AWS_SHARED_CREDENTIALS_FILE":            "EMPTY",
	"AWS_PROFILE":                            "",
	"AWS_DEFAULT_PROFILE":                    "",
	"AWS_REGION":                             "",
	"AWS_DEFAULT_REGION":                     "",
	"AWS_ENDPOINT_URL":                       "",
	"AWS_ENDPOINT_URL_SNS":                   "",
	"AWS_ENDPOINT_URL_PINPOINT_SMS_VOICE_V2": "",
	"AWS_ENDPOINT_URL_SQS":                   "",
	"AWS_ENDPOINT_URL_CLOUDWATCH_LOGS":       "",
	"AWS_DEFAULTS_MODE":                      "",
	"AWS_CONTAINER_CREDENTIALS_FULL_URI":     "",
	"AWS_WEB_IDENTITY_TOKEN_FILE":            "",
}

// OfflineAWS sets the offline AWS environment for the rest of the test, so that the real
// SDK talks to nothing but the double it is pointed at.
func OfflineAWS(tb testing.TB) {
	tb.Helper()
	for _, kv := range OfflineAWSEnv(tb) {
		k, v, _ := strings.Cut(kv, "=")
		tb.Setenv(k, v)
	}
}

// OfflineAWSEnv is the same environment as sorted KEY=value lines, for a child process.
func OfflineAWSEnv(tb testing.TB) []string {
	tb.Helper()
	empty := filepath.Join(tb.TempDir(), "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		tb.Fatalf("writing an empty AWS config: %v", err)
	}
	env := make([]string, 0, len(offlineVars))
	for k, v := range offlineVars {
		if v == "EMPTY" {
			v = empty
		}
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	return env
}

// OnlyInstanceMetadata sets, for the rest of the test, the offline environment without its
// credentials: no credentials anywhere, an instance metadata service that knows nothing
// (a stand-in on 127.0.0.1), and the defaults mode that asks it when the config loads. It
// returns the stand-in's count of requests: a guest that makes no AWS call at provision
// leaves it at 0, and the SDK's credential chain asks it at the first call.
func OnlyInstanceMetadata(tb testing.TB) *atomic.Int64 {
	tb.Helper()
	OfflineAWS(tb)
	srv, err := Listen("127.0.0.1:0")
	if err != nil {
		tb.Fatalf("starting the instance metadata stand-in: %v", err)
	}
	var hits atomic.Int64
	srv.Serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.NotFound(w, r)
	}))
	tb.Cleanup(srv.Close)
	tb.Setenv("AWS_ACCESS_KEY_ID", "")
	tb.Setenv("AWS_SECRET_ACCESS_KEY", "")
	tb.Setenv("AWS_DEFAULTS_MODE", "auto")
	tb.Setenv("AWS_EC2_METADATA_DISABLED", "false")
	tb.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", srv.URL())
	return &hits
}

// SharedConfig makes text the shared config file (AWS_CONFIG_FILE) for the rest of the
// test, such as "[profile otp]\nregion = ap-southeast-2\n".
func SharedConfig(tb testing.TB, text string) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "config")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		tb.Fatalf("writing an AWS config: %v", err)
	}
	tb.Setenv("AWS_CONFIG_FILE", path)
}
