package integration

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/internal/redistest"
	"github.com/caddyotp/caddyotp/internal/snsdouble"
	"github.com/caddyotp/caddyotp/internal/testnet"
)

// refusedMobile is a valid mobile the enumeration site's gate does not allow.
const refusedMobile = "+447400123457"

// enumSite is one Caddy with a gate on /admin/* that allows gateMobile only: no resend
// interval and no limits, so every step is the gate's and the store's answer, and a lock
// after 8 wrong codes in a run.
type enumSite struct {
	proc *caddyProc
	base string
	sns  *snsdouble.Double
}

func startEnumSite(t *testing.T, store string) *enumSite {
	t.Helper()
	s := &enumSite{sns: snsdouble.New(t)}
	port := testnet.FreePort(t)
	s.base = testnet.Site(port)
	s.proc = startCaddy(t, fmt.Sprintf(`{
	otp {
		secret %s
		%s
		sender sns {
			region eu-west-2
			endpoint %s
		}
		lockout {
			after 8
		}
		template login {
			resend 0s
			attempts 5
			limit mobile 0 1h
			limit ip 0 1h
			limit prefix 0 1h
			limit template 0 24h
		}
	}
}

%s {
	otp_gate /admin/* login {
		allow %s
	}
	respond "upstream"
}
`, sharedSecret, store, s.sns.URL(), s.base, gateMobile))
	return s
}

// sendFinished matches the log line of a finished background send, whatever its outcome.
var sendFinished = regexp.MustCompile(`"msg":"(otp sent|decoy code stored|gate send refused)"`)

var pageErrorText = regexp.MustCompile(`<p class="error" id="error" role="alert">([^<]*)</p>`)

// enumVisitor is an attacker at the gate's code step who keeps the challenge cookie the
// send step gave and posts it again with every code, ignoring the cookies the gate sets
// afterwards.
type enumVisitor struct {
	site           *enumSite
	mobile         string
	challenge      string // the otp_challenge cookie saved right after the send step
	csrf           string
	wrong          string // a code that is not the one sent
	sentBeforeSend int
}

// send runs the mobile step and waits until the gate's background send has finished.
func (s *enumSite) send(t *testing.T, mobile string) *enumVisitor {
	t.Helper()
	p := request(t, "GET", s.base+"/admin/", nil, nil, "", htmlAccept)
	v := &enumVisitor{site: s, mobile: mobile, csrf: p.csrf(t), wrong: "000000"}
	logged, sent := len(s.proc.output()), s.sns.Count()
	p = request(t, "POST", s.base+"/admin/", url.Values{"_otp_step": {"send"}, "_otp_csrf": {v.csrf}, "mobile": {mobile}},
		nil, "otp_challenge="+p.cookie("otp_challenge"), nil)
	if p.status != http.StatusSeeOther || p.cookie("otp_challenge") == "" {
		t.Fatalf("%s: expected 303 and a challenge cookie from the send step, got %d %q %s", mobile, p.status, p.header.Values("Set-Cookie"), p.body)
	}
	v.challenge = p.cookie("otp_challenge")
	s.proc.waitOutput(sendFinished, logged, 10*time.Second)
	if s.sns.Count() > sent {
		code := waitSMS(t, s.sns, sent+1, mobile)
		v.wrong = fmt.Sprintf("%06d", (mustAtoi(t, code)+1)%1_000_000)
	}
	return v
}

// verify posts a wrong code with the saved challenge cookie and returns what the page says.
func (v *enumVisitor) verify(t *testing.T) string {
	t.Helper()
	p := request(t, "POST", v.site.base+"/admin/", url.Values{"_otp_step": {"verify"}, "_otp_csrf": {v.csrf}, "otp": {v.wrong}},
		nil, "otp_challenge="+v.challenge, nil)
	if m := pageErrorText.FindStringSubmatch(p.body); m != nil {
		return fmt.Sprintf("%d %s", p.status, m[1])
	}
	if p.status == http.StatusServiceUnavailable {
		return "503"
	}
	return fmt.Sprintf("%d %.80q", p.status, p.body)
}

// TestAttackRefusedMobileLooksAllowed is the allow-list enumeration of the outside review (SECURITY.md): an attacker
// replays the challenge cookie saved right after the send step with wrong codes, for a
// mobile the gate allows and one it refuses. Both must read the same in every state the
// store holds: attempts left, the burned code, expiry, the lock, and 503 when Redis is down.
func TestAttackRefusedMobileLooksAllowed(t *testing.T) {
	for _, kind := range []string{"memory", "redis"} {
		t.Run(kind, func(t *testing.T) {
			var rds *redistest.Server
			store := ""
			if kind == "redis" {
				rds = redistest.Start(t)
				store = "store redis {\n\t\t\taddress " + rds.Addr() + "\n\t\t}"
			}
			s := startEnumSite(t, store)

			// Attempts left, burning, expiry: the store's count, not the cookie's.
			want := []string{
				"401 That code is not right. 4 attempts left.",
				"401 That code is not right. 3 attempts left.",
				"401 That code is not right. 2 attempts left.",
				"401 That code is not right. 1 attempt left.",
				"401 Too many wrong codes: this code no longer works. Ask for a new code.",
				"401 This code has expired or was already used. Ask for a new code.",
			}
			for _, mobile := range []string{gateMobile, refusedMobile} {
				v := s.send(t, mobile)
				var got []string
				for range want {
					got = append(got, v.verify(t))
				}
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Errorf("%s, replaying the cookie of the send step: expected\n%s\ngot\n%s", mobile, strings.Join(want, "\n"), strings.Join(got, "\n"))
				}
			}

			// The lock: the run of wrong codes goes on with a new code until the mobile is locked.
			var runs [2][]string
			for i, mobile := range []string{gateMobile, refusedMobile} {
				v := s.send(t, mobile)
				for range 6 {
					runs[i] = append(runs[i], v.verify(t))
					if strings.Contains(runs[i][len(runs[i])-1], "Too many wrong codes for this number") {
						break
					}
				}
			}
			if !strings.Contains(runs[0][len(runs[0])-1], "Too many wrong codes for this number") {
				t.Errorf("expected the allowed mobile to be locked after 8 wrong codes in a run, got\n%s", strings.Join(runs[0], "\n"))
			}
			if strings.Join(runs[0], "\n") != strings.Join(runs[1], "\n") {
				t.Errorf("expected the refused mobile to read as the allowed one up to the lock:\nallowed\n%s\nrefused\n%s",
					strings.Join(runs[0], "\n"), strings.Join(runs[1], "\n"))
			}
			// A locked mobile's send step and code step, for both.
			for _, mobile := range []string{gateMobile, refusedMobile} {
				if got := s.send(t, mobile).verify(t); !strings.HasPrefix(got, "401 Too many wrong codes for this number") {
					t.Errorf("%s, locked: expected the lock, got %s", mobile, got)
				}
			}

			if rds == nil {
				return
			}
			// The store is down: both get 503 at the code step.
			rds.Stop()
			for _, mobile := range []string{gateMobile, refusedMobile} {
				if got := s.send(t, mobile).verify(t); got != "503" {
					t.Errorf("%s with Redis down: expected 503, got %s", mobile, got)
				}
			}
		})
	}
}
