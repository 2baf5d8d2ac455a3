package integration

import (
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/caddyotp/caddyotp/internal/snsdouble"
	"github.com/caddyotp/caddyotp/internal/testnet"
)

// otpOptions is the global `otp` block of the attack tests of this issue: the SNS double,
// the shared secret, and a template `login` with the API key and templateLines inside.
func otpOptions(sns *snsdouble.Double, templateLines string) string {
	return fmt.Sprintf(`	otp {
		secret %s
		sender sns {
			region eu-west-2
			endpoint %s
		}
		prices {
			default %v
		}
		template login {
			key %s
			%s
		}
	}
`, sharedSecret, sns.URL(), smsPrice, templateKey, templateLines)
}

// docServersBlock is the `servers { … }` block of the fenced Caddyfile example in doc that
// sets trusted_proxies, with its ranges replaced by ranges (the test's proxy).
func docServersBlock(t *testing.T, doc, ranges string) string {
	t.Helper()
	raw, err := os.ReadFile("../" + doc)
	if err != nil {
		t.Fatal(err)
	}
	fence := regexp.MustCompile("(?s)```caddyfile\n(.*?)```")
	for _, m := range fence.FindAllStringSubmatch(string(raw), -1) {
		block := m[1]
		if !strings.Contains(block, "trusted_proxies static") {
			continue
		}
		start := strings.Index(block, "servers {")
		if start < 0 {
			t.Fatalf("%s: expected the trusted_proxies example inside `servers {`, got\n%s", doc, block)
		}
		var lines []string
		for _, line := range strings.Split(block[start:], "\n") {
			lines = append(lines, strings.TrimSpace(line))
			if strings.TrimSpace(line) == "}" {
				break
			}
		}
		if lines[len(lines)-1] != "}" {
			t.Fatalf("%s: expected the servers block to close, got\n%s", doc, block)
		}
		block = strings.Join(lines, "\n")
		return regexp.MustCompile(`trusted_proxies static [^\n]+`).ReplaceAllString(block, "trusted_proxies static "+ranges)
	}
	t.Fatalf("%s: expected a fenced caddyfile example with trusted_proxies", doc)
	return ""
}

// TestAttackTrustedProxies plays a load balancer (the test's own connection, from
// 127.0.0.1) that appends the client's address to the X-Forwarded-For the client sent.
// The client writes a new left-most address on every request. With the servers block the
// README and SECURITY.md recommend, Caddy reads the right-most untrusted entry (the one the
// balancer wrote) and the ip limit holds; without trusted_proxies_strict Caddy takes the
// left-most one, which the client chose, and every send gets through: the documented
// danger, asserted so that it stays true and documented.
func TestAttackTrustedProxies(t *testing.T) {
	const (
		ipLimit  = 3
		attempts = 12
		realIP   = "198.51.100.7" // the client's address, as the balancer appends it
	)
	for _, doc := range []string{"README.md", "SECURITY.md"} {
		servers := docServersBlock(t, doc, "127.0.0.1/32")
		if !strings.Contains(servers, "trusted_proxies_strict") {
			t.Errorf("%s: expected the trusted_proxies example to set trusted_proxies_strict, got\n%s", doc, servers)
		}
		loose := regexp.MustCompile(`\n\s*trusted_proxies_strict[^\n]*`).ReplaceAllString(servers, "")
		for _, tc := range []struct {
			name    string
			servers string
			sent    int
		}{
			{doc + " as written", servers, ipLimit},
			{doc + " without trusted_proxies_strict (the danger)", loose, attempts},
		} {
			t.Run(tc.name, func(t *testing.T) {
				sns := snsdouble.New(t)
				site := testnet.Site(testnet.FreePort(t))
				startCaddy(t, fmt.Sprintf("{\n%s\n%s\n}\n\n%s {\n\thandle_path /otp/* {\n\t\totp_api\n\t}\n}\n",
					otpOptions(sns, fmt.Sprintf("resend 0s\n\t\t\tlimit mobile 0 1h\n\t\t\tlimit prefix 0 1h\n\t\t\tlimit template 0 1h\n\t\t\tlimit ip %d 1h", ipLimit)),
					tc.servers, site))
				sent := 0
				for i := 0; i < attempts; i++ {
					a := request(t, "POST", site+"/otp/send-otp", nil, map[string]string{"mobile": apiMobile}, "", map[string]string{
						"template-key":    templateKey,
						"X-Forwarded-For": fmt.Sprintf("10.66.%d.%d, %s", i/250, i%250+1, realIP),
					})
					switch {
					case a.status == http.StatusOK:
						sent++
					case a.status == http.StatusTooManyRequests && strings.Contains(a.body, `"rate_limited"`):
					default:
						t.Fatalf("send %d: expected 200 or 429 rate_limited, got %d %s", i+1, a.status, a.body)
					}
				}
				if sent != tc.sent {
					t.Errorf("expected %d of %d sends through, got %d", tc.sent, attempts, sent)
				}
			})
		}
	}
}
