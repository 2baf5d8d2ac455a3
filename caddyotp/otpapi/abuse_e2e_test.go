package otpapi_test

import (
	"bufio"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/caddyotp/internal/phone"
	"github.com/caddyotp/caddyotp/caddyotp/internal/smsparts"
	"github.com/caddyotp/caddyotp/internal/snsdouble"
)

// Issue 4, "Done when": the abuse and cost controls, end to end through a real Caddy, real
// Redis and the SNS double.

// trustLocalProxy makes Caddy take the client IP from X-Forwarded-For when the peer is
// 127.0.0.1, as behind a load balancer.
const trustLocalProxy = `servers {
		trusted_proxies static 127.0.0.1/32
		client_ip_headers X-Forwarded-For
	}`

// looseLimits turns the limits not under test out of the way.
const looseLimits = `
			limit mobile 1000 1h
			limit ip 1000 1h
			limit prefix 1000 1h
			limit template 1000 24h`

var stores = []string{"memory", "redis"}

// walk returns n GB mobiles that share one prefix (all but the last four digits):
// +447400123400, +447400123401, … Each is checked with the parser the service uses.
func walk(t *testing.T, n int) []string {
	t.Helper()
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("+4474001234%02d", i)
		mustBeMobile(t, out[i])
	}
	if phone.Prefix(out[0]) != phone.Prefix(out[n-1]) {
		t.Fatalf("expected one prefix, got %s and %s", phone.Prefix(out[0]), phone.Prefix(out[n-1]))
	}
	return out
}

func mustBeMobile(t *testing.T, m string) {
	t.Helper()
	if _, err := phone.Parse(m); err != nil {
		t.Fatalf("expected %s to be a valid mobile, got %v", m, err)
	}
}

// sendAs sends for the template with key, from the client IP xff (through the trusted
// proxy; empty: none).
func (env *apiEnv) sendAs(t *testing.T, key, mobile, xff string) reply {
	t.Helper()
	h := http.Header{"Template-Key": {key}, "Content-Type": {"application/json"}}
	if xff != "" {
		h.Set("X-Forwarded-For", xff)
	}
	return env.doHeader(t, "POST", "/otp/send-otp", h, fmt.Sprintf(`{"mobile":%q}`, mobile))
}

func (env *apiEnv) verifyFrom(t *testing.T, mobile, code, xff string) reply {
	t.Helper()
	h := http.Header{"Template-Key": {loginKey}, "Content-Type": {"application/json"}}
	if xff != "" {
		h.Set("X-Forwarded-For", xff)
	}
	return env.doHeader(t, "POST", "/otp/verify-otp", h, fmt.Sprintf(`{"mobile":%q,"otp":%q}`, mobile, code))
}

func expectSent(t *testing.T, r reply) {
	t.Helper()
	if r.status != http.StatusOK || r.body["status"] != "sent" {
		t.Fatalf("expected 200 sent, got %d %s", r.status, r.raw)
	}
}

// expectRetryAfter checks Retry-After against want seconds. GCRA answers the time until the
// next send fits, which shrinks by the time the sends before took; slack allows for that.
func expectRetryAfter(t *testing.T, r reply, want, slack int) {
	t.Helper()
	got, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || got > want || got < want-slack {
		t.Errorf("expected Retry-After %d (at most %ds less), got %q", want, slack, r.header.Get("Retry-After"))
	}
}

// parallel runs n calls of f at once and counts the answers by status and error code.
func parallel(n int, f func(i int) reply) map[string]int {
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[string]int{}
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := f(i)
			k := strconv.Itoa(r.status)
			if c := r.errorCode(); c != "" {
				k += " " + c
			}
			if r.status == http.StatusTooManyRequests && r.header.Get("Retry-After") == "" {
				k += " without Retry-After"
			}
			mu.Lock()
			got[k]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	return got
}

func expectCounts(t *testing.T, got, want map[string]int) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("expected answers %v, got %v", want, got)
	}
}

// series is one sample of Caddy's /metrics.
type series struct {
	name   string
	labels map[string]string
	value  float64
}

type scrape []series

var sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$`)
var labelPair = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)

// metrics scrapes Caddy's metrics handler and returns the caddy_otp_* samples.
func (env *apiEnv) metrics(t *testing.T) scrape {
	t.Helper()
	r := env.doHeader(t, "GET", "/metrics", http.Header{}, "")
	if r.status != http.StatusOK {
		t.Fatalf("expected 200 from /metrics, got %d %s", r.status, r.raw)
	}
	var out scrape
	sc := bufio.NewScanner(strings.NewReader(r.raw))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "caddy_otp_") {
			continue
		}
		m := sampleLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("expected a sample, got %q", line)
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			t.Fatalf("expected a number in %q, got %v", line, err)
		}
		s := series{name: m[1], labels: map[string]string{}, value: v}
		for _, p := range labelPair.FindAllStringSubmatch(m[2], -1) {
			s.labels[p[1]] = p[2]
		}
		out = append(out, s)
	}
	return out
}

// sum adds the samples of name whose labels include all of want (pairs of name, value).
func (s scrape) sum(name string, want ...string) float64 {
	total := 0.0
next:
	for _, x := range s {
		if x.name != name {
			continue
		}
		for i := 0; i+1 < len(want); i += 2 {
			if x.labels[want[i]] != want[i+1] {
				continue next
			}
		}
		total += x.value
	}
	return total
}

func (s scrape) expect(t *testing.T, want float64, name string, labels ...string) {
	t.Helper()
	if got := s.sum(name, labels...); math.Abs(got-want) > 1e-9 {
		t.Errorf("expected %s%v = %v, got %v", name, labels, want, got)
	}
}

// longDigits would be a phone number (or most of one) in a label value.
var longDigits = regexp.MustCompile(`\+|\d{5,}`)

// expectNoMobileInLabels checks every caddy_otp_* label value.
func (s scrape) expectNoMobileInLabels(t *testing.T) {
	t.Helper()
	for _, x := range s {
		for k, v := range x.labels {
			if k == "le" { // histogram bucket bounds are numbers
				continue
			}
			if longDigits.MatchString(v) {
				t.Errorf("expected no mobile in label %s of %s, got %q", k, x.name, v)
			}
		}
	}
}

// ledger is GET …/sms-log for the template with key.
type ledger struct {
	entries []map[string]any
	total   float64
}

func (env *apiEnv) ledger(t *testing.T, key string) ledger {
	t.Helper()
	r := env.do(t, "GET", "/otp/sms-log?limit=1000", key, "", "")
	if r.status != http.StatusOK {
		t.Fatalf("expected 200 from sms-log, got %d %s", r.status, r.raw)
	}
	var l ledger
	msgs, _ := r.body["messages"].([]any)
	for _, m := range msgs {
		l.entries = append(l.entries, m.(map[string]any))
	}
	if c, _ := r.body["count"].(float64); int(c) != len(l.entries) {
		t.Errorf("expected count %d, got %v", len(l.entries), r.body["count"])
	}
	l.total, _ = r.body["total_usd"].(float64)
	return l
}

// status counts the entries by status and adds up their prices.
func (l ledger) status(s string) (n int, usd float64) {
	for _, e := range l.entries {
		if e["status"] == s {
			n++
			p, _ := e["price_usd"].(float64)
			usd += p
		}
	}
	return n, usd
}

// TestAbuseLimits trips each kind of send limit at its count: nothing is published past it,
// Retry-After is the GCRA interval (window/count), and the limit is the kind's alone (another
// mobile, IP or prefix still gets a code). The prefix row is the prefix walk: 25 numbers
// sharing a prefix against `limit prefix 20 1h`.
func TestAbuseLimits(t *testing.T) {
	mobiles := walk(t, 25)
	otherPrefix := "+447400223456"
	mustBeMobile(t, otherPrefix)
	tests := []struct {
		kind   string
		count  int
		window time.Duration
		tries  int
		mobile func(i int) string // the i-th send's mobile
		xff    func(i int) string // the i-th send's client IP
		// other is a send that the tripped limit must not stop
		otherMobile, otherXFF string
	}{
		{kind: "mobile", count: 3, window: time.Hour, tries: 5,
			mobile: func(int) string { return gbMobile }, xff: func(i int) string { return fmt.Sprintf("203.0.113.%d", i+1) },
			otherMobile: usMobile, otherXFF: "203.0.113.1"},
		{kind: "ip", count: 4, window: time.Hour, tries: 6,
			mobile: func(i int) string { return mobiles[i] }, xff: func(int) string { return "203.0.113.7" },
			otherMobile: mobiles[20], otherXFF: "198.51.100.7"},
		{kind: "prefix", count: 20, window: time.Hour, tries: 25,
			mobile: func(i int) string { return mobiles[i] }, xff: func(i int) string { return fmt.Sprintf("203.0.113.%d", i+1) },
			otherMobile: otherPrefix, otherXFF: "203.0.113.1"},
		{kind: "template", count: 6, window: 24 * time.Hour, tries: 8,
			mobile: func(i int) string { return mobiles[i] }, xff: func(i int) string { return fmt.Sprintf("203.0.113.%d", i+1) }},
	}
	var templates strings.Builder
	for _, tt := range tests {
		fmt.Fprintf(&templates, "template by%s {\n\t\t\tkey by%s-key-0123456789\n\t\t\tresend 0s%s\n\t\t\tlimit %s %d %s\n\t\t}\n\t\t",
			tt.kind, tt.kind, strings.ReplaceAll(looseLimits, "limit "+tt.kind+" ", "# limit "+tt.kind+" "), tt.kind, tt.count, tt.window)
	}
	for _, store := range stores {
		t.Run(store, func(t *testing.T) {
			env := startAPIWith(t, apiOptions{store: store, global: trustLocalProxy, app: templates.String()})
			for _, tt := range tests {
				t.Run(tt.kind, func(t *testing.T) {
					key := "by" + tt.kind + "-key-0123456789"
					sent := env.sns.Count()
					for i := 0; i < tt.count; i++ {
						expectSent(t, env.sendAs(t, key, tt.mobile(i), tt.xff(i)))
					}
					if got := env.sns.Count() - sent; got != tt.count {
						t.Fatalf("expected %d publishes, got %d", tt.count, got)
					}
					attempts := env.sns.Attempts()
					interval := int(math.Ceil(tt.window.Seconds() / float64(tt.count)))
					for i := tt.count; i < tt.tries; i++ {
						r := env.sendAs(t, key, tt.mobile(i), tt.xff(i))
						expectStatus(t, r, http.StatusTooManyRequests, "rate_limited")
						expectRetryAfter(t, r, interval, 5)
					}
					if got := env.sns.Attempts() - attempts; got != 0 {
						t.Errorf("expected no publish past the %s limit, got %d", tt.kind, got)
					}
					if tt.otherMobile != "" {
						expectSent(t, env.sendAs(t, key, tt.otherMobile, tt.otherXFF))
					}
					env.metrics(t).expect(t, float64(tt.tries-tt.count), "caddy_otp_limit_hits_total", "template", "by"+tt.kind, "kind", tt.kind)
				})
			}
		})
	}
}

// TestAbuseUntrustedForwardedFor: without trusted_proxies, X-Forwarded-For is the client's
// word and must not give a fresh ip limit.
func TestAbuseUntrustedForwardedFor(t *testing.T) {
	mobiles := walk(t, 4)
	env := startAPIWith(t, apiOptions{global: "servers {\n\t\tclient_ip_headers X-Forwarded-For\n\t}",
		template: "resend 0s" + strings.ReplaceAll(looseLimits, "limit ip 1000", "limit ip 2")})
	for i, xff := range []string{"203.0.113.1", "203.0.113.2"} {
		expectSent(t, env.sendAs(t, loginKey, mobiles[i], xff))
	}
	before := env.sns.Attempts()
	for i, xff := range []string{"203.0.113.3", "198.51.100.9"} {
		expectStatus(t, env.sendAs(t, loginKey, mobiles[2+i], xff), http.StatusTooManyRequests, "rate_limited")
	}
	if got := env.sns.Attempts() - before; got != 0 {
		t.Errorf("expected no publish for a spoofed X-Forwarded-For, got %d", got)
	}
}

// TestAbuseParallelSendsOneMobile: 100 sends at once to one mobile allowed 5 an hour give
// exactly 5 SMS.
func TestAbuseParallelSendsOneMobile(t *testing.T) {
	for _, store := range stores {
		t.Run(store, func(t *testing.T) {
			env := startAPIWith(t, apiOptions{store: store,
				template: "resend 0s" + strings.ReplaceAll(looseLimits, "limit mobile 1000", "limit mobile 5")})
			got := parallel(100, func(int) reply { return env.send(t, gbMobile) })
			expectCounts(t, got, map[string]int{"200": 5, "429 rate_limited": 95})
			if n := env.sns.Count(); n != 5 {
				t.Errorf("expected 5 Publish calls, got %d", n)
			}
			if n := env.sns.Attempts(); n != 5 {
				t.Errorf("expected 5 Publish attempts, got %d", n)
			}
			m := env.metrics(t)
			m.expect(t, 95, "caddy_otp_limit_hits_total", "kind", "mobile")
			m.expect(t, 5, "caddy_otp_sms_sends_total", "outcome", "sent")
		})
	}
}

// TestAbuseLockSurvivesNewIPAndCode: wrong codes across two codes and two client IPs add up
// to one lock of the mobile; while it lasts the right code is refused and nothing is sent,
// whatever the IP.
func TestAbuseLockSurvivesNewIPAndCode(t *testing.T) {
	for _, store := range stores {
		t.Run(store, func(t *testing.T) {
			env := startAPIWith(t, apiOptions{store: store, global: trustLocalProxy,
				app: "lockout {\n\t\t\tafter 3\n\t\t\tbase 10m\n\t\t}", template: "resend 0s" + looseLimits})
			const ipA, ipB, ipC = "203.0.113.10", "198.51.100.20", "192.0.2.30"

			expectSent(t, env.sendAs(t, loginKey, gbMobile, ipA))
			first := env.lastCode(t, gbMobile)
			for range 2 {
				expectStatus(t, env.verifyFrom(t, gbMobile, wrongCode(first), ipA), http.StatusUnauthorized, "otp_incorrect")
			}
			// A new code from another IP does not start the run again.
			expectSent(t, env.sendAs(t, loginKey, gbMobile, ipB))
			second := env.lastCode(t, gbMobile)
			r := env.verifyFrom(t, gbMobile, wrongCode(second), ipB)
			if r.status != http.StatusUnauthorized && r.status != http.StatusTooManyRequests {
				t.Fatalf("expected the third wrong code to be refused, got %d %s", r.status, r.raw)
			}

			before := env.sns.Attempts()
			r = env.verifyFrom(t, gbMobile, second, ipC)
			expectStatus(t, r, http.StatusTooManyRequests, "locked")
			expectRetryAfter(t, r, 600, 10)
			for _, ip := range []string{ipA, ipB, ipC} {
				r := env.sendAs(t, loginKey, gbMobile, ip)
				expectStatus(t, r, http.StatusTooManyRequests, "locked")
				expectRetryAfter(t, r, 600, 10)
			}
			if got := env.sns.Attempts() - before; got != 0 {
				t.Errorf("expected nothing published while locked, got %d", got)
			}
			// Another mobile is not affected.
			expectSent(t, env.sendAs(t, loginKey, usMobile, ipA))

			m := env.metrics(t)
			m.expect(t, 1, "caddy_otp_lockouts_total", "template", "login")
			m.expect(t, 3, "caddy_otp_limit_hits_total", "kind", "locked")
			m.expect(t, 1, "caddy_otp_verifications_total", "outcome", "locked")
			m.expect(t, 3, "caddy_otp_verifications_total", "outcome", "incorrect")
		})
	}
}

// TestAbuseCountryNotAllowed: a number from a country not listed gets 403 and no SMS.
func TestAbuseCountryNotAllowed(t *testing.T) {
	for _, store := range stores {
		t.Run(store, func(t *testing.T) {
			env := startAPIWith(t, apiOptions{store: store, template: "resend 0s\n\t\t\tcountries GB IE"})
			for _, m := range []string{usMobile, "+33612345678", "+61412345678"} {
				mustBeMobile(t, m)
				expectStatus(t, env.send(t, m), http.StatusForbidden, "country_not_allowed")
			}
			if n := env.sns.Attempts(); n != 0 {
				t.Errorf("expected no publish to a country not listed, got %d", n)
			}
			expectSent(t, env.send(t, gbMobile))
			env.metrics(t).expect(t, 3, "caddy_otp_limit_hits_total", "kind", "country")
		})
	}
}

// TestAbuseBudget: the budget holds under 50 parallel sends, failed sends give their
// reservations back, and the ledger and the metrics agree with what the double received.
func TestAbuseBudget(t *testing.T) {
	mobiles := walk(t, 50)
	for _, store := range stores {
		t.Run(store, func(t *testing.T) {
			env := startAPIWith(t, apiOptions{store: store,
				app:      "prices {\n\t\t\tdefault 0.05\n\t\t}\n\t\tbudget {\n\t\t\tdaily 1.00\n\t\t\tmonthly 100\n\t\t}",
				template: "resend 0s" + looseLimits})

			// Three failed attempts first: a refusal (one attempt) and a 5xx twice (two). If
			// they kept their reservations, only 17 of the 20 sends below would fit.
			env.sns.FailNext(1, snsdouble.InvalidParameter)
			expectStatus(t, env.send(t, usMobile), http.StatusBadGateway, "send_failed")
			env.sns.FailNext(2, snsdouble.InternalError)
			expectStatus(t, env.send(t, usMobile), http.StatusBadGateway, "send_failed")
			if n := env.sns.Attempts(); n != 3 {
				t.Fatalf("expected 3 failed attempts, got %d", n)
			}

			// 1.00 USD at 0.05 a part: exactly 20 of 50 fit.
			got := parallel(50, func(i int) reply { return env.send(t, mobiles[i]) })
			expectCounts(t, got, map[string]int{"200": 20, "429 budget_exhausted": 30})
			if n := env.sns.Count(); n != 20 {
				t.Fatalf("expected 20 publishes within the budget, got %d", n)
			}
			r := env.send(t, gbMobile)
			expectStatus(t, r, http.StatusTooManyRequests, "budget_exhausted")
			if ra, _ := strconv.Atoi(r.header.Get("Retry-After")); ra < 1 || ra > 24*60*60 {
				t.Errorf("expected Retry-After until the next UTC day, got %q", r.header.Get("Retry-After"))
			}
			if n := env.sns.Attempts(); n != 23 {
				t.Errorf("expected nothing published over budget (23 attempts in all), got %d", n)
			}

			// Verifications for the metrics: one right, one wrong.
			someone := env.sns.Published()[0].PhoneNumber
			code := env.lastCode(t, someone)
			expectStatus(t, env.verify(t, someone, wrongCode(code)), http.StatusUnauthorized, "otp_incorrect")
			if r := env.verify(t, someone, code); r.status != http.StatusOK {
				t.Fatalf("expected 200 verified, got %d %s", r.status, r.raw)
			}

			// The ledger agrees with the double.
			l := env.ledger(t, loginKey)
			sent, sentUSD := l.status("sent")
			failed, failedUSD := l.status("failed")
			if sent != env.sns.Count() {
				t.Errorf("expected %d sent entries (as the double received), got %d", env.sns.Count(), sent)
			}
			if failed != 3 || failedUSD != 0 {
				t.Errorf("expected 3 failed entries costing 0, got %d costing %v", failed, failedUSD)
			}
			if math.Abs(l.total-1.00) > 1e-9 || math.Abs(sentUSD-1.00) > 1e-9 {
				t.Errorf("expected total_usd 1.00 and sent prices adding up to it, got %v and %v", l.total, sentUSD)
			}
			ids := map[string]bool{}
			for _, p := range env.sns.Published() {
				ids[p.MessageID] = true
			}
			for _, e := range l.entries {
				if e["status"] == "sent" && !ids[e["message_id"].(string)] {
					t.Errorf("expected every sent entry to be a publish of the double, got %v", e["message_id"])
				}
				if e["country"] != "GB" && e["country"] != "US" {
					t.Errorf("expected country GB or US, got %v", e["country"])
				}
			}

			// So do the metrics.
			m := env.metrics(t)
			m.expect(t, 20, "caddy_otp_sms_sends_total", "template", "login", "country", "GB", "outcome", "sent")
			m.expect(t, 3, "caddy_otp_sms_sends_total", "template", "login", "country", "US", "outcome", "failed")
			m.expect(t, 1.00, "caddy_otp_spend_usd_total", "template", "login", "country", "GB")
			m.expect(t, 0, "caddy_otp_spend_usd_total", "country", "US")
			m.expect(t, 31, "caddy_otp_limit_hits_total", "template", "login", "kind", "budget")
			m.expect(t, 1, "caddy_otp_provider_errors_total", "kind", "permanent")
			m.expect(t, 2, "caddy_otp_provider_errors_total", "kind", "retryable")
			m.expect(t, 1, "caddy_otp_verifications_total", "template", "login", "country", "GB", "outcome", "verified")
			m.expect(t, 1, "caddy_otp_verifications_total", "template", "login", "country", "GB", "outcome", "incorrect")
			m.expectNoMobileInLabels(t)
		})
	}
}

// TestAbuseLostReply: a Publish that SNS accepted but whose reply was lost may have been
// billed. The ledger, the budget and the spend metric must count it.
func TestAbuseLostReply(t *testing.T) {
	for _, store := range stores {
		t.Run(store, func(t *testing.T) {
			env := startAPIWith(t, apiOptions{store: store,
				app:      "prices {\n\t\t\tdefault 0.05\n\t\t}\n\t\tbudget {\n\t\t\tdaily 0.10\n\t\t}",
				template: "resend 0s" + looseLimits})
			// The first attempt is delivered but its reply lost; the second is answered.
			env.sns.FailNext(1, snsdouble.LoseReply)
			expectSent(t, env.send(t, gbMobile))
			if n := env.sns.Count(); n != 2 {
				t.Fatalf("expected the double to have accepted 2 publishes, got %d", n)
			}
			// Both may be billed: the 0.10 budget is spent.
			expectStatus(t, env.send(t, usMobile), http.StatusTooManyRequests, "budget_exhausted")

			l := env.ledger(t, loginKey)
			billed := 0
			usd := 0.0
			for _, e := range l.entries {
				if e["status"] != "failed" {
					billed++
					p, _ := e["price_usd"].(float64)
					usd += p
				}
			}
			if billed != env.sns.Count() {
				t.Errorf("expected %d ledger entries that may be billed (as the double received), got %d: %v", env.sns.Count(), billed, l.entries)
			}
			if math.Abs(usd-0.10) > 1e-9 || math.Abs(l.total-0.10) > 1e-9 {
				t.Errorf("expected 0.10 USD in the ledger, got %v (total_usd %v)", usd, l.total)
			}
			m := env.metrics(t)
			m.expect(t, 0.10, "caddy_otp_spend_usd_total", "template", "login")
			m.expect(t, 1, "caddy_otp_sms_sends_total", "outcome", "sent")
			m.expect(t, 1, "caddy_otp_sms_sends_total", "outcome", "unknown")
		})
	}
}

// TestAbuseParts: the parts counted for the ledger and the price are those of the text the
// provider got: GSM-7 160 septets in one part (an extension character counting two), UCS-2
// 70 units (an emoji counting two).
func TestAbuseParts(t *testing.T) {
	pad := func(n int) string { return strings.Repeat("a", n) }
	tests := []struct {
		name, message string
		parts         int
		encoding      smsparts.Encoding
	}{
		// "123456 " is 7 septets.
		{"gsm 160", "{code} " + pad(153), 1, smsparts.GSM7},
		{"gsm 161", "{code} " + pad(154), 2, smsparts.GSM7},
		{"euro makes 161", "{code} " + pad(152) + "€", 2, smsparts.GSM7},
		{"bracket fits 160", "{code} " + pad(151) + "[", 1, smsparts.GSM7},
		{"emoji 70", "{code} " + pad(61) + "🔐", 1, smsparts.UCS2},
		{"emoji 71", "{code} " + pad(62) + "🔐", 2, smsparts.UCS2},
		{"emoji message", "{code} is your Acme code 🔐 It expires in {minutes} minutes. Never share it with anyone.", 2, smsparts.UCS2},
	}
	var templates strings.Builder
	for i, tt := range tests {
		fmt.Fprintf(&templates, "template parts%d {\n\t\t\tkey parts%d-key-0123456789\n\t\t\tresend 0s\n\t\t\tmessage %q\n\t\t}\n\t\t", i, i, tt.message)
	}
	for _, store := range stores {
		t.Run(store, func(t *testing.T) {
			env := startAPIWith(t, apiOptions{store: store,
				app: "prices {\n\t\t\tdefault 0.05\n\t\t\tGB 0.0463\n\t\t}\n\t\t" + templates.String()})
			for i, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					key := fmt.Sprintf("parts%d-key-0123456789", i)
					expectSent(t, env.sendAs(t, key, gbMobile, ""))
					pubs := env.sns.Published()
					text := pubs[len(pubs)-1].Message
					if parts, enc := smsparts.Count(text); parts != tt.parts || enc != tt.encoding {
						t.Fatalf("expected the text the double got (%d characters) to be %d %s parts, got %d %s", len([]rune(text)), tt.parts, tt.encoding, parts, enc)
					}
					l := env.ledger(t, key)
					if len(l.entries) != 1 {
						t.Fatalf("expected 1 ledger entry, got %d", len(l.entries))
					}
					e := l.entries[0]
					if e["parts"] != float64(tt.parts) {
						t.Errorf("expected %d parts in the ledger, got %v", tt.parts, e["parts"])
					}
					want := float64(tt.parts) * 0.0463
					if p, _ := e["price_usd"].(float64); math.Abs(p-want) > 1e-9 || math.Abs(l.total-want) > 1e-9 {
						t.Errorf("expected price_usd and total_usd %v, got %v and %v", want, e["price_usd"], l.total)
					}
					env.metrics(t).expect(t, want, "caddy_otp_spend_usd_total", "template", fmt.Sprintf("parts%d", i), "country", "GB")
				})
			}
		})
	}
}

// TestAbuseProviderUnreachable: an attempt that never reached the provider (connection
// refused) billed nothing: its reservation is freed and the ledger shows it failed at 0 USD.
func TestAbuseProviderUnreachable(t *testing.T) {
	for _, store := range stores {
		t.Run(store, func(t *testing.T) {
			env := startAPIWith(t, apiOptions{store: store,
				app:      "prices {\n\t\t\tdefault 0.05\n\t\t}\n\t\tbudget {\n\t\t\tdaily 0.05\n\t\t}",
				template: "resend 0s" + looseLimits})
			env.sns.Close() // before any connection to it: every attempt is refused
			// 0.05 USD fits one part at a time: a kept reservation would make the second
			// send budget_exhausted.
			for range 2 {
				expectStatus(t, env.send(t, gbMobile), http.StatusBadGateway, "send_failed")
			}
			l := env.ledger(t, loginKey)
			if n, usd := l.status("failed"); n != 4 || usd != 0 || l.total != 0 || len(l.entries) != 4 {
				t.Errorf("expected 4 failed attempts costing 0, got %d costing %v of %d entries (total_usd %v)", n, usd, len(l.entries), l.total)
			}
			m := env.metrics(t)
			m.expect(t, 4, "caddy_otp_sms_sends_total", "outcome", "failed")
			m.expect(t, 0, "caddy_otp_spend_usd_total")
			m.expect(t, 4, "caddy_otp_provider_errors_total", "kind", "retryable")
		})
	}
}
