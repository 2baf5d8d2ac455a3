package integration

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/internal/redistest"
	"github.com/caddyotp/caddyotp/internal/snsdouble"
)

const (
	sharedSecret = "integration-secret-0123456789abcdef0123"
	templateKey  = "integration-template-key-0123456789"
	gateMobile   = "+447400123456"
	apiMobile    = "+447400123457"
	// revocationBound is how soon a logout must take effect on every instance (SPEC).
	revocationBound = time.Second
)

// instanceCaddyfile is one of several Caddy instances sharing redisAddr and the secret:
// the API under /otp/, a gate on /admin/* in front of upstream.
func instanceCaddyfile(port int, redisAddr, snsURL, upstream string) string {
	return fmt.Sprintf(`{
	otp {
		secret %s
		store redis {
			address %s
		}
		sender sns {
			region eu-west-2
			endpoint %s
		}
		template login {
			key %s
		}
	}
}

%s {
	handle_path /otp/* {
		otp_api
	}
	otp_gate /admin/* login {
		allow %s
	}
	handle /admin/* {
		reverse_proxy %s
	}
	handle {
		respond "not gated"
	}
}
`, sharedSecret, redisAddr, snsURL, templateKey, site(port), gateMobile, upstream)
}

// TestInstances runs three built Caddy processes on one redis-server with one secret.
func TestInstances(t *testing.T) {
	rds := redistest.Start(t)
	sns := snsdouble.New(t)
	var upstreamHits atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		upstreamHits.Add(1)
		fmt.Fprintf(w, "upstream: mobile=%s", r.Header.Get("X-OTP-Mobile"))
	}))
	t.Cleanup(up.Close)

	start := time.Now()
	var bases []string
	for range 3 {
		port := freePort(t)
		startCaddy(t, instanceCaddyfile(port, rds.Addr(), sns.URL(), up.Listener.Addr().String()))
		bases = append(bases, site(port))
	}
	t.Logf("3 instances up in %s", time.Since(start).Round(time.Millisecond))
	a, b, c := bases[0], bases[1], bases[2]

	t.Run("api", func(t *testing.T) {
		key := map[string]string{"template-key": templateKey}
		before := sns.Count()
		p := request(t, "POST", a+"/otp/send-otp", nil, map[string]string{"mobile": apiMobile}, "", key)
		if p.status != http.StatusOK || !strings.Contains(p.body, `"status":"sent"`) {
			t.Fatalf("expected 200 sent from A, got %d %s", p.status, p.body)
		}
		code := waitSMS(t, sns, before+1, apiMobile)
		p = request(t, "POST", b+"/otp/verify-otp", nil, map[string]string{"mobile": apiMobile, "otp": code}, "", key)
		if p.status != http.StatusOK || !strings.Contains(p.body, `"status":"verified"`) {
			t.Fatalf("expected 200 verified from B for a code sent by A, got %d %s", p.status, p.body)
		}
		p = request(t, "POST", c+"/otp/verify-otp", nil, map[string]string{"mobile": apiMobile, "otp": code}, "", key)
		if p.status != http.StatusGone || !strings.Contains(p.body, `"code":"otp_expired"`) {
			t.Fatalf("expected 410 otp_expired from C for a code used on B, got %d %s", p.status, p.body)
		}
	})

	t.Run("gate", func(t *testing.T) {
		jar := newJarClient(t)
		session := gateSignIn(t, jar, sns, a+"/admin/", gateMobile)
		old := "otp_session=" + session

		// The jar carries the cookie A set to B and C: the same origin host, as behind a
		// load balancer.
		for name, base := range map[string]string{"A": a, "B": b, "C": c} {
			p := requestWith(t, jar, "GET", base+"/admin/page", nil, nil, "", htmlAccept)
			if p.status != http.StatusOK || p.body != "upstream: mobile="+gateMobile {
				t.Fatalf("expected 200 from the upstream with the mobile through %s, got %d %q", name, p.status, p.body)
			}
		}

		// Log out on B.
		p := requestWith(t, jar, "GET", b+"/admin/.otp/logout", nil, nil, "", htmlAccept)
		if p.status != http.StatusOK || !strings.Contains(p.body, "Sign out") {
			t.Fatalf("expected the sign-out page on B, got %d %s", p.status, p.body)
		}
		sent := time.Now()
		p = requestWith(t, jar, "POST", b+"/admin/.otp/logout", url.Values{"_otp_csrf": {p.csrf(t)}}, nil, "", nil)
		answered := time.Now()
		if p.status != http.StatusSeeOther || p.header.Get("Location") != "/admin/" {
			t.Fatalf("expected 303 to /admin/ from B's logout, got %d %q", p.status, p.header.Get("Location"))
		}
		if p := request(t, "GET", b+"/admin/", nil, nil, old, htmlAccept); p.status != http.StatusUnauthorized {
			t.Fatalf("expected 401 on B for the logged-out cookie right after logout, got %d", p.status)
		}

		// A and C must refuse the old cookie within the bound; poll both and measure.
		hitsBefore := upstreamHits.Load()
		for name, base := range map[string]string{"A": a, "C": c} {
			deadline := answered.Add(3 * revocationBound)
			polls := 0
			for {
				polls++
				p := request(t, "GET", base+"/admin/", nil, nil, old, htmlAccept)
				if p.status == http.StatusUnauthorized {
					break
				}
				if p.status != http.StatusOK {
					t.Fatalf("expected 200 or 401 on %s while the logout spreads, got %d %s", name, p.status, p.body)
				}
				if time.Now().After(deadline) {
					t.Fatalf("expected %s to refuse the logged-out cookie within %s, got 200 after %s",
						name, revocationBound, time.Since(answered).Round(time.Millisecond))
				}
				time.Sleep(5 * time.Millisecond)
			}
			delay := time.Since(answered)
			t.Logf("logout on B refused on %s after %s from the logout's answer (%s from its request), %d polls",
				name, delay.Round(100*time.Microsecond), time.Since(sent).Round(100*time.Microsecond), polls)
			if delay > revocationBound {
				t.Errorf("expected the logout to reach %s within %s, got %s", name, revocationBound, delay.Round(time.Millisecond))
			}
		}
		// Every poll that passed reached the upstream; once refused, none does.
		hitsAfter := upstreamHits.Load()
		for _, base := range []string{a, b, c} {
			if p := request(t, "GET", base+"/admin/x", nil, nil, old, nil); p.status != http.StatusUnauthorized || !strings.Contains(p.body, `"otp_required"`) {
				t.Fatalf("expected 401 otp_required at %s for the logged-out cookie, got %d %s", base, p.status, p.body)
			}
		}
		if got := upstreamHits.Load(); got != hitsAfter {
			t.Errorf("expected no upstream request for a logged-out cookie, got %d more", got-hitsAfter)
		}
		t.Logf("upstream requests while the logout spread: %d", hitsAfter-hitsBefore)
	})
}

// TestCaddyfileExample runs the repo's Caddyfile.example unchanged, as a new user would,
// and follows the README's curl flow. Only the admin endpoint is moved off localhost:2019
// (CADDY_ADMIN), so the test does not collide with another Caddy on the machine.
func TestCaddyfileExample(t *testing.T) {
	for _, port := range []int{8080, 9000} {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatalf("port %d is taken (%v): Caddyfile.example listens on localhost:8080 and 127.0.0.1:9000; stop what uses it and run again", port, err)
		}
		l.Close()
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "Caddyfile.example")); err != nil {
		t.Fatalf("expected Caddyfile.example at the repo root: %v", err)
	}
	p := runCaddy(t, root, []string{fmt.Sprintf("CADDY_ADMIN=127.0.0.1:%d", freePort(t))}, "run", "--config", "Caddyfile.example")
	p.waitHTTP("http://127.0.0.1:8080/", "http://127.0.0.1:9000/")

	if out := p.output(); !strings.Contains(out, `"logger":"otp.senders.log"`) || !strings.Contains(strings.ToLower(out), "warn") {
		t.Errorf("expected the log sender's start-up warning in Caddy's log, got:\n%s", p.tail(20))
	}

	// The README's flow: localhost:8080, sent to 127.0.0.1 with the site's Host.
	host := map[string]string{"Host": "localhost:8080", "template-key": "demo-template-key-change-me"}
	const demoMobile = "+447400123456"
	logged := len(p.output())
	a := request(t, "POST", "http://127.0.0.1:8080/otp/send-otp", nil, map[string]string{"mobile": demoMobile}, "", host)
	if a.status != http.StatusOK || !strings.Contains(a.body, `"status":"sent"`) || !strings.Contains(a.body, `"mobile":"`+demoMobile+`"`) {
		t.Fatalf("expected 200 sent, got %d %s", a.status, a.body)
	}
	code := p.waitOutput(regexp.MustCompile(`"logger":"otp\.senders\.log"[^\n]*Your verification code is (\d{6})\.`), logged, 5*time.Second)

	a = request(t, "POST", "http://127.0.0.1:8080/otp/verify-otp", nil, map[string]string{"mobile": demoMobile, "otp": code}, "", host)
	if a.status != http.StatusOK || !strings.Contains(a.body, `"status":"verified"`) {
		t.Fatalf("expected 200 verified, got %d %s", a.status, a.body)
	}
	a = request(t, "POST", "http://127.0.0.1:8080/otp/verify-otp", nil, map[string]string{"mobile": demoMobile, "otp": code}, "", host)
	if a.status != http.StatusGone || !strings.Contains(a.body, `"code":"otp_expired"`) {
		t.Fatalf("expected 410 otp_expired on a second verify, got %d %s", a.status, a.body)
	}
	a = request(t, "GET", "http://127.0.0.1:8080/otp/sms-log?limit=10", nil, nil, "", host)
	if a.status != http.StatusOK || !strings.Contains(a.body, `"count":1`) {
		t.Fatalf("expected 200 with one SMS in the log, got %d %s", a.status, a.body)
	}

	// The demo gate answers a browser with the challenge.
	a = request(t, "GET", "http://127.0.0.1:8080/admin/", nil, nil, "", map[string]string{"Host": "localhost:8080", "Accept": "text/html"})
	if a.status != http.StatusUnauthorized || !strings.Contains(a.body, `name="mobile"`) || !strings.Contains(a.body, "caddyotp demo") {
		t.Fatalf("expected 401 and the demo's challenge page, got %d %s", a.status, a.body)
	}
}
