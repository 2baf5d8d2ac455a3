package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/caddyotp/caddyotp/internal/redistest"
	"github.com/caddyotp/caddyotp/internal/snsdouble"
	"github.com/caddyotp/caddyotp/internal/testnet"
)

const (
	sharedSecret = "integration-secret-0123456789abcdef0123"
	templateKey  = "integration-template-key-0123456789"
	gateMobile   = "+447400123456"
	apiMobile    = "+447400123457"
	// revocationBound is how soon a logout must take effect on every instance (README, "Running several instances").
	revocationBound = time.Second
	// smsPrice is the price of one SMS part in every test config, in USD and micro-USD.
	smsPrice      = 0.05
	smsPriceMicro = 50_000
	// dailyBudget is the daily cap of every test config, in USD.
	dailyBudget = 25
)

// apiKey is the header every API request of these tests carries.
var apiKey = map[string]string{"template-key": templateKey}

// instanceConfig is the Caddyfile of one of several Caddy instances that share a store and
// the secret: the API under /otp/, a gate on /admin/* in front of upstream. The template
// `login` sends without a resend interval and with only the mobile limit on, so that tests
// choose what trips.
type instanceConfig struct {
	store       string // the lines inside `store redis { … }`
	sns         string // the SNS double's URL
	upstream    string // host:port behind the gate
	mobileLimit string // `limit mobile` count and window; default "5 1h"
	sendTimeout string // default "2s"
}

func (c instanceConfig) caddyfile(port int) string {
	if c.mobileLimit == "" {
		c.mobileLimit = "5 1h"
	}
	if c.sendTimeout == "" {
		c.sendTimeout = "2s"
	}
	return fmt.Sprintf(`{
	otp {
		secret %s
		store redis {
			%s
		}
		sender sns {
			region eu-west-2
			endpoint %s
		}
		send_timeout %s
		prices {
			default %v
		}
		budget {
			daily %d
		}
		template login {
			key %s
			resend 0s
			limit mobile %s
			limit ip 0 1h
			limit prefix 0 1h
			limit template 0 24h
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
`, sharedSecret, strings.ReplaceAll(c.store, "\n", "\n\t\t\t"), c.sns, c.sendTimeout, smsPrice, dailyBudget,
		templateKey, c.mobileLimit, testnet.Site(port), gateMobile, c.upstream)
}

// cluster is several Caddy instances on one store, with the SNS double and an upstream
// that counts what reaches it.
type cluster struct {
	bases        []string // each instance's http://127.0.0.1:port
	procs        []*caddyProc
	sns          *snsdouble.Double
	rdb          redis.UniversalClient // the store, for inspection
	upstreamHits *atomic.Int64
}

// startInstances starts n Caddy instances with cfg (store set, sns and upstream filled in)
// and a counting upstream.
func startInstances(t testing.TB, n int, cfg instanceConfig, rdb redis.UniversalClient) *cluster {
	t.Helper()
	c := &cluster{sns: snsdouble.New(t), rdb: rdb, upstreamHits: new(atomic.Int64)}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.upstreamHits.Add(1)
		fmt.Fprintf(w, "upstream: mobile=%s", r.Header.Get("X-OTP-Mobile"))
	}))
	t.Cleanup(up.Close)
	cfg.sns, cfg.upstream = c.sns.URL(), up.Listener.Addr().String()
	start := time.Now()
	for range n {
		port := testnet.FreePort(t)
		c.procs = append(c.procs, startCaddy(t, cfg.caddyfile(port)))
		c.bases = append(c.bases, testnet.Site(port))
	}
	t.Logf("%d instances up in %s", n, time.Since(start).Round(time.Millisecond))
	return c
}

// backend is a Redis deployment the instances share.
type backend struct {
	store string                // the lines inside `store redis { … }`
	rdb   redis.UniversalClient // a client of it, for inspection
	// sentinel is set for the Sentinel backend.
	sentinel *redistest.Sentinel
}

// backendKinds are the deployments every flow runs against.
var backendKinds = []string{"single", "cluster", "sentinel"}

func startBackend(t testing.TB, kind string) backend {
	t.Helper()
	start := time.Now()
	defer func() { t.Logf("%s redis up in %s", kind, time.Since(start).Round(time.Millisecond)) }()
	switch kind {
	case "single":
		s := redistest.Start(t)
		return backend{store: "address " + s.Addr(), rdb: s.Client()}
	case "cluster":
		c := redistest.StartCluster(t)
		return backend{store: "address " + strings.Join(c.Addrs(), "\naddress "), rdb: c.ClusterClient()}
	case "sentinel":
		s := redistest.StartSentinel(t)
		b := backend{store: "master_name " + s.MasterName() + "\naddress " + strings.Join(s.SentinelAddrs(), " "), sentinel: s}
		b.rdb = redis.NewFailoverClient(&redis.FailoverOptions{MasterName: s.MasterName(), SentinelAddrs: s.SentinelAddrs()})
		t.Cleanup(func() { b.rdb.Close() })
		return b
	}
	t.Fatalf("unknown backend %q", kind)
	return backend{}
}

// sendOTP asks base for a code to mobile.
func sendOTP(t testing.TB, base, mobile string) answer {
	t.Helper()
	return request(t, "POST", base+"/otp/send-otp", nil, map[string]string{"mobile": mobile}, "", apiKey)
}

// verifyOTP checks code for mobile at base.
func verifyOTP(t testing.TB, base, mobile, code string) answer {
	t.Helper()
	return request(t, "POST", base+"/otp/verify-otp", nil, map[string]string{"mobile": mobile, "otp": code}, "", apiKey)
}

// expect fails the test unless a has status and its body contains want.
func expect(t testing.TB, what string, a answer, status int, want string) {
	t.Helper()
	if a.status != status || !strings.Contains(a.body, want) {
		t.Fatalf("%s: expected %d with %s, got %d %s", what, status, want, a.status, a.body)
	}
}

// parallelSends sends one code to each of mobiles at once, request i through
// bases[i%len(bases)], and returns the answers in order.
func parallelSends(t testing.TB, bases, mobiles []string) []answer {
	t.Helper()
	answers := make([]answer, len(mobiles))
	errs := make([]error, len(mobiles))
	var wg sync.WaitGroup
	for i, m := range mobiles {
		wg.Go(func() {
			answers[i], errs[i] = tryRequest(noRedirects, "POST", bases[i%len(bases)]+"/otp/send-otp", nil,
				map[string]string{"mobile": m}, "", apiKey)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return answers
}

// byStatus counts answers by "status code" (the error code, or "sent").
func byStatus(answers []answer) map[string]int {
	out := map[string]int{}
	for _, a := range answers {
		out[fmt.Sprintf("%d %s", a.status, errorCode(a))]++
	}
	return out
}

// errorCode is the API error code of a, or its status field ("sent", "verified").
func errorCode(a answer) string {
	var v struct {
		Status string `json:"status"`
		Error  struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if json.Unmarshal([]byte(a.body), &v) != nil {
		return "?"
	}
	if v.Error.Code != "" {
		return v.Error.Code
	}
	return v.Status
}

// ledgerEntry is one line of GET …/sms-log.
type ledgerEntry struct {
	MessageID string  `json:"message_id"`
	Mobile    string  `json:"mobile"`
	Parts     int     `json:"parts"`
	PriceUSD  float64 `json:"price_usd"`
	Status    string  `json:"status"`
}

// smsLog reads the newest limit ledger entries at base.
func smsLog(t testing.TB, base string, limit int) []ledgerEntry {
	t.Helper()
	a := request(t, "GET", base+"/otp/sms-log?limit="+strconv.Itoa(limit), nil, nil, "", apiKey)
	if a.status != http.StatusOK {
		t.Fatalf("expected 200 from sms-log at %s, got %d %s", base, a.status, a.body)
	}
	var v struct {
		Messages []ledgerEntry `json:"messages"`
		Count    int           `json:"count"`
	}
	if err := json.Unmarshal([]byte(a.body), &v); err != nil {
		t.Fatalf("reading sms-log: %v: %s", err, a.body)
	}
	if v.Count != len(v.Messages) {
		t.Fatalf("expected sms-log count %d to match its %d messages", v.Count, len(v.Messages))
	}
	return v.Messages
}

// sameLedger reads the ledger on every instance, checks they agree, and returns it.
func (c *cluster) sameLedger(t testing.TB, limit int) []ledgerEntry {
	t.Helper()
	first := smsLog(t, c.bases[0], limit)
	for _, base := range c.bases[1:] {
		if got := smsLog(t, base, limit); fmt.Sprint(got) != fmt.Sprint(first) {
			t.Fatalf("expected %s to show the same ledger as %s, got\n%v\nand\n%v", base, c.bases[0], got, first)
		}
	}
	return first
}

// budgetDayKey is the store's key of today's spend in micro-USD.
func budgetDayKey() string {
	return "otp:{budget}:d:" + time.Now().UTC().Format("2006-01-02")
}

// spentMicro is today's spend in the store, in micro-USD.
func (c *cluster) spentMicro(t testing.TB) int64 {
	t.Helper()
	n, err := c.rdb.Get(context.Background(), budgetDayKey()).Int64()
	if err == redis.Nil {
		return 0
	}
	if err != nil {
		t.Fatalf("reading %s: %v", budgetDayKey(), err)
	}
	return n
}

// TestBackends runs the flows of several instances against a single Redis, a Redis
// Cluster (three address lines) and Sentinel (master_name and the sentinel's address):
// three instances on the single Redis, two on the others.
func TestBackends(t *testing.T) {
	flows := []struct {
		name string
		only string // a backend kind, or "" for all
		run  func(t *testing.T, c *cluster, b backend)
	}{
		{"api", "", apiAcrossInstances},
		{"gate", "", gateAcrossInstances},
		{"limit", "", limitAcrossInstances},
		{"budget", "", budgetAcrossInstances},
		{"ttl", "", everyKeyHasTTL},
		{"readme", "cluster", readmeCaddyfileRuns},
		{"readme", "sentinel", readmeCaddyfileRuns},
		{"failover", "sentinel", sentinelFailover},
	}
	for _, kind := range backendKinds {
		t.Run(kind, func(t *testing.T) {
			b := startBackend(t, kind)
			n := 2
			if kind == "single" {
				n = 3
			}
			c := startInstances(t, n, instanceConfig{store: b.store}, b.rdb)
			for _, f := range flows {
				if f.only != "" && f.only != kind {
					continue
				}
				if !t.Run(f.name, func(t *testing.T) { f.run(t, c, b) }) {
					return // later flows build on the state of earlier ones
				}
			}
		})
	}
}

// apiAcrossInstances sends on one instance and verifies on the others.
func apiAcrossInstances(t *testing.T, c *cluster, _ backend) {
	a, b := c.bases[0], c.bases[len(c.bases)-1]
	before := c.sns.Count()
	p := sendOTP(t, a, apiMobile)
	expect(t, "send on A", p, http.StatusOK, `"status":"sent"`)
	code := waitSMS(t, c.sns, before+1, apiMobile)
	wrong := fmt.Sprintf("%06d", (mustAtoi(t, code)+1)%1_000_000)
	expect(t, "a wrong code on B", verifyOTP(t, b, apiMobile, wrong), http.StatusUnauthorized, `"attempts_left":4`)
	expect(t, "the right code on B", verifyOTP(t, b, apiMobile, code), http.StatusOK, `"status":"verified"`)
	for _, base := range c.bases {
		expect(t, "the used code on "+base, verifyOTP(t, base, apiMobile, code), http.StatusGone, `"otp_expired"`)
	}
	expect(t, "a mobile never sent to", verifyOTP(t, a, "+447400999999", "123456"), http.StatusGone, `"otp_expired"`)
	ledger := c.sameLedger(t, 10)
	if len(ledger) != 1 || ledger[0].Status != "sent" || ledger[0].PriceUSD != smsPrice || !strings.Contains(p.body, ledger[0].MessageID) {
		t.Fatalf("expected one sent ledger entry of %v USD for %s, got %+v", smsPrice, p.body, ledger)
	}
}

func mustAtoi(t testing.TB, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// gateAcrossInstances signs in on the first instance, uses the session on all, logs out on
// the last, and polls the others until they refuse the cookie, within revocationBound.
func gateAcrossInstances(t *testing.T, c *cluster, _ backend) {
	jar := newJarClient(t)
	session := gateSignIn(t, jar, c.sns, c.bases[0]+"/admin/", gateMobile)
	old := "otp_session=" + session

	// The jar carries the cookie the first instance set to the others: the same origin
	// host, as behind a load balancer.
	for _, base := range c.bases {
		p := requestWith(t, jar, "GET", base+"/admin/page", nil, nil, "", htmlAccept)
		if p.status != http.StatusOK || p.body != "upstream: mobile="+gateMobile {
			t.Fatalf("expected 200 from the upstream with the mobile through %s, got %d %q", base, p.status, p.body)
		}
	}

	last := c.bases[len(c.bases)-1]
	p := requestWith(t, jar, "GET", last+"/admin/.otp/logout", nil, nil, "", htmlAccept)
	if p.status != http.StatusOK || !strings.Contains(p.body, "Sign out") {
		t.Fatalf("expected the sign-out page on %s, got %d %s", last, p.status, p.body)
	}
	p = requestWith(t, jar, "POST", last+"/admin/.otp/logout", url.Values{"_otp_csrf": {p.csrf(t)}}, nil, "", nil)
	answered := time.Now()
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/admin/" {
		t.Fatalf("expected 303 to /admin/ from the logout, got %d %q", p.status, p.header.Get("Location"))
	}
	if p := request(t, "GET", last+"/admin/", nil, nil, old, htmlAccept); p.status != http.StatusUnauthorized {
		t.Fatalf("expected 401 on %s for the logged-out cookie right after logout, got %d", last, p.status)
	}

	hitsBefore := c.upstreamHits.Load()
	for _, base := range c.bases[:len(c.bases)-1] {
		polls := 0
		for {
			polls++
			p := request(t, "GET", base+"/admin/", nil, nil, old, htmlAccept)
			if p.status == http.StatusUnauthorized {
				break
			}
			if p.status != http.StatusOK {
				t.Fatalf("expected 200 or 401 on %s while the logout spreads, got %d %s", base, p.status, p.body)
			}
			if time.Since(answered) > 3*revocationBound {
				t.Fatalf("expected %s to refuse the logged-out cookie within %s, got 200 after %s",
					base, revocationBound, time.Since(answered).Round(time.Millisecond))
			}
			time.Sleep(5 * time.Millisecond)
		}
		delay := time.Since(answered)
		t.Logf("logout refused on %s after %s, %d polls", base, delay.Round(100*time.Microsecond), polls)
		if delay > revocationBound {
			t.Errorf("expected the logout to reach %s within %s, got %s", base, revocationBound, delay.Round(time.Millisecond))
		}
	}
	hitsAfter := c.upstreamHits.Load()
	for _, base := range c.bases {
		if p := request(t, "GET", base+"/admin/x", nil, nil, old, nil); p.status != http.StatusUnauthorized || !strings.Contains(p.body, `"otp_required"`) {
			t.Fatalf("expected 401 otp_required at %s for the logged-out cookie, got %d %s", base, p.status, p.body)
		}
	}
	if got := c.upstreamHits.Load(); got != hitsAfter {
		t.Errorf("expected no upstream request for a logged-out cookie, got %d more", got-hitsAfter)
	}
	t.Logf("upstream requests while the logout spread: %d", hitsAfter-hitsBefore)
}

// limitAcrossInstances sends to one mobile in parallel through every instance: exactly the
// mobile limit (5) goes out.
func limitAcrossInstances(t *testing.T, c *cluster, _ backend) {
	const mobile, sends, limit = "+447400200001", 16, 5
	before := c.sns.Attempts()
	mobiles := make([]string, sends)
	for i := range mobiles {
		mobiles[i] = mobile
	}
	got := byStatus(parallelSends(t, c.bases, mobiles))
	want := map[string]int{"200 sent": limit, "429 rate_limited": sends - limit}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("expected %v, got %v", want, got)
	}
	if n := c.sns.Attempts() - before; n != limit {
		t.Fatalf("expected %d Publish calls, got %d", limit, n)
	}
}

// budgetAcrossInstances leaves room for three SMS under the daily cap and sends to ten
// mobiles in parallel through every instance: exactly three go out and the spend stops at
// the cap.
func budgetAcrossInstances(t *testing.T, c *cluster, _ backend) {
	const room, sends = 3, 10
	ctx := context.Background()
	capMicro := int64(dailyBudget * 1_000_000)
	if err := c.rdb.Set(ctx, budgetDayKey(), capMicro-room*smsPriceMicro, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.rdb.Del(ctx, budgetDayKey()) })
	before := c.sns.Attempts()
	mobiles := make([]string, sends)
	for i := range mobiles {
		mobiles[i] = fmt.Sprintf("+4474003%05d", i)
	}
	answers := parallelSends(t, c.bases, mobiles)
	got := byStatus(answers)
	want := map[string]int{"200 sent": room, "429 budget_exhausted": sends - room}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("expected %v, got %v", want, got)
	}
	for _, a := range answers {
		if a.status == http.StatusTooManyRequests && a.header.Get("Retry-After") == "" {
			t.Fatalf("expected Retry-After on budget_exhausted, got %v", a.header)
		}
	}
	if n := c.sns.Attempts() - before; n != room {
		t.Fatalf("expected %d Publish calls, got %d", room, n)
	}
	if got := c.spentMicro(t); got != capMicro {
		t.Fatalf("expected the day's spend to stop at the cap, %d micro-USD, got %d", capMicro, got)
	}
}

// everyKeyHasTTL scans every key of the store (every Cluster master) for one without a TTL.
func everyKeyHasTTL(t *testing.T, c *cluster, _ backend) {
	ctx := context.Background()
	var mu sync.Mutex
	var keys int
	check := func(ctx context.Context, n *redis.Client) error {
		iter := n.Scan(ctx, 0, "otp:*", 100).Iterator()
		for iter.Next(ctx) {
			ttl, err := n.PTTL(ctx, iter.Val()).Result()
			if err != nil {
				return err
			}
			if ttl < 0 {
				return fmt.Errorf("expected a TTL on %s, got %v", iter.Val(), ttl)
			}
			mu.Lock()
			keys++
			mu.Unlock()
		}
		return iter.Err()
	}
	var err error
	switch rdb := c.rdb.(type) {
	case *redis.ClusterClient:
		err = rdb.ForEachMaster(ctx, check)
	case *redis.Client:
		err = check(ctx, rdb)
	default:
		t.Fatalf("unexpected client %T", c.rdb)
	}
	if err != nil {
		t.Fatal(err)
	}
	if keys == 0 {
		t.Fatal("expected keys in the store after the flows, got none")
	}
	t.Logf("%d keys, each with a TTL", keys)
}

// sentinelFailover promotes the replica and polls until a send through each instance
// works again; codes, the budget and the ledger were replicated.
func sentinelFailover(t *testing.T, c *cluster, b backend) {
	ledger := len(c.sameLedger(t, 1000))
	// Replication is asynchronous: a write the replica has not received when it is promoted
	// is lost (Sentinel's own limit). Wait for it, so the count below is exact.
	b.sentinel.WaitReplicated()
	b.sentinel.Failover()
	failedOver := time.Now()
	for i, base := range c.bases {
		mobile := fmt.Sprintf("+4474004%05d", i)
		for {
			a := sendOTP(t, base, mobile)
			if a.status == http.StatusOK {
				break
			}
			if a.status != http.StatusServiceUnavailable {
				t.Fatalf("expected 200 or 503 store_unavailable after a failover, got %d %s", a.status, a.body)
			}
			if time.Since(failedOver) > 10*time.Second {
				t.Fatalf("expected sends to work within 10s of the failover, got %d %s", a.status, a.body)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	t.Logf("sends work on every instance %s after the failover completed", time.Since(failedOver).Round(time.Millisecond))
	if got := len(c.sameLedger(t, 1000)); got != ledger+len(c.bases) {
		t.Fatalf("expected the ledger to keep its %d entries and gain %d, got %d", ledger, len(c.bases), got)
	}
}

// The README's "Running several instances" Caddyfiles, and what the test puts in place of
// their production values.
var (
	readmeCaddyfileBlock = regexp.MustCompile("(?s)<!-- (cluster|sentinel) caddyfile -->\n```caddyfile\n(.*?)```")
	readmePlaceholders   = []string{"{env.OTP_SECRET}", "{env.OTP_LOGIN_KEY}", "{env.REDIS_PASSWORD}",
		"region eu-west-2", "otp.example.com", "127.0.0.1:9000"}
)

// readmeCaddyfile returns the README's Caddyfile for kind, checking that Caddy adapts it
// as written.
func readmeCaddyfile(t testing.TB, kind string) string {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range readmeCaddyfileBlock.FindAllStringSubmatch(string(readme), -1) {
		if m[1] != kind {
			continue
		}
		path := filepath.Join(t.TempDir(), "Caddyfile")
		if err := os.WriteFile(path, []byte(m[2]), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(caddyBin, "adapt", "--config", path).CombinedOutput(); err != nil {
			t.Fatalf("expected the README's %s Caddyfile to adapt, got %v: %s", kind, err, out)
		}
		return m[2]
	}
	t.Fatalf("expected a README block after <!-- %s caddyfile -->", kind)
	return ""
}

// readmeCaddyfileRuns starts two instances with the README's Caddyfile for the backend,
// its addresses and secrets replaced by the test's, and sends on one and verifies on the
// other.
func readmeCaddyfileRuns(t *testing.T, c *cluster, b backend) {
	kind := "cluster"
	if b.sentinel != nil {
		kind = "sentinel"
	}
	text := readmeCaddyfile(t, kind)
	// The documented store addresses are the lines starting with address.
	addrLines := regexp.MustCompile(`(?m)^\t+address .*\n`)
	if !addrLines.MatchString(text) {
		t.Fatalf("expected address lines in the README's %s Caddyfile", kind)
	}
	first := true
	text = addrLines.ReplaceAllStringFunc(text, func(string) string {
		if !first {
			return ""
		}
		first = false
		var out string
		for _, l := range strings.Split(b.store, "\n") {
			if strings.HasPrefix(l, "address ") {
				out += "\t\t\t" + l + "\n"
			}
		}
		return out
	})
	var bases []string
	for range 2 {
		port := testnet.FreePort(t)
		cf := text
		for _, p := range readmePlaceholders {
			if !strings.Contains(cf, p) {
				t.Fatalf("expected %q in the README's %s Caddyfile", p, kind)
			}
		}
		cf = strings.NewReplacer(
			"{env.OTP_SECRET}", sharedSecret,
			"{env.OTP_LOGIN_KEY}", templateKey,
			"{env.REDIS_PASSWORD}", `""`,
			"region eu-west-2", "region eu-west-2\n\t\t\tendpoint "+c.sns.URL(),
			"otp.example.com", testnet.Site(port),
			"127.0.0.1:9000", strings.TrimPrefix(c.bases[0], "http://"),
		).Replace(cf)
		startCaddy(t, cf)
		bases = append(bases, testnet.Site(port))
	}
	const mobile = "+447400500001"
	before := c.sns.Count()
	expect(t, "send through the README's config", sendOTP(t, bases[0], mobile), http.StatusOK, `"status":"sent"`)
	code := waitSMS(t, c.sns, before+1, mobile)
	expect(t, "verify on the other instance", verifyOTP(t, bases[1], mobile, code), http.StatusOK, `"status":"verified"`)
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
	p := runCaddy(t, root, []string{fmt.Sprintf("CADDY_ADMIN=127.0.0.1:%d", testnet.FreePort(t))}, "run", "--config", "Caddyfile.example")
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

	// The demo gate, as the README tells a new user to try it: challenge, mobile, the code
	// from the log, and the demo upstream showing the verified mobile.
	// (Another mobile than the API's: the demo template's resend interval is 60s.)
	const gateMobile = "+447400123457"
	browser := newJarClient(t)
	page := map[string]string{"Host": "localhost:8080", "Accept": "text/html"}
	a = requestWith(t, browser, "GET", "http://127.0.0.1:8080/admin/", nil, nil, "", page)
	if a.status != http.StatusUnauthorized || !strings.Contains(a.body, `name="mobile"`) || !strings.Contains(a.body, "caddyotp demo") {
		t.Fatalf("expected 401 and the demo's challenge page, got %d %s", a.status, a.body)
	}
	logged = len(p.output())
	a = requestWith(t, browser, "POST", "http://127.0.0.1:8080/admin/",
		url.Values{"_otp_step": {"send"}, "_otp_csrf": {a.csrf(t)}, "mobile": {gateMobile}}, nil, "", page)
	if a.status != http.StatusSeeOther {
		t.Fatalf("expected 303 after the mobile step, got %d %s", a.status, a.body)
	}
	code = p.waitOutput(regexp.MustCompile(`"logger":"otp\.senders\.log"[^\n]*Your verification code is (\d{6})\.`), logged, 5*time.Second)
	a = requestWith(t, browser, "GET", "http://127.0.0.1:8080/admin/", nil, nil, "", page)
	a = requestWith(t, browser, "POST", "http://127.0.0.1:8080/admin/",
		url.Values{"_otp_step": {"verify"}, "_otp_csrf": {a.csrf(t)}, "otp": {code}}, nil, "", page)
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/admin/" {
		t.Fatalf("expected 303 to /admin/, got %d %v", a.status, a.header.Get("Location"))
	}
	a = requestWith(t, browser, "GET", "http://127.0.0.1:8080/admin/", nil, nil, "", page)
	if a.status != http.StatusOK || !strings.Contains(a.body, `<strong id="mobile">`+gateMobile+`</strong>`) {
		t.Fatalf("expected the demo upstream showing %s, got %d %s", gateMobile, a.status, a.body)
	}
}
