package snsdouble

import (
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// offlineVars is the AWS SDK environment that points at nothing real: fixed credentials,
// empty shared files, no instance metadata, no region and no endpoint override. EMPTY
// stands for the path of an empty file.
var offlineVars = map[string]string{
	"AWS_ACCESS_KEY_ID":                  "test",
	"AWS_SECRET_ACCESS_KEY":              "test",
	"AWS_SESSION_TOKEN":                  "",
	"AWS_EC2_METADATA_DISABLED":          "true",
	"AWS_CONFIG_FILE":                    "EMPTY",
	"AWS_SHARED_CREDENTIALS_FILE":        "EMPTY",
	"AWS_PROFILE":                        "",
	"AWS_DEFAULT_PROFILE":                "",
	"AWS_REGION":                         "",
	"AWS_DEFAULT_REGION":                 "",
	"AWS_ENDPOINT_URL":                   "",
	"AWS_ENDPOINT_URL_SNS":               "",
	"AWS_DEFAULTS_MODE":                  "",
	"AWS_CONTAINER_CREDENTIALS_FULL_URI": "",
	"AWS_WEB_IDENTITY_TOKEN_FILE":        "",
}

// OfflineAWS sets the offline AWS environment for the rest of the test, so that the real
// SDK talks to nothing but the double it is pointed at.
func OfflineAWS(t *testing.T) {
	t.Helper()
	for _, kv := range OfflineAWSEnv(t) {
		k, v, _ := cut(kv)
		t.Setenv(k, v)
	}
}

// OfflineAWSEnv is the same environment as KEY=value lines, for a child process.
func OfflineAWSEnv(t testing.TB) []string {
	t.Helper()
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatalf("writing an empty AWS config: %v", err)
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

func cut(kv string) (string, string, bool) {
	for i := 0; i < len(kv); i++ {
		if kv[i] == '=' {
			return kv[:i], kv[i+1:], true
		}
	}
	return kv, "", false
}
