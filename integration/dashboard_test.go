package integration

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/bcrypt"

	"github.com/caddyotp/caddyotp/internal/eumdouble"
	"github.com/caddyotp/caddyotp/internal/sqsdouble"
	"github.com/caddyotp/caddyotp/internal/testnet"
)

// The dashboard's operator in the browser test, and the second template's key.
const (
	dashboardUser     = "ops"
	dashboardPassword = "integration-dashboard-password"
	signupKey         = "integration-signup-key-0123456789ab"
)

// dashboardSite is one Caddy with the API under /otp/, the dashboard at /otp-dashboard/
// behind basic_auth, the memory store, SMS through End User Messaging (the double) and its
// delivery reports read from SQS (the double).
type dashboardSite struct {
	base  string
	eum   *eumdouble.Double
	queue *sqsdouble.Double
}

func startDashboardSite(t *testing.T) *dashboardSite {
	t.Helper()
	s := &dashboardSite{eum: eumdouble.New(t), queue: sqsdouble.New(t)}
	s.queue.SetVisibilityTimeout(time.Second)
	hash, err := bcrypt.GenerateFromPassword([]byte(dashboardPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	port := testnet.FreePort(t)
	s.base = testnet.Site(port)
	startCaddy(t, fmt.Sprintf(`{
	otp {
		secret %s
		sender eum {
			region eu-west-2
			endpoint %s
			configuration_set otp
		}
		reports sqs %s {
			region eu-west-2
			endpoint %s
			wait 1s
		}
		prices {
			default %v
			US 0.0079
		}
		budget {
			daily %d
			monthly 300
		}
		template login {
			key %s
			resend 0s
		}
		template signup {
			key %s
			resend 0s
			guard {
				min_sends 5
				min_conversion 0.5
				block 1h
			}
		}
	}
}

%s {
	basic_auth /otp-dashboard/* {
		%s %s
	}
	otp_dashboard /otp-dashboard/*
	handle_path /otp/* {
		otp_api
	}
	respond "not the dashboard"
}
`, sharedSecret, s.eum.URL(), s.queue.QueueURL(), s.queue.URL(), smsPrice, dailyBudget, templateKey, signupKey,
		s.base, dashboardUser, hash))
	return s
}

// api calls the API with a template's key.
func (s *dashboardSite) api(t *testing.T, key, method, path string, body any) answer {
	t.Helper()
	return request(t, method, s.base+"/otp/"+path, nil, body, "", map[string]string{"Authorization": "Bearer " + key})
}

// send sends a code to mobile with key's template and returns the message id and code.
func (s *dashboardSite) send(t *testing.T, key, mobile string) (id, code string) {
	t.Helper()
	before := s.eum.Count()
	a := s.api(t, key, "POST", "send-otp", map[string]string{"mobile": mobile})
	var v struct {
		MessageID string `json:"message_id"`
	}
	if err := json.Unmarshal([]byte(a.body), &v); err != nil || a.status != http.StatusOK {
		t.Fatalf("send-otp to %s: expected 200 with a message id, got %d %s", mobile, a.status, a.body)
	}
	msgs, err := s.eum.WaitFor(before+1, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	m := smsCode.FindStringSubmatch(msgs[before].MessageBody)
	if m == nil {
		t.Fatalf("expected a code in %q", msgs[before].MessageBody)
	}
	return v.MessageID, m[1]
}

// dashStats is what the test reads of sms-stats.
type dashStats struct {
	Days []struct {
		Date           string
		Sent, Verified int64
		EstimatedUSD   float64 `json:"estimated_usd"`
		BilledUSD      float64 `json:"billed_usd"`
	} `json:"days"`
	Countries []struct {
		Country        string
		Sent, Verified int64
		Conversion     float64
		EstimatedUSD   float64 `json:"estimated_usd"`
		BilledUSD      float64 `json:"billed_usd"`
		Blocked        bool
	} `json:"countries"`
	Budget struct {
		DailyUSD        float64 `json:"daily_usd"`
		DailySpentUSD   float64 `json:"daily_spent_usd"`
		MonthlyUSD      float64 `json:"monthly_usd"`
		MonthlySpentUSD float64 `json:"monthly_spent_usd"`
	} `json:"budget"`
}

// dashEntry is what the test reads of an sms-log entry.
type dashEntry struct {
	Time      time.Time `json:"time"`
	Template  string    `json:"template"`
	Mobile    string    `json:"mobile"`
	Country   string    `json:"country"`
	Parts     int       `json:"parts"`
	PriceUSD  float64   `json:"price_usd"`
	Status    string    `json:"status"`
	BilledUSD *float64  `json:"billed_usd"`
	Carrier   string    `json:"carrier"`
}

func (s *dashboardSite) stats(t *testing.T, key string) dashStats {
	t.Helper()
	a := s.api(t, key, "GET", "sms-stats?days=30", nil)
	var st dashStats
	if err := json.Unmarshal([]byte(a.body), &st); err != nil || a.status != http.StatusOK {
		t.Fatalf("sms-stats: expected 200, got %d %s", a.status, a.body)
	}
	return st
}

func (s *dashboardSite) log(t *testing.T, key string) []dashEntry {
	t.Helper()
	a := s.api(t, key, "GET", "sms-log?limit=100", nil)
	var v struct {
		Messages []dashEntry `json:"messages"`
	}
	if err := json.Unmarshal([]byte(a.body), &v); err != nil || a.status != http.StatusOK {
		t.Fatalf("sms-log: expected 200, got %d %s", a.status, a.body)
	}
	return v.Messages
}

// waitStatuses polls sms-log of key until it holds n entries with status (reports are
// applied in the background).
func (s *dashboardSite) waitStatuses(t *testing.T, key, status string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := 0
		for _, e := range s.log(t, key) {
			if e.Status == status {
				got++
			}
		}
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("expected %d %s entries within 10s, got %d", n, status, got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pageReader reads the page shown: the texts of the budget's and each template's cards,
// and the cells of every row of the countries table, of the two tables behind the charts
// and of the recent SMS.
const pageReader = `(() => {
	const section = name => [...document.querySelectorAll('main > section')].find(s => s.querySelector('h2').textContent.trim() === name);
	const rows = (el, sel) => el ? [...el.querySelectorAll(sel + ' tbody tr')].map(tr => [...tr.children].map(c => c.textContent.trim())) : null;
	const cards = el => el ? [...el.querySelectorAll('.cards .card')].map(c => [...c.children].map(x => x.textContent.trim())) : null;
	const tmpl = name => { const s = section('Template ' + name); return {cards: cards(s), countries: rows(s, 'table.countries'),
		days: s ? [...s.querySelectorAll('details')].map(d => rows(d, 'table')) : null}; };
	return {budget: cards(section('Budget')), login: tmpl('login'), signup: tmpl('signup'), recent: rows(section('Recent SMS'), 'table.recent')};
})()`

type pageTemplate struct {
	Cards     [][]string   `json:"cards"`
	Countries [][]string   `json:"countries"`
	Days      [][][]string `json:"days"` // the two tables behind the charts
}

type pageData struct {
	Budget [][]string   `json:"budget"`
	Login  pageTemplate `json:"login"`
	Signup pageTemplate `json:"signup"`
	Recent [][]string   `json:"recent"`
}

// dollars reads "$0.0423" (or "−$0.01") as a number.
func dollars(t *testing.T, s string) float64 {
	t.Helper()
	neg := strings.HasPrefix(s, "−")
	v, err := strconv.ParseFloat(strings.TrimPrefix(strings.TrimPrefix(s, "−"), "$"), 64)
	if err != nil {
		t.Fatalf("expected a dollar amount, got %q", s)
	}
	if neg {
		v = -v
	}
	return v
}

// sameUSD: the page shows at most four decimals.
func sameUSD(page float64, api float64) bool { return math.Abs(page-api) < 0.00005+1e-12 }

// checkTemplate compares a template's part of the page with its sms-stats.
func checkTemplate(t *testing.T, name string, p pageTemplate, st dashStats) {
	t.Helper()
	today := st.Days[len(st.Days)-1]
	if len(p.Cards) != 2 {
		t.Fatalf("%s: expected two cards (today, the month), got %q", name, p.Cards)
	}
	wantToday := []string{"Today", fmt.Sprintf("%d sent", today.Sent), fmt.Sprintf("%d verified", today.Verified)}
	if got := p.Cards[0]; len(got) != 4 || strings.Join(got[:3], "|") != strings.Join(wantToday, "|") {
		t.Errorf("%s: expected the today card %q, got %q", name, wantToday, got)
	} else {
		est, billed, ok := strings.Cut(got[3], " estimated, ")
		if !ok || !sameUSD(dollars(t, est), today.EstimatedUSD) || !sameUSD(dollars(t, strings.TrimSuffix(billed, " billed")), today.BilledUSD) {
			t.Errorf("%s: expected today's %v estimated and %v billed, got %q", name, today.EstimatedUSD, today.BilledUSD, got[3])
		}
	}
	if len(p.Days) != 2 || len(p.Days[0]) != 30 || len(p.Days[1]) != 30 {
		t.Fatalf("%s: expected two tables of 30 days behind the charts, got %d", name, len(p.Days))
	}
	for i, d := range st.Days {
		sent, spend := p.Days[0][i], p.Days[1][i]
		if sent[0] != d.Date || sent[1] != strconv.FormatInt(d.Sent, 10) || sent[2] != strconv.FormatInt(d.Verified, 10) {
			t.Errorf("%s: expected %s %d sent %d verified in the table, got %q", name, d.Date, d.Sent, d.Verified, sent)
		}
		if spend[0] != d.Date || !sameUSD(dollars(t, spend[1]), d.EstimatedUSD) || !sameUSD(dollars(t, spend[2]), d.BilledUSD) {
			t.Errorf("%s: expected %s %v estimated %v billed in the table, got %q", name, d.Date, d.EstimatedUSD, d.BilledUSD, spend)
		}
	}
	if len(p.Countries) != len(st.Countries) {
		t.Fatalf("%s: expected %d countries, got %q", name, len(st.Countries), p.Countries)
	}
	for i, c := range st.Countries {
		row := p.Countries[i]
		conv := fmt.Sprintf("%.0f%%", c.Conversion*100)
		guard := "Open"
		if c.Blocked {
			guard = "Blocked"
		}
		if len(row) != 7 || row[0] != c.Country || row[1] != strconv.FormatInt(c.Sent, 10) || row[2] != strconv.FormatInt(c.Verified, 10) ||
			row[3] != conv || !sameUSD(dollars(t, row[4]), c.EstimatedUSD) || !sameUSD(dollars(t, row[5]), c.BilledUSD) || row[6] != guard {
			t.Errorf("%s: expected the country row %s %d %d %s %v %v %s, got %q", name, c.Country, c.Sent, c.Verified, conv,
				c.EstimatedUSD, c.BilledUSD, guard, row)
		}
	}
}

// TestBrowserDashboard: a scripted mix of sends, verifications and delivery reports on two
// templates, then the dashboard in headless Chromium through basic_auth: every number on
// the page matches sms-stats and sms-log, no console error, no CSP violation, no axe
// violation at phone or desktop width; screenshots at both widths.
func TestBrowserDashboard(t *testing.T) {
	s := startDashboardSite(t)

	// login: three GB mobiles and a US one; two codes used; reports for three.
	idA, codeA := s.send(t, templateKey, "+447400123456")
	idB, codeB := s.send(t, templateKey, "+447400123457")
	s.send(t, templateKey, "+447400123458")
	idD, _ := s.send(t, templateKey, "+12025550123")
	expect(t, "verify A", s.api(t, templateKey, "POST", "verify-otp", map[string]string{"mobile": "+447400123456", "otp": codeA}), 200, "verified")
	expect(t, "verify B", s.api(t, templateKey, "POST", "verify-otp", map[string]string{"mobile": "+447400123457", "otp": codeB}), 200, "verified")
	// signup: one, used.
	_, codeE := s.send(t, signupKey, "+447400123459")
	expect(t, "verify E", s.api(t, signupKey, "POST", "verify-otp", map[string]string{"mobile": "+447400123459", "otp": codeE}), 200, "verified")
	// signup: five US mobiles whose codes are never used: its pumping guard blocks the US
	for i := range 5 {
		s.send(t, signupKey, fmt.Sprintf("+1202555%04d", 150+i))
	}

	s.queue.Put(sqsdouble.SNSBody(eumEvent(idA, "DELIVERED", 0.04, 0.0023)))
	s.queue.Put(sqsdouble.RawBody(eumEvent(idB, "DELIVERED", 0.045, 0)))
	s.queue.Put(sqsdouble.EventBridgeBody(eumEvent(idD, "FAILED", 0, 0)))
	s.waitStatuses(t, templateKey, "delivered", 2)
	s.waitStatuses(t, templateKey, "failed", 1)

	loginStats, signupStats := s.stats(t, templateKey), s.stats(t, signupKey)
	entries := append(s.log(t, templateKey), s.log(t, signupKey)...)
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].Time.After(entries[j].Time) })
	if today := loginStats.Days[len(loginStats.Days)-1]; today.Sent != 4 || today.Verified != 2 || len(entries) != 10 {
		t.Fatalf("expected login today 4 sent and 2 verified, and 10 ledger entries; got %+v and %d", today, len(entries))
	}
	usBlocked := false
	for _, c := range signupStats.Countries {
		usBlocked = usBlocked || c.Country == "US" && c.Blocked
	}
	if !usBlocked {
		t.Fatalf("expected signup's guard to block the US, got %+v", signupStats.Countries)
	}

	b := newBrowser(t)
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(dashboardUser+":"+dashboardPassword))
	b.run("sign in through basic_auth", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Authorization": auth}})
		return err
	}))
	dash := s.base + "/otp-dashboard/"
	b.setViewport(desktopWidth, desktopHeight)
	b.run("open the dashboard", chromedp.Navigate(dash), chromedp.WaitVisible(chromedp.CSS("h1")))
	b.expectDocument(200, dash)
	desktop := b.screenshot("dashboard-desktop")
	b.expectClean("dashboard", "(nothing gated)")
	if *updateDocs {
		if err := os.WriteFile(filepath.Join("..", "docs", "dashboard.png"), desktop, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote docs/dashboard.png")
	}

	ctx, cancel := context.WithTimeout(b.ctx, actionTimeout)
	page, err := chromedp.Run(ctx, chromedp.Evaluate[pageData](pageReader))
	cancel()
	if err != nil {
		t.Fatalf("reading the page: %v", err)
	}
	checkTemplate(t, "login", page.Login, loginStats)
	checkTemplate(t, "signup", page.Signup, signupStats)
	if len(page.Budget) != 2 || len(page.Budget[0]) < 2 || !sameUSD(dollars(t, page.Budget[0][1]), loginStats.Budget.DailySpentUSD) ||
		!sameUSD(dollars(t, page.Budget[1][1]), loginStats.Budget.MonthlySpentUSD) {
		t.Errorf("expected the budget cards with %v today and %v this month, got %q", loginStats.Budget.DailySpentUSD,
			loginStats.Budget.MonthlySpentUSD, page.Budget)
	}
	if len(page.Recent) != len(entries) {
		t.Fatalf("expected %d recent SMS, got %q", len(entries), page.Recent)
	}
	for i, e := range entries {
		row := page.Recent[i]
		billed, carrier := "—", "—"
		if e.BilledUSD != nil {
			billed = fmt.Sprint(*e.BilledUSD)
		}
		if e.Carrier != "" {
			carrier = e.Carrier
		}
		if len(row) != 9 || row[1] != e.Template || row[2] != e.Mobile || row[3] != e.Country || row[4] != strconv.Itoa(e.Parts) ||
			!sameUSD(dollars(t, row[5]), e.PriceUSD) || (row[7] != e.Status && !strings.HasPrefix(row[7], e.Status+" ")) || row[8] != carrier ||
			(e.BilledUSD == nil) != (row[6] == "—") || (e.BilledUSD != nil && !sameUSD(dollars(t, row[6]), *e.BilledUSD)) {
			t.Errorf("recent SMS %d: expected %s %s %s %d %v %s %s %s, got %q", i, e.Template, e.Mobile, e.Country, e.Parts, e.PriceUSD,
				billed, e.Status, carrier, row)
		}
		if strings.Contains(strings.Join(row, " "), "7400123") {
			t.Errorf("recent SMS %d: expected a masked mobile, got %q", i, row)
		}
	}

	b.setViewport(viewportWidth, viewportHeight)
	b.run("reload at phone width", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("h1")))
	b.screenshot("dashboard-phone")
	b.expectClean("dashboard at phone width", "(nothing gated)")

	// The tables behind the charts are checked open, as a reader would open them.
	b.run("open the tables", chromedp.EvaluateAsDevTools[chromedp.Void](`document.querySelectorAll('details').forEach(d => d.open = true)`))
	b.expectAccessible("dashboard")
	t.Logf("the dashboard checked against %d ledger entries", len(entries))
}

// TestDashboardCaddyfileExample runs the repo's Caddyfile.example unchanged and opens the
// dashboard as the README says: basic_auth's 401 without the demo credentials, the page
// with them.
func TestDashboardCaddyfileExample(t *testing.T) {
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
	p := runCaddy(t, root, []string{fmt.Sprintf("CADDY_ADMIN=127.0.0.1:%d", testnet.FreePort(t))}, "run", "--config", "Caddyfile.example")
	p.waitHTTP("http://127.0.0.1:8080/")

	const u = "http://127.0.0.1:8080/otp-dashboard/"
	if a := request(t, "GET", u, nil, nil, "", map[string]string{"Host": "localhost:8080"}); a.status != http.StatusUnauthorized {
		t.Errorf("expected basic_auth's 401 without credentials, got %d", a.status)
	}
	demo := "Basic " + base64.StdEncoding.EncodeToString([]byte("ops:demo-password-change-me"))
	a := request(t, "GET", u, nil, nil, "", map[string]string{"Host": "localhost:8080", "Authorization": demo})
	if a.status != http.StatusOK || !strings.Contains(a.body, "<h2 id=\"t0\">Template default</h2>") {
		t.Fatalf("expected the dashboard with the README's demo credentials, got %d %.300s", a.status, a.body)
	}
	a = request(t, "GET", u+"?format=csv", nil, nil, "", map[string]string{"Host": "localhost:8080", "Authorization": demo})
	if a.status != http.StatusOK || !strings.HasPrefix(a.body, "time,template,provider,") {
		t.Errorf("expected the CSV with its header row, got %d %.200s", a.status, a.body)
	}
}
