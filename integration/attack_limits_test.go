package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/caddyotp/caddyotp/internal/redistest"
	"github.com/caddyotp/caddyotp/internal/snsdouble"
	"github.com/caddyotp/caddyotp/internal/testnet"
)

// Issue 10, items 2, 7 and 9: the limits and locks, attacked through a real Caddy.

// limitsTrust makes Caddy take the client IP from X-Forwarded-For sent by the loopback, as
// behind a load balancer that appends: strict, so the right-most untrusted address counts.
const limitsTrust = `servers {
		trusted_proxies static ::1/128 127.0.0.1/32
		trusted_proxies_strict
		client_ip_headers X-Forwarded-For
	}`

// limitsSite is one Caddy with the API under /otp/ and the given templates; gates add
// site lines. store is "memory" or a redis-server's address.
type limitsSite struct {
	base string
	sns  *snsdouble.Double
	proc *caddyProc
}

func startLimitsSite(t *testing.T, store, templates, gates string) *limitsSite {
	t.Helper()
	s := &limitsSite{sns: snsdouble.New(t), base: testnet.Site(testnet.FreePort(t))}
	storeLine := "store memory"
	if store != "memory" {
		storeLine = "store redis {\n\t\t\taddress " + store + "\n\t\t}"
	}
	s.proc = startCaddy(t, fmt.Sprintf(`{
	%s
	otp {
		secret %s
		%s
		sender sns {
			region eu-west-2
			endpoint %s
		}
		%s
	}
}

%s {
	handle_path /otp/* {
		otp_api
	}
	%s
	respond "behind the gate"
}
`, limitsTrust, sharedSecret, storeLine, s.sns.URL(), templates, s.base, gates))
	return s
}

// call posts body to the API path with key and the client IP ip (X-Forwarded-For).
func (s *limitsSite) call(t *testing.T, path, key, ip string, body map[string]string) (int, string) {
	t.Helper()
	a := request(t, "POST", s.base+"/otp/"+path, nil, body, "", map[string]string{"template-key": key, "X-Forwarded-For": ip})
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal([]byte(a.body), &e)
	return a.status, e.Error.Code
}

func (s *limitsSite) send(t *testing.T, key, ip, mobile string) (int, string) {
	t.Helper()
	return s.call(t, "send-otp", key, ip, map[string]string{"mobile": mobile})
}

// TestAttackIPv6OneSlash64: forty sends from forty addresses of one IPv6 /64 get no more
// than the ip limit through; another /64 has a limit of its own.
func TestAttackIPv6OneSlash64(t *testing.T) {
	s := startLimitsSite(t, "memory", `template login {
			key `+templateKey+`
			resend 0s
			limit mobile 0 1h
			limit prefix 0 1h
		}`, "")
	got := map[string]int{}
	for i := range 40 {
		status, code := s.send(t, templateKey, fmt.Sprintf("2001:db8:1:2:%x::%x", i, i+1), gateMobile)
		got[fmt.Sprintf("%d %s", status, code)]++
	}
	if got["200 "] != 20 || got["429 rate_limited"] != 20 || len(got) != 2 {
		t.Fatalf("expected the ip limit (20) to let 20 of 40 through, got %v", got)
	}
	if n := s.sns.Count(); n != 20 {
		t.Fatalf("expected 20 SMS, got %d", n)
	}
	if status, code := s.send(t, templateKey, "2001:db8:1:3::1", gateMobile); status != http.StatusOK {
		t.Fatalf("expected a send from another /64 to pass, got %d %s", status, code)
	}
}

// TestAttackRefusalsSpendNoLimit: from an IP already over its limit, refused sends for a
// victim's number must not use up the victim's mobile limit.
func TestAttackRefusalsSpendNoLimit(t *testing.T) {
	for _, store := range []string{"memory", "redis"} {
		t.Run(store, func(t *testing.T) {
			addr := "memory"
			if store == "redis" {
				addr = redistest.Start(t).Addr()
			}
			s := startLimitsSite(t, addr, `template login {
			key `+templateKey+`
			resend 0s
			limit mobile 5 1h
			limit ip 2 1h
			limit prefix 0 1h
		}`, "")
			const attacker, victimIP = "203.0.113.66", "198.51.100.5"
			for _, m := range []string{apiMobile, "+12025550123"} {
				if status, code := s.send(t, templateKey, attacker, m); status != http.StatusOK {
					t.Fatalf("expected the attacker's first sends to pass, got %d %s", status, code)
				}
			}
			for i := range 5 {
				if status, code := s.send(t, templateKey, attacker, gateMobile); status != http.StatusTooManyRequests || code != "rate_limited" {
					t.Fatalf("send %d for the victim from the attacker's IP: expected 429 rate_limited, got %d %s", i+1, status, code)
				}
			}
			for i := range 5 {
				if status, code := s.send(t, templateKey, fmt.Sprintf("198.51.100.%d", 10+i), gateMobile); status != http.StatusOK {
					t.Fatalf("the victim's own send %d: expected 200 (the mobile limit untouched by refusals), got %d %s", i+1, status, code)
				}
			}
			if n := s.sns.Count(); n != 7 {
				t.Fatalf("expected 7 SMS, got %d", n)
			}
		})
	}
}

// gateGuesser drives a gate's form as a browser would, asking for codes and posting wrong ones.
type gateGuesser struct {
	c      *http.Client
	sns    *snsdouble.Double
	u      string // the gated URL
	mobile string
	page   answer // the last page
}

func newGateGuesser(t *testing.T, sns *snsdouble.Double, u, mobile string) *gateGuesser {
	g := &gateGuesser{c: newJarClient(t), sns: sns, u: u, mobile: mobile}
	g.page = requestWith(t, g.c, "GET", u, nil, nil, "", htmlAccept)
	return g
}

// ask asks for a code and returns it.
func (g *gateGuesser) ask(t *testing.T) string {
	t.Helper()
	before := g.sns.Count()
	a := requestWith(t, g.c, "POST", g.u, url.Values{"_otp_step": {"send"}, "_otp_csrf": {g.page.csrf(t)}, "mobile": {g.mobile}}, nil, "", nil)
	if a.status != http.StatusSeeOther {
		t.Fatalf("expected 303 after send, got %d %s", a.status, a.body)
	}
	code := waitSMS(t, g.sns, before+1, g.mobile)
	g.page = requestWith(t, g.c, "GET", g.u, nil, nil, "", htmlAccept)
	return code
}

// guess posts code and returns the page.
func (g *gateGuesser) guess(t *testing.T, code string) answer {
	t.Helper()
	g.page = requestWith(t, g.c, "POST", g.u, url.Values{"_otp_step": {"verify"}, "_otp_csrf": {g.page.csrf(t)}, "otp": {code}}, nil, "", nil)
	return g.page
}

// wrongGuesses makes n wrong guesses, asking for a new code every attempts guesses, and
// returns the page after the last.
func (g *gateGuesser) wrongGuesses(t *testing.T, n, attempts int) answer {
	t.Helper()
	var code string
	for i := range n {
		if i%attempts == 0 {
			code = g.ask(t)
		}
		g.guess(t, otherCode(code))
	}
	return g.page
}

func otherCode(code string) string {
	if code == "000000" {
		return "000001"
	}
	return "000000"
}

const lockedPage = "Too many wrong codes for this number"

// TestAttackCrossTemplateLock: twenty wrong codes at a public `allow any` gate lock the
// mobile at that gate, and the twentieth says so; the same mobile still signs in at a gate
// of another template.
func TestAttackCrossTemplateLock(t *testing.T) {
	const pubKey = "public-template-key-0123456789"
	s := startLimitsSite(t, "memory", `template public {
			key `+pubKey+`
			resend 0s
			attempts 6
		}
		template admin {
			resend 0s
		}`, `otp_gate /public/* public {
		allow any
	}
	otp_gate /admin/* admin {
		allow `+gateMobile+`
	}`)

	g := newGateGuesser(t, s.sns, s.base+"/public/", gateMobile)
	last := g.wrongGuesses(t, 20, 6)
	if !strings.Contains(last.body, lockedPage) {
		t.Fatalf("expected the 20th wrong code to show the lock, got %d %q", last.status, pageError(last))
	}
	if _, code := s.send(t, pubKey, "192.0.2.1", gateMobile); code != "locked" {
		t.Fatalf("expected the public template locked for the mobile, got %q", code)
	}
	if session := gateSignIn(t, newJarClient(t), s.sns, s.base+"/admin/", gateMobile); session == "" {
		t.Fatal("expected a session at the admin gate")
	}

	// The API's twentieth wrong code answers locked too.
	var code string
	for i := range 20 {
		if i%6 == 0 {
			before := s.sns.Count()
			if status, e := s.send(t, pubKey, "192.0.2.2", apiMobile); status != http.StatusOK {
				t.Fatalf("expected a send, got %d %s", status, e)
			}
			code = waitSMS(t, s.sns, before+1, apiMobile)
		}
		status, e := s.call(t, "verify-otp", pubKey, "192.0.2.2", map[string]string{"mobile": apiMobile, "otp": otherCode(code)})
		if i < 19 && e != "otp_incorrect" && e != "too_many_attempts" {
			t.Fatalf("wrong code %d: expected otp_incorrect or too_many_attempts, got %d %s", i+1, status, e)
		}
		if i == 19 && (status != http.StatusTooManyRequests || e != "locked") {
			t.Fatalf("wrong code 20: expected 429 locked, got %d %s", status, e)
		}
	}
}

// pageError is the error a gate page shows, or the whole body if none is found.
func pageError(a answer) string {
	if m := pageErrorPattern.FindStringSubmatch(a.body); m != nil {
		return m[1]
	}
	return a.body
}

var pageErrorPattern = regexp.MustCompile(`(?s)class="error"[^>]*>(.*?)<`)

// TestAttackSharedLockGroup: templates that name one lock_group share the lock. Twenty
// wrong codes at the public gate lock the mobile at the admin template too.
func TestAttackSharedLockGroup(t *testing.T) {
	const adminKey = "admin-template-key-0123456789"
	s := startLimitsSite(t, "memory", `template public {
			resend 0s
			lock_group staff
		}
		template admin {
			key `+adminKey+`
			resend 0s
			lock_group staff
		}
		template other {
			key `+templateKey+`
			resend 0s
		}`, `otp_gate /public/* public {
		allow any
	}
	otp_gate /admin/* admin {
		allow `+gateMobile+`
	}`)

	g := newGateGuesser(t, s.sns, s.base+"/public/", gateMobile)
	if last := g.wrongGuesses(t, 20, 5); !strings.Contains(last.body, lockedPage) {
		t.Fatalf("expected the 20th wrong code to show the lock, got %d %q", last.status, pageError(last))
	}
	if status, code := s.send(t, adminKey, "192.0.2.1", gateMobile); status != http.StatusTooManyRequests || code != "locked" {
		t.Fatalf("expected the admin template (same lock group) locked, got %d %s", status, code)
	}
	admin := newGateGuesser(t, s.sns, s.base+"/admin/", gateMobile)
	before := s.sns.Count()
	a := requestWith(t, admin.c, "POST", admin.u, url.Values{"_otp_step": {"send"}, "_otp_csrf": {admin.page.csrf(t)}, "mobile": {gateMobile}}, nil, "", nil)
	if a.status != http.StatusSeeOther {
		t.Fatalf("expected 303 after send, got %d %s", a.status, a.body)
	}
	admin.page = requestWith(t, admin.c, "GET", admin.u, nil, nil, "", htmlAccept)
	if p := admin.guess(t, "123456"); !strings.Contains(p.body, lockedPage) {
		t.Fatalf("expected the admin gate to show the lock, got %d %q", p.status, pageError(p))
	}
	if status, code := s.send(t, templateKey, "192.0.2.1", gateMobile); status != http.StatusOK {
		t.Fatalf("expected a template outside the group to send, got %d %s", status, code)
	}
	if n := s.sns.Count() - before; n != 1 {
		t.Fatalf("expected one SMS (from the template outside the group), got %d", n)
	}
}
