package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/caddyotp/caddyotp/internal/eumdouble"
	"github.com/caddyotp/caddyotp/internal/logsdouble"
	"github.com/caddyotp/caddyotp/internal/redistest"
	"github.com/caddyotp/caddyotp/internal/snsdouble"
	"github.com/caddyotp/caddyotp/internal/sqsdouble"
	"github.com/caddyotp/caddyotp/internal/testnet"
)

// reportsLogGroup is the SNS delivery-status log group of the tests.
const reportsLogGroup = "sns/eu-west-2/123456789012/DirectPublishToPhoneNumber"

// reportsCaddyfile is one instance with the API under /otp/, the sender given (its lines
// inside `sender …`) and the report readers given (whole `reports` blocks), on a Redis.
func reportsCaddyfile(port int, redisAddr, sender, reports string) string {
	return fmt.Sprintf(`{
	otp {
		secret %s
		store redis {
			address %s
		}
		%s
		%s
		prices {
			default %v
		}
		budget {
			daily %d
		}
		template login {
			key %s
			resend 0s
			ttl 5m
			max_price 0.10
			origination_number +447400100200
			limit ip 0 1h
		}
	}
}

%s {
	handle_path /otp/* {
		otp_api
	}
}
`, sharedSecret, redisAddr, sender, reports, smsPrice, dailyBudget, templateKey, testnet.Site(port))
}

// reportedEntry is one line of GET …/sms-log with the fields a report adds.
type reportedEntry struct {
	MessageID  string   `json:"message_id"`
	Provider   string   `json:"provider"`
	PriceUSD   float64  `json:"price_usd"`
	Status     string   `json:"status"`
	BilledUSD  *float64 `json:"billed_usd"`
	Carrier    string   `json:"carrier"`
	ReportedAt string   `json:"reported_at"`
}

// waitEntry polls sms-log at base until the entry of id has status, and returns it.
func waitEntry(t testing.TB, base, id, status string, timeout time.Duration) reportedEntry {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for {
		a := request(t, "GET", base+"/otp/sms-log?limit=1000", nil, nil, "", apiKey)
		var v struct {
			Messages []reportedEntry `json:"messages"`
		}
		if err := json.Unmarshal([]byte(a.body), &v); err != nil {
			t.Fatalf("reading sms-log: %v: %s", err, a.body)
		}
		for _, e := range v.Messages {
			if e.MessageID == id {
				last = e.Status
				if e.Status == status {
					return e
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("expected the ledger entry of %s to be %s within %s, got %q", id, status, timeout, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// spentToday is today's spend in the store, in micro-USD.
func spentToday(t testing.TB, rdb redis.UniversalClient) int64 {
	t.Helper()
	n, err := rdb.Get(context.Background(), budgetDayKey()).Int64()
	if err != nil && err != redis.Nil {
		t.Fatalf("reading %s: %v", budgetDayKey(), err)
	}
	return n
}

// waitSpent waits until today's spend is want micro-USD (a report corrects the budget just
// after it marks the ledger entry), and returns what it last read.
func waitSpent(t testing.TB, rdb redis.UniversalClient, want int64) int64 {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		got := spentToday(t, rdb)
		if got == want || time.Now().After(deadline) {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sendFor sends a code to mobile at base and returns the message id.
func sendFor(t testing.TB, base, mobile string) string {
	t.Helper()
	a := sendOTP(t, base, mobile)
	expect(t, "send-otp", a, http.StatusOK, `"status":"sent"`)
	var v struct {
		MessageID string `json:"message_id"`
	}
	if err := json.Unmarshal([]byte(a.body), &v); err != nil || v.MessageID == "" {
		t.Fatalf("expected a message id from send-otp, got %s", a.body)
	}
	return v.MessageID
}

// eumEvent is an End User Messaging SMS event for id: final, with the status, price and
// carrier fee given.
func eumEvent(id, status string, price, fee float64) map[string]any {
	e := sqsdouble.SMSEvent()
	e["messageId"] = id
	e["messageStatus"] = status
	e["eventType"] = "TEXT_" + status
	e["totalMessagePrice"] = price
	e["totalCarrierFee"] = fee
	e["carrierName"] = "Vodafone UK"
	e["eventTimestamp"] = time.Now().UnixMilli()
	return e
}

// snsLogEvent is an SNS delivery-status log message for id.
func snsLogEvent(id, status string, price float64) string {
	b, _ := json.Marshal(map[string]any{
		"notification": map[string]any{"messageId": id, "timestamp": time.Now().UTC().Format("2006-01-02 15:04:05.000")},
		"delivery": map[string]any{
			"phoneCarrier": "EE", "mnc": 30, "numberOfMessageParts": 1, "destination": "+447400123456",
			"priceInUSD": price, "smsType": "Transactional", "mcc": 234,
			"providerResponse": "Message has been accepted by phone carrier", "dwellTimeMs": 599,
		},
		"status": status,
	})
	return string(b)
}

// metricSum adds up the samples of the series name (any labels) in the instance's /metrics.
func (p *caddyProc) metricSum(t testing.TB, name string) float64 {
	t.Helper()
	return p.metricWith(t, name)
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// TestReportsEUMThroughSQS: a send through End User Messaging carries every field to AWS; a
// DELIVERED event with a price put on the queue shows in sms-log within seconds, with the
// budget moved by billed − estimate, once, however often the event comes; a right code
// tells AWS the message arrived; a FAILED event marks its entry failed.
func TestReportsEUMThroughSQS(t *testing.T) {
	rs := redistest.Start(t)
	eum, queue := eumdouble.New(t), sqsdouble.New(t)
	queue.SetVisibilityTimeout(time.Second)
	port := testnet.FreePort(t)
	sender := fmt.Sprintf("sender eum {\n\t\t\tregion eu-west-2\n\t\t\tendpoint %s\n\t\t\tconfiguration_set otp\n\t\t\tfeedback\n\t\t}", eum.URL())
	reports := fmt.Sprintf("reports sqs %s {\n\t\t\tregion eu-west-2\n\t\t\tendpoint %s\n\t\t\twait 1s\n\t\t}", queue.QueueURL(), queue.URL())
	p := startCaddy(t, reportsCaddyfile(port, rs.Addr(), sender, reports))
	base := testnet.Site(port)

	id := sendFor(t, base, gateMobile)
	msgs, err := eum.WaitFor(1, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	m := msgs[0]
	if m.MessageID != id || m.DestinationPhoneNumber != gateMobile || m.MessageType != "TRANSACTIONAL" ||
		m.OriginationIdentity != "+447400100200" || m.MaxPrice != "0.10" || m.TimeToLive != 300 ||
		m.ConfigurationSetName != "otp" || !m.MessageFeedbackEnabled || m.Context["template"] != "login" {
		b, _ := json.Marshal(m)
		t.Fatalf("expected SendTextMessage with every field the template sets, got %s", b)
	}
	if got := spentToday(t, rs.Client()); got != smsPriceMicro {
		t.Fatalf("expected the estimate %d reserved, got %d", smsPriceMicro, got)
	}

	body := sqsdouble.SNSBody(eumEvent(id, "DELIVERED", 0.04, 0.0023))
	queue.Put(body)
	e := waitEntry(t, base, id, "delivered", 5*time.Second)
	if e.BilledUSD == nil || !near(*e.BilledUSD, 0.0423) || e.Carrier != "Vodafone UK" || e.ReportedAt == "" ||
		e.Provider != "eum" || e.PriceUSD != smsPrice {
		t.Errorf("expected billed 0.0423 by Vodafone UK, reported, provider eum, estimate kept; got %+v", e)
	}
	if got := waitSpent(t, rs.Client(), 42_300); got != 42_300 {
		t.Errorf("expected the day's spend moved from the estimate to the billed 42300, got %d", got)
	}

	// SQS delivers at least once: the same event again, raw this time, changes nothing
	queue.Put(sqsdouble.RawBody(eumEvent(id, "DELIVERED", 0.04, 0.0023)))
	if err := queue.WaitEmpty(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if got := spentToday(t, rs.Client()); got != 42_300 {
		t.Errorf("expected no second correction, got %d", got)
	}
	if got := p.metricSum(t, "caddy_otp_sms_reports_total"); got != 1 {
		t.Errorf("expected one report counted, got %v", got)
	}
	if got := p.metricSum(t, "caddy_otp_billed_usd_total"); !near(got, 0.0423) {
		t.Errorf("expected 0.0423 USD billed counted, got %v", got)
	}

	// the right code: AWS hears that message id arrived, in the background
	code := smsCode.FindStringSubmatch(m.MessageBody)
	if code == nil {
		t.Fatalf("expected a code in %q", m.MessageBody)
	}
	expect(t, "verify-otp", verifyOTP(t, base, gateMobile, code[1]), http.StatusOK, `"status":"verified"`)
	deadline := time.Now().Add(5 * time.Second)
	for len(eum.Feedback()) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if fb := eum.Feedback(); len(fb) != 1 || fb[0].MessageID != id || fb[0].Status != "RECEIVED" {
		t.Errorf("expected PutMessageFeedback RECEIVED for %s, got %+v", id, fb)
	}

	// a failed SMS, billed nothing: its estimate leaves the budget
	id2 := sendFor(t, base, "+12025550123")
	queue.Put(sqsdouble.EventBridgeBody(eumEvent(id2, "FAILED", 0, 0)))
	e = waitEntry(t, base, id2, "failed", 5*time.Second)
	if e.BilledUSD == nil || *e.BilledUSD != 0 {
		t.Errorf("expected the failed entry billed 0, got %+v", e)
	}
	if got := waitSpent(t, rs.Client(), 42_300); got != 42_300 {
		t.Errorf("expected the failed SMS's estimate given back (42300 left), got %d", got)
	}

	// sms-stats counts what the ledger shows
	a := request(t, "GET", base+"/otp/sms-stats?days=2", nil, nil, "", apiKey)
	var st struct {
		Template string `json:"template"`
		Days     []struct {
			Date                              string
			Sent, Verified, Delivered, Failed int
			EstimatedUSD                      float64 `json:"estimated_usd"`
			BilledUSD                         float64 `json:"billed_usd"`
		} `json:"days"`
		Countries []struct {
			Country        string
			Sent, Verified int
			Conversion     float64
			Blocked        bool
		} `json:"countries"`
		Budget struct {
			DailyUSD      float64 `json:"daily_usd"`
			DailySpentUSD float64 `json:"daily_spent_usd"`
		} `json:"budget"`
	}
	if err := json.Unmarshal([]byte(a.body), &st); err != nil || a.status != http.StatusOK {
		t.Fatalf("expected sms-stats, got %d %s (%v)", a.status, a.body, err)
	}
	if len(st.Days) != 2 || st.Template != "login" {
		t.Fatalf("expected two days of login, got %s", a.body)
	}
	d := st.Days[1]
	if d.Date != time.Now().UTC().Format("2006-01-02") || d.Sent != 2 || d.Verified != 1 || d.Delivered != 1 || d.Failed != 1 ||
		!near(d.EstimatedUSD, 0.10) || !near(d.BilledUSD, 0.0423) {
		t.Errorf("expected today: 2 sent, 1 verified, 1 delivered, 1 failed, 0.10 estimated, 0.0423 billed; got %s", a.body)
	}
	if len(st.Countries) != 2 || st.Countries[0].Country != "GB" || st.Countries[0].Conversion != 1 ||
		st.Countries[1].Country != "US" || st.Countries[1].Verified != 0 {
		t.Errorf("expected GB converted 1 and US 0, got %s", a.body)
	}
	if st.Budget.DailyUSD != dailyBudget || !near(st.Budget.DailySpentUSD, 0.0423) {
		t.Errorf("expected the budget %d with 0.0423 spent, got %s", dailyBudget, a.body)
	}
}

// TestReportsSNSThroughLogs: a send through SNS and its delivery-status log event give the
// ledger entry its outcome, billed price and carrier, success and failure alike.
func TestReportsSNSThroughLogs(t *testing.T) {
	rs := redistest.Start(t)
	sns, logs := snsdouble.New(t), logsdouble.New(t)
	logs.CreateGroup(reportsLogGroup)
	logs.CreateGroup(reportsLogGroup + "/Failure")
	port := testnet.FreePort(t)
	sender := fmt.Sprintf("sender sns {\n\t\t\tregion eu-west-2\n\t\t\tendpoint %s\n\t\t}", sns.URL())
	reports := fmt.Sprintf("reports cloudwatch_logs %s {\n\t\t\tregion eu-west-2\n\t\t\tendpoint %s\n\t\t\tinterval 10s\n\t\t}", reportsLogGroup, logs.URL())
	startCaddy(t, reportsCaddyfile(port, rs.Addr(), sender, reports))
	base := testnet.Site(port)

	ok, failed := sendFor(t, base, gateMobile), sendFor(t, base, "+12025550123")
	logs.Put(reportsLogGroup, time.Now(), snsLogEvent(ok, "SUCCESS", 0.0398))
	logs.Put(reportsLogGroup+"/Failure", time.Now(), snsLogEvent(failed, "FAILURE", 0.0398))

	// the reader reads at start and then every 10s
	e := waitEntry(t, base, ok, "delivered", 15*time.Second)
	if e.BilledUSD == nil || !near(*e.BilledUSD, 0.0398) || e.Carrier != "EE" || e.Provider != "sns" {
		t.Errorf("expected billed 0.0398 by EE through sns, got %+v", e)
	}
	waitEntry(t, base, failed, "failed", 5*time.Second)
	if got := waitSpent(t, rs.Client(), 2*39_800); got != 2*39_800 {
		t.Errorf("expected the day's spend to be the two billed prices, %d, got %d", 2*39_800, got)
	}
}

// TestReportsTwoInstances: two instances on one Redis read one queue and one log group; with
// duplicates, out-of-order events and an instance stopped in the middle, every report is
// applied exactly once: the ledger, the budget and the two instances' metrics together agree.
func TestReportsTwoInstances(t *testing.T) {
	rs := redistest.Start(t)
	eum, queue, logs := eumdouble.New(t), sqsdouble.New(t), logsdouble.New(t)
	queue.SetVisibilityTimeout(time.Second)
	logs.CreateGroup(reportsLogGroup)
	sender := fmt.Sprintf("sender eum {\n\t\t\tregion eu-west-2\n\t\t\tendpoint %s\n\t\t}", eum.URL())
	reports := fmt.Sprintf("reports sqs %s {\n\t\t\tregion eu-west-2\n\t\t\tendpoint %s\n\t\t\twait 1s\n\t\t}\n"+
		"\t\treports cloudwatch_logs %s {\n\t\t\tregion eu-west-2\n\t\t\tendpoint %s\n\t\t\tinterval 10s\n\t\t}",
		queue.QueueURL(), queue.URL(), reportsLogGroup, logs.URL())
	var procs []*caddyProc
	var bases []string
	for range 2 {
		port := testnet.FreePort(t)
		procs = append(procs, startCaddy(t, reportsCaddyfile(port, rs.Addr(), sender, reports)))
		bases = append(bases, testnet.Site(port))
	}

	const n = 12
	ids := make([]string, n)
	for i := range ids {
		ids[i] = sendFor(t, bases[i%2], fmt.Sprintf("+4474001234%02d", i+10))
	}
	// each report twice, newest first; the odd ones also as a log event (the same message
	// reported by both paths counts once)
	for i := n - 1; i >= 0; i-- {
		queue.Put(sqsdouble.SNSBody(eumEvent(ids[i], "DELIVERED", 0.04, 0)))
	}
	for i := range ids {
		queue.Put(sqsdouble.RawBody(eumEvent(ids[i], "DELIVERED", 0.04, 0)))
		if i%2 == 1 {
			logs.Put(reportsLogGroup, time.Now(), snsLogEvent(ids[i], "SUCCESS", 0.04))
		}
	}
	// one instance stops in the middle
	waitEntry(t, bases[0], ids[0], "delivered", 10*time.Second)
	procs[1].stop()

	for _, id := range ids {
		waitEntry(t, bases[0], id, "delivered", 10*time.Second)
	}
	if err := queue.WaitEmpty(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	// every log event read too (the lease passes on, or the first instance held it)
	time.Sleep(11 * time.Second)
	applied := 0
	for _, p := range procs {
		applied += strings.Count(p.output(), `"msg":"sms report applied"`)
	}
	if applied != n {
		t.Errorf("expected %d reports applied across the instances, got %v", n, applied)
	}
	if got, want := waitSpent(t, rs.Client(), n*40_000), int64(n*40_000); got != want {
		t.Errorf("expected the spend to be %d billed prices (%d micro-USD), got %d", n, want, got)
	}
}

// BenchmarkReportsApplied measures reports applied per second by one instance: b.N codes
// are sent through End User Messaging (outside the timer), then b.N DELIVERED events are put
// on the SQS double at once, and the clock runs until the reader has applied and deleted
// them all. Run it with a fixed count: go test -run '^$' -bench ReportsApplied -benchtime 2000x ./integration/
func BenchmarkReportsApplied(b *testing.B) {
	rs := redistest.Start(b)
	eum, queue := eumdouble.New(b), sqsdouble.New(b)
	queue.SetVisibilityTimeout(2 * time.Second) // a batch whose answer was lost comes back soon
	port := testnet.FreePort(b)
	sender := fmt.Sprintf("sender eum {\n\t\t\tregion eu-west-2\n\t\t\tendpoint %s\n\t\t}", eum.URL())
	reports := fmt.Sprintf("reports sqs %s {\n\t\t\tregion eu-west-2\n\t\t\tendpoint %s\n\t\t\twait 1s\n\t\t}", queue.QueueURL(), queue.URL())
	cf := strings.Replace(reportsCaddyfile(port, rs.Addr(), sender, reports), "\t\tbudget {\n\t\t\tdaily 25\n\t\t}\n", "", 1)
	cf = strings.Replace(cf, "limit ip 0 1h", "limit ip 0 1h\n\t\t\tlimit mobile 0 1h\n\t\t\tlimit prefix 0 1h\n\t\t\tlimit template 0 1h", 1)
	p := startCaddy(b, cf)
	base := testnet.Site(port)
	ids := make([]string, b.N)
	for i := range ids {
		ids[i] = sendFor(b, base, fmt.Sprintf("+447400%06d", 100000+i))
	}
	bodies := make([]string, b.N)
	for i, id := range ids {
		bodies[i] = sqsdouble.SNSBody(eumEvent(id, "DELIVERED", 0.04, 0))
	}
	b.ResetTimer()
	start := time.Now()
	for _, body := range bodies {
		queue.Put(body)
	}
	if err := queue.WaitEmpty(time.Duration(b.N)*10*time.Millisecond + 10*time.Second); err != nil {
		var warnings []string
		for _, line := range strings.Split(p.output(), "\n") {
			if strings.Contains(line, `"level":"warn"`) || strings.Contains(line, `"level":"error"`) {
				warnings = append(warnings, line)
			}
		}
		b.Fatalf("%v; caddy's warnings:\n%s", err, strings.Join(warnings, "\n"))
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "reports/s")
	// an empty queue means every report was applied (an unknown one would be back in it)
	waitEntry(b, base, ids[b.N-1], "delivered", 5*time.Second)
}
