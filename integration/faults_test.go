package integration

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/internal/redistest"
	"github.com/caddyotp/caddyotp/internal/snsdouble"
)

// waitUntil polls check every 10ms until it returns "" (done) and returns how long that
// took, or fails the test with what and check's last answer once bound has passed.
func waitUntil(t testing.TB, what string, bound time.Duration, check func() string) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		last := check()
		if last == "" {
			return time.Since(start)
		}
		if time.Since(start) > bound {
			t.Fatalf("expected %s within %s, got %s", what, bound, last)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// answersWith is a waitUntil check: "" once a has status and contains want, else what it got.
func answersWith(a answer, status int, want string) string {
	if a.status == status && strings.Contains(a.body, want) {
		return ""
	}
	return fmt.Sprintf("%d %s", a.status, a.body)
}

// failsClosed checks every kind of request on every instance answers as the store's
// absence requires: 503 store_unavailable for the API and for a gated request with a
// session, the challenge page for one without.
func (c *cluster) failsClosed(t *testing.T, session, code string) {
	t.Helper()
	for _, base := range c.bases {
		expect(t, "send at "+base, sendOTP(t, base, apiMobile), http.StatusServiceUnavailable, `"store_unavailable"`)
		expect(t, "verify at "+base, verifyOTP(t, base, apiMobile, code), http.StatusServiceUnavailable, `"store_unavailable"`)
		expect(t, "sms-log at "+base, request(t, "GET", base+"/otp/sms-log", nil, nil, "", apiKey),
			http.StatusServiceUnavailable, `"store_unavailable"`)
		expect(t, "a gated API request with a session at "+base, request(t, "GET", base+"/admin/", nil, nil, session, nil),
			http.StatusServiceUnavailable, `"store_unavailable"`)
		expect(t, "a gated page with a session at "+base, request(t, "GET", base+"/admin/", nil, nil, session, htmlAccept),
			http.StatusServiceUnavailable, "Sign-in is unavailable")
		expect(t, "a gated page without a session at "+base, request(t, "GET", base+"/admin/", nil, nil, "", htmlAccept),
			http.StatusUnauthorized, `name="mobile"`)
	}
}

// TestRedisDown stops Redis in the middle of a flow (a code sent, a session signed in),
// checks that everything fails closed on both instances, restarts it empty and checks
// that they recover without a restart, and that SCRIPT FLUSH does not matter.
func TestRedisDown(t *testing.T) {
	rds := redistest.Start(t)
	c := startInstances(t, 2, instanceConfig{store: "address " + rds.Addr()}, rds.Client())
	a := c.bases[0]
	jar := newJarClient(t)
	session := "otp_session=" + gateSignIn(t, jar, c.sns, a+"/admin/", gateMobile)
	before := c.sns.Count()
	expect(t, "send", sendOTP(t, a, apiMobile), http.StatusOK, `"status":"sent"`)
	code := waitSMS(t, c.sns, before+1, apiMobile)

	rds.Stop()
	stopped := time.Now()
	for _, base := range c.bases {
		took := waitUntil(t, "a gated request with a session to answer 503 at "+base, 3*revocationBound, func() string {
			return answersWith(request(t, "GET", base+"/admin/", nil, nil, session, nil), http.StatusServiceUnavailable, `"store_unavailable"`)
		})
		t.Logf("%s noticed Redis down %s after the kill (polled %s)", base, time.Since(stopped).Round(time.Millisecond), took.Round(time.Millisecond))
	}
	hits, attempts := c.upstreamHits.Load(), c.sns.Attempts()

	// The gate's code steps, as a visitor who had not signed in yet.
	for i, base := range c.bases {
		visitor := newJarClient(t)
		p := requestWith(t, visitor, "GET", base+"/admin/", nil, nil, "", htmlAccept)
		logged := len(c.procs[i].output())
		p = requestWith(t, visitor, "POST", base+"/admin/", url.Values{"_otp_step": {"send"}, "_otp_csrf": {p.csrf(t)}, "mobile": {gateMobile}}, nil, "", nil)
		if p.status != http.StatusSeeOther {
			t.Fatalf("expected 303 from the gate's send step (it sends in the background), got %d %s", p.status, p.body)
		}
		c.procs[i].waitOutput(regexp.MustCompile(`gate send refused.*"code":"store_unavailable"`), logged, 5*time.Second)
		p = requestWith(t, visitor, "GET", base+"/admin/", nil, nil, "", htmlAccept)
		p = requestWith(t, visitor, "POST", base+"/admin/", url.Values{"_otp_step": {"verify"}, "_otp_csrf": {p.csrf(t)}, "otp": {"123456"}}, nil, "", nil)
		expect(t, "the gate's verify step", p, http.StatusServiceUnavailable, `"store_unavailable"`)
	}
	c.failsClosed(t, session, code)
	if got := c.upstreamHits.Load(); got != hits {
		t.Fatalf("expected nothing to reach the upstream while Redis is down, got %d requests", got-hits)
	}
	if got := c.sns.Attempts(); got != attempts {
		t.Fatalf("expected no Publish while Redis is down, got %d", got-attempts)
	}

	// Back, empty: every instance recovers by itself.
	rds.Restart()
	restarted := time.Now()
	for i, base := range c.bases {
		mobile := fmt.Sprintf("+4474006%05d", i)
		took := waitUntil(t, "a send at "+base+" to work after the restart", 5*time.Second, func() string {
			return answersWith(sendOTP(t, base, mobile), http.StatusOK, `"status":"sent"`)
		})
		t.Logf("%s sends again %s after Redis answered (polled %s)", base, time.Since(restarted).Round(time.Millisecond), took.Round(time.Millisecond))
		waitUntil(t, "a gated request with the old session at "+base+" to pass", 5*time.Second, func() string {
			return answersWith(request(t, "GET", base+"/admin/", nil, nil, session, nil), http.StatusOK, "upstream: mobile="+gateMobile)
		})
	}
	// The code sent before the restart was lost with Redis's data.
	expect(t, "the code sent before the restart", verifyOTP(t, a, apiMobile, code), http.StatusGone, `"otp_expired"`)

	// SCRIPT FLUSH: the scripts are loaded again.
	if err := rds.Client().ScriptFlush(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	for i, base := range c.bases {
		mobile := fmt.Sprintf("+4474007%05d", i)
		before := c.sns.Count()
		expect(t, "send after SCRIPT FLUSH at "+base, sendOTP(t, base, mobile), http.StatusOK, `"status":"sent"`)
		code := waitSMS(t, c.sns, before+1, mobile)
		expect(t, "verify after SCRIPT FLUSH", verifyOTP(t, c.bases[len(c.bases)-1-i], mobile, code), http.StatusOK, `"status":"verified"`)
	}
}

// stallProxy is a TCP proxy to a Redis that can hold every byte sent to it (a Redis that
// stopped answering without closing anything). Healing it cuts the connections it held.
type stallProxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	stalled chan struct{} // non-nil while stalled; closed on heal
	conns   map[net.Conn]bool
}

func startStallProxy(t testing.TB, target string) *stallProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	t.Cleanup(p.close)
	go p.serve()
	return p
}

func (p *stallProxy) Addr() string { return p.ln.Addr().String() }

func (p *stallProxy) serve() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		p.mu.Lock()
		p.conns[client], p.conns[server] = true, true
		p.mu.Unlock()
		go p.pipe(client, server)
		go p.pipe(server, client)
	}
}

// pipe copies from src to dst, holding each chunk while the proxy is stalled.
func (p *stallProxy) pipe(src, dst net.Conn) {
	defer func() {
		src.Close()
		dst.Close()
		p.mu.Lock()
		delete(p.conns, src)
		delete(p.conns, dst)
		p.mu.Unlock()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			held := p.stalled
			p.mu.Unlock()
			if held != nil {
				<-held
				return // healed: the connection is cut, the held bytes dropped
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// stall holds every byte from now on.
func (p *stallProxy) stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stalled == nil {
		p.stalled = make(chan struct{})
	}
}

// heal lets bytes through again and cuts the connections that were held.
func (p *stallProxy) heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stalled != nil {
		close(p.stalled)
		p.stalled = nil
	}
}

func (p *stallProxy) close() {
	p.ln.Close()
	p.heal()
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

// goroutines reads go_goroutines from the instance's admin /metrics.
func (p *caddyProc) goroutines(t testing.TB) int {
	t.Helper()
	resp, err := http.Get("http://" + p.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			return int(n)
		}
	}
	t.Fatalf("expected go_goroutines in %s/metrics", p.admin)
	return 0
}

// TestRedisSlow puts a proxy between Caddy and Redis that stops passing bytes: every
// answer is a 503 within a bound set by read_timeout, nothing is sent, and after the proxy
// heals Caddy recovers with no more goroutines than before.
func TestRedisSlow(t *testing.T) {
	const readTimeout = 300 * time.Millisecond
	// A request meets at most two store calls that can time out before it answers (a
	// failed send gives back its resend claim); the rest is slack for a busy machine.
	const answerBound = 2*readTimeout + time.Second
	rds := redistest.Start(t)
	proxy := startStallProxy(t, rds.Addr())
	store := fmt.Sprintf("address %s\ndial_timeout %s\nread_timeout %s\nwrite_timeout %s", proxy.Addr(), readTimeout, readTimeout, readTimeout)
	c := startInstances(t, 1, instanceConfig{store: store}, rds.Client())
	base, caddy := c.bases[0], c.procs[0]

	jar := newJarClient(t)
	session := "otp_session=" + gateSignIn(t, jar, c.sns, base+"/admin/", gateMobile)
	before := c.sns.Count()
	expect(t, "send", sendOTP(t, base, apiMobile), http.StatusOK, `"status":"sent"`)
	code := waitSMS(t, c.sns, before+1, apiMobile)
	goroutinesBefore := caddy.goroutines(t)

	proxy.stall()
	stalled := time.Now()
	took := waitUntil(t, "a gated request with a session to answer 503", 3*revocationBound, func() string {
		return answersWith(request(t, "GET", base+"/admin/", nil, nil, session, nil), http.StatusServiceUnavailable, `"store_unavailable"`)
	})
	t.Logf("the revocation feed noticed the stall after %s (polled %s)", time.Since(stalled).Round(time.Millisecond), took.Round(time.Millisecond))
	hits, attempts := c.upstreamHits.Load(), c.sns.Attempts()

	// Many requests at once, each on a connection of its own that stalls.
	var wg sync.WaitGroup
	var mu sync.Mutex
	var slowest time.Duration
	var bad []string
	for i := range 20 {
		wg.Go(func() {
			start := time.Now()
			var a answer
			var err error
			if i%2 == 0 {
				a, err = tryRequest(noRedirects, "POST", base+"/otp/send-otp", nil, map[string]string{"mobile": fmt.Sprintf("+4474008%05d", i)}, "", apiKey)
			} else {
				a, err = tryRequest(noRedirects, "POST", base+"/otp/verify-otp", nil, map[string]string{"mobile": apiMobile, "otp": code}, "", apiKey)
			}
			took := time.Since(start)
			mu.Lock()
			defer mu.Unlock()
			slowest = max(slowest, took)
			if err != nil {
				bad = append(bad, err.Error())
			} else if a.status != http.StatusServiceUnavailable || !strings.Contains(a.body, `"store_unavailable"`) {
				bad = append(bad, fmt.Sprintf("%d %s", a.status, a.body))
			}
		})
	}
	wg.Wait()
	if len(bad) > 0 {
		t.Fatalf("expected 503 store_unavailable for every request while Redis stalls, got %q", bad)
	}
	t.Logf("20 parallel requests during the stall: slowest answer after %s (read_timeout %s)", slowest.Round(time.Millisecond), readTimeout)
	if slowest > answerBound {
		t.Errorf("expected every answer within %s, got one after %s", answerBound, slowest.Round(time.Millisecond))
	}
	c.failsClosed(t, session, code)
	if got := c.upstreamHits.Load(); got != hits {
		t.Fatalf("expected nothing to reach the upstream while Redis stalls, got %d requests", got-hits)
	}
	if got := c.sns.Attempts(); got != attempts {
		t.Fatalf("expected no Publish while Redis stalls, got %d", got-attempts)
	}
	during := caddy.goroutines(t)

	proxy.heal()
	healed := time.Now()
	waitUntil(t, "a send to work after the stall", 5*time.Second, func() string {
		return answersWith(sendOTP(t, base, "+447400900001"), http.StatusOK, `"status":"sent"`)
	})
	waitUntil(t, "a gated request with the session to pass after the stall", 5*time.Second, func() string {
		return answersWith(request(t, "GET", base+"/admin/", nil, nil, session, nil), http.StatusOK, "upstream: mobile="+gateMobile)
	})
	t.Logf("recovered %s after the proxy healed", time.Since(healed).Round(time.Millisecond))

	// Idle HTTP connections of this test's clients hold goroutines in Caddy too.
	noRedirects.CloseIdleConnections()
	jar.CloseIdleConnections()
	const tolerance = 10
	var after int
	waitUntil(t, fmt.Sprintf("Caddy's goroutines to come back to %d (+%d)", goroutinesBefore, tolerance), 5*time.Second, func() string {
		after = caddy.goroutines(t)
		if after <= goroutinesBefore+tolerance {
			return ""
		}
		return strconv.Itoa(after)
	})
	t.Logf("go_goroutines: %d before the stall, %d during, %d after", goroutinesBefore, during, after)
}

// TestProviderFaults meets each fault of the SNS double with one send (send_timeout 2s,
// limit mobile 3 1h): the answer, the Publish calls made, the ledger, the spend kept, no
// live code afterwards, and the mobile limit counted once per attempt.
func TestProviderFaults(t *testing.T) {
	rds := redistest.Start(t)
	c := startInstances(t, 1, instanceConfig{store: "address " + rds.Addr(), mobileLimit: "3 1h"}, rds.Client())
	base := c.bases[0]
	cases := []struct {
		name      string
		fault     func(d *snsdouble.Double)
		status    int
		attempts  int      // Publish requests at the double
		published int      // of them, accepted (delivered, reply lost or not)
		ledger    []string // statuses, newest first
		within    time.Duration
	}{
		{"throttled", func(d *snsdouble.Double) { d.SetFault(snsdouble.Throttled) }, 502, 2, 0, []string{"failed", "failed"}, time.Second},
		{"throttling exception", func(d *snsdouble.Double) { d.SetFault(snsdouble.ThrottlingException) }, 502, 2, 0, []string{"failed", "failed"}, time.Second},
		{"internal error", func(d *snsdouble.Double) { d.SetFault(snsdouble.InternalError) }, 502, 2, 0, []string{"failed", "failed"}, time.Second},
		{"throttled once", func(d *snsdouble.Double) { d.FailNext(1, snsdouble.Throttled) }, 200, 2, 1, []string{"sent", "failed"}, time.Second},
		{"invalid parameter", func(d *snsdouble.Double) { d.FailNext(1, snsdouble.InvalidParameter) }, 502, 1, 0, []string{"failed"}, time.Second},
		{"hang", func(d *snsdouble.Double) { d.SetFault(snsdouble.Hang) }, 502, 1, 0, []string{"unknown"}, 3 * time.Second},
		{"lose reply", func(d *snsdouble.Double) { d.SetFault(snsdouble.LoseReply) }, 502, 2, 2, []string{"unknown", "unknown"}, time.Second},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mobile := fmt.Sprintf("+4474009%05d", i)
			attempts, published, spent := c.sns.Attempts(), c.sns.Count(), c.spentMicro(t)
			tc.fault(c.sns)
			start := time.Now()
			a := sendOTP(t, base, mobile)
			took := time.Since(start)
			c.sns.SetFault(snsdouble.Fault{})
			want := "send_failed"
			if tc.status == http.StatusOK {
				want = `"status":"sent"`
			}
			expect(t, "the send", a, tc.status, want)
			t.Logf("answered %d after %s", a.status, took.Round(time.Millisecond))
			if took > tc.within {
				t.Errorf("expected the answer within %s, got %s", tc.within, took.Round(time.Millisecond))
			}
			if got := c.sns.Attempts() - attempts; got != tc.attempts {
				t.Errorf("expected %d Publish calls, got %d", tc.attempts, got)
			}
			if got := c.sns.Count() - published; got != tc.published {
				t.Errorf("expected %d accepted publishes, got %d", tc.published, got)
			}

			// The ledger: one entry per attempt; failed ones cost nothing.
			var wantSpend int64
			ledger := smsLog(t, base, len(tc.ledger))
			for j, status := range tc.ledger {
				e := ledger[j]
				price := 0.0
				if status != "failed" {
					price = smsPrice
					wantSpend += smsPriceMicro
				}
				if e.Status != status || e.PriceUSD != price || !strings.HasSuffix(e.Mobile, mobile[len(mobile)-3:]) {
					t.Errorf("expected ledger entry %d to be %s at %v USD for %s, got %+v", j, status, price, mobile, e)
				}
			}
			if got := c.spentMicro(t) - spent; got != wantSpend {
				t.Errorf("expected the budget to keep %d micro-USD, got %d", wantSpend, got)
			}

			// No live code after a failure: even a code that reached the phone is refused
			// with 410, not counted as a wrong one (401).
			codes := []string{"000000"}
			for _, p := range c.sns.Published()[published:] {
				codes = append(codes, smsCode.FindString(p.Message))
			}
			if tc.status == http.StatusOK {
				expect(t, "the code sent", verifyOTP(t, base, mobile, codes[len(codes)-1]), http.StatusOK, `"status":"verified"`)
			}
			for _, code := range codes {
				expect(t, "a code after the send ended", verifyOTP(t, base, mobile, code), http.StatusGone, `"otp_expired"`)
			}

			// Each attempt took one of the mobile's 3 sends: what is left goes out, then
			// the limit trips.
			for n := tc.attempts; n < 3; n++ {
				expect(t, fmt.Sprintf("send %d after %d attempts", n+1, tc.attempts), sendOTP(t, base, mobile), http.StatusOK, `"status":"sent"`)
			}
			expect(t, "a send past the limit", sendOTP(t, base, mobile), http.StatusTooManyRequests, `"rate_limited"`)
		})
	}
}
