package integration

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/internal/snsdouble"
	"github.com/caddyotp/caddyotp/internal/testnet"
)

// TestAttackTemplateKeyInAccessLog turns on the site's access log and calls the API with
// the key as `Authorization: Bearer`: the call works and the log never shows the key
// (Caddy redacts Authorization). The `template-key` header still works, and the log shows
// it, which is why the README recommends Bearer.
func TestAttackTemplateKeyInAccessLog(t *testing.T) {
	sns := snsdouble.New(t)
	base := testnet.Site(testnet.FreePort(t))
	logPath := filepath.Join(t.TempDir(), "access.log")
	startCaddy(t, fmt.Sprintf("{\n%s\n}\n\n%s {\n\tlog {\n\t\toutput file %s\n\t}\n\thandle_path /otp/* {\n\t\totp_api\n\t}\n}\n",
		otpOptions(sns, "resend 0s"), base, logPath))

	// readLog waits until the log has n API lines (Caddy also logs the harness's start-up
	// probe) and returns it.
	const apiLine = `"uri":"/otp/send-otp"`
	readLog := func(n int) string {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			raw, _ := os.ReadFile(logPath)
			if strings.Count(string(raw), apiLine) >= n || time.Now().After(deadline) {
				return string(raw)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	type call struct {
		name    string
		headers map[string]string
		status  int
	}
	run := func(calls []call) {
		t.Helper()
		for _, tc := range calls {
			a := request(t, "POST", base+"/otp/send-otp", nil, map[string]string{"mobile": apiMobile}, "", tc.headers)
			if a.status != tc.status {
				t.Errorf("%s: expected %d, got %d %s", tc.name, tc.status, a.status, a.body)
			}
		}
	}
	run([]call{
		{"Bearer", map[string]string{"Authorization": "Bearer " + templateKey}, http.StatusOK},
		{"bearer in lower case", map[string]string{"Authorization": "bearer " + templateKey}, http.StatusOK},
		{"Bearer with a wrong key", map[string]string{"Authorization": "Bearer wrong-" + templateKey}, http.StatusUnauthorized},
		{"Basic", map[string]string{"Authorization": "Basic " + templateKey}, http.StatusUnauthorized},
	})
	if log := readLog(4); strings.Count(log, apiLine) != 4 || strings.Contains(log, templateKey) {
		t.Errorf("expected 4 access log lines without the key when Bearer is used, got:\n%s", log)
	}
	run([]call{
		{"Bearer and a template-key that differs", map[string]string{"Authorization": "Bearer " + templateKey, "template-key": "wrong-" + templateKey}, http.StatusUnauthorized},
		{"Bearer and the same template-key", map[string]string{"Authorization": "Bearer " + templateKey, "template-key": templateKey}, http.StatusOK},
	})
	before := len(readLog(6))

	a := request(t, "POST", base+"/otp/send-otp", nil, map[string]string{"mobile": apiMobile}, "", apiKey)
	if a.status != http.StatusOK {
		t.Fatalf("template-key: expected 200, got %d %s", a.status, a.body)
	}
	if log := readLog(7)[before:]; !strings.Contains(log, templateKey) {
		t.Errorf("expected the access log to show the template-key header (the danger Bearer avoids), got:\n%s", log)
	}
}
