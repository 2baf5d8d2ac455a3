package caddyotp

import (
	"os/exec"
	"strings"
	"testing"
)

// TestHostImportsNoGuest: the host package depends on no provider SDK, no database client
// and none of its guests or handlers, so that those stay swappable and the host small.
func TestHostImportsNoGuest(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("expected the host's dependency list, got %q", out)
	}
	forbidden := []string{
		"github.com/aws/", "github.com/redis/", "github.com/twilio/",
		"github.com/caddyotp/caddyotp/caddyotp/memorystore", "github.com/caddyotp/caddyotp/caddyotp/redisstore",
		"github.com/caddyotp/caddyotp/caddyotp/logsender", "github.com/caddyotp/caddyotp/caddyotp/snssender",
		"github.com/caddyotp/caddyotp/caddyotp/eumsender", "github.com/caddyotp/caddyotp/caddyotp/sqsreports",
		"github.com/caddyotp/caddyotp/caddyotp/logsreports", "github.com/caddyotp/caddyotp/caddyotp/httpsender",
		"github.com/caddyotp/caddyotp/caddyotp/twiliosender", "github.com/caddyotp/caddyotp/caddyotp/failoversender",
		"github.com/caddyotp/caddyotp/caddyotp/otpgate", "github.com/caddyotp/caddyotp/caddyotp/otpapi",
		"github.com/caddyotp/caddyotp/caddyotp/otpdashboard",
	}
	for _, d := range deps {
		for _, f := range forbidden {
			if strings.HasPrefix(d, f) {
				t.Errorf("expected the host not to depend on %s, it does (%s)", f, d)
			}
		}
	}
}
