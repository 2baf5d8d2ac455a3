package caddyotp_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/internal/apptest"
	"github.com/caddyotp/caddyotp/internal/testcaddy"
)

// reportApp is a started app with the memory store, the log sender, the templates login
// and signup and a daily budget of 1 USD at 0.05 USD an SMS.
func reportApp(t *testing.T) *caddyotp.App {
	t.Helper()
	app := apptest.LogApp(map[string]*caddyotp.Template{"login": {Message: "{code}"}, "signup": {Message: "{code}"}})
	app.Budget = &caddyotp.Budget{Daily: 1}
	return apptest.Start(t, app)
}

// sendOne sends one code with tmpl and returns its message id.
func sendOne(t *testing.T, app *caddyotp.App, tmpl, mobile string) string {
	t.Helper()
	res, err := app.Send(context.Background(), caddyotp.SendRequest{Template: app.Template(tmpl), Mobile: mobile})
	if err != nil || res.MessageID == "" {
		t.Fatalf("expected a send with a message id, got %+v, %v", res, err)
	}
	return res.MessageID
}

// spentToday is today's spend in the store in micro-USD, found by asking ReserveBudget for
// nothing and for one micro-USD against caps: a spend s takes 0 under a cap of s and refuses
// 1 more. It reserves nothing.
func spentToday(t *testing.T, app *caddyotp.App) int64 {
	t.Helper()
	store, ctx, now := app.StoreForTest(), context.Background(), time.Now()
	lo, hi := int64(0), int64(10_000_000)
	for lo < hi { // the smallest cap that 0 more fits under
		mid := (lo + hi) / 2
		d, err := store.ReserveBudget(ctx, now, 0, caddyotp.BudgetCaps{DailyMicroUSD: max(mid, 1)})
		if err != nil {
			t.Fatal(err)
		}
		if d.Allowed && mid > 0 {
			hi = mid
		} else if mid == 0 {
			// a zero cap is no cap: probe 1 micro-USD against a cap of 1
			d, err := store.ReserveBudget(ctx, now, 1, caddyotp.BudgetCaps{DailyMicroUSD: 1})
			if err != nil {
				t.Fatal(err)
			}
			if d.Allowed {
				store.ReleaseBudget(ctx, now, 1)
				return 0
			}
			lo = 1
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// TestApplyReport applies reports through the app to the memory store: once each, in the
// template that has the message whatever the report names, with the budget corrected by
// billed − estimate and the metrics counted.
func TestApplyReport(t *testing.T) {
	app := reportApp(t)
	ctx := context.Background()
	id := sendOne(t, app, "login", "+447400123456")
	if got := spentToday(t, app); got != 50_000 {
		t.Fatalf("expected 50000 micro-USD spent after one send, got %d", got)
	}

	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	r := caddyotp.Report{MessageID: id, Provider: "eum", Status: caddyotp.ReportDelivered, BilledUSD: 0.0423,
		HasPrice: true, Carrier: "Vodafone", Template: "signup", At: at}
	out, err := app.ApplyReport(ctx, r)
	if err != nil || out != caddyotp.ReportApplied {
		t.Fatalf("expected the report applied, got %q, %v", out, err)
	}
	if got := spentToday(t, app); got != 42_300 {
		t.Errorf("expected the spend corrected to the billed 42300 micro-USD, got %d", got)
	}
	entries, err := app.RecentSMS(ctx, app.Template("login"), 10)
	if err != nil || len(entries) != 1 {
		t.Fatalf("expected one ledger entry, got %v, %v", entries, err)
	}
	e := entries[0]
	if e.Status != caddyotp.ReportDelivered || e.BilledUSD == nil || *e.BilledUSD != 0.0423 || e.Carrier != "Vodafone" ||
		e.ReportedAt == nil || !e.ReportedAt.Equal(at) || e.PriceUSD != 0.05 || e.Provider != "log" {
		b, _ := json.Marshal(e)
		t.Errorf("expected the entry delivered, billed 0.0423 by Vodafone at %s, estimate 0.05, provider log; got %s", at, b)
	}
	if got := testutil.ToFloat64(app.ReportsMetricForTest().WithLabelValues("login", "GB", "delivered")); got != 1 {
		t.Errorf("expected one delivered report counted for login GB, got %v", got)
	}
	if got := testutil.ToFloat64(app.BilledMetricForTest().WithLabelValues("login", "GB")); got != 0.0423 {
		t.Errorf("expected 0.0423 USD billed counted, got %v", got)
	}

	// the same report again, and a failed one for the same message: nothing changes
	for _, again := range []caddyotp.Report{r, {MessageID: id, Status: caddyotp.ReportFailed, HasPrice: true}} {
		out, err = app.ApplyReport(ctx, again)
		if err != nil || out != caddyotp.ReportDuplicate {
			t.Fatalf("expected a duplicate, got %q, %v", out, err)
		}
	}
	if got := spentToday(t, app); got != 42_300 {
		t.Errorf("expected no second correction, got %d micro-USD", got)
	}
	if got := testutil.ToFloat64(app.ReportsMetricForTest().WithLabelValues("login", "GB", "delivered")); got != 1 {
		t.Errorf("expected duplicates not counted, got %v", got)
	}

	out, err = app.ApplyReport(ctx, caddyotp.Report{MessageID: "not-ours", Status: caddyotp.ReportDelivered})
	if err != nil || out != caddyotp.ReportUnknown {
		t.Errorf("expected an unknown message id to be unknown, got %q, %v", out, err)
	}
	for _, bad := range []caddyotp.Report{
		{Status: caddyotp.ReportDelivered},
		{MessageID: id, Status: "pending"},
		{MessageID: id, Status: caddyotp.ReportDelivered, HasPrice: true, BilledUSD: -1},
	} {
		if _, err := app.ApplyReport(ctx, bad); !errors.Is(err, caddyotp.ErrInvalidArgument) {
			t.Errorf("expected %+v refused as an invalid argument, got %v", bad, err)
		}
	}
}

// TestApplyReportFailedWithoutPrice: a failed report without a price marks the entry failed
// and leaves the estimate in the budget.
func TestApplyReportFailedWithoutPrice(t *testing.T) {
	app := reportApp(t)
	id := sendOne(t, app, "signup", "+12025550123")
	out, err := app.ApplyReport(context.Background(), caddyotp.Report{MessageID: id, Status: caddyotp.ReportFailed})
	if err != nil || out != caddyotp.ReportApplied {
		t.Fatalf("expected the report applied, got %q, %v", out, err)
	}
	entries, _ := app.RecentSMS(context.Background(), app.Template("signup"), 1)
	if len(entries) != 1 || entries[0].Status != caddyotp.ReportFailed || entries[0].BilledUSD != nil {
		t.Errorf("expected the entry failed with no billed price, got %+v", entries)
	}
	if got := spentToday(t, app); got != 50_000 {
		t.Errorf("expected the estimate kept in the budget, got %d micro-USD", got)
	}
}

// fakeReporter is a reporter module for the app's tests: Run counts itself, hands its sink
// to the test and blocks until its context ends.
type fakeReporter struct {
	Name string `json:"name"`
}

var (
	fakeRuns    atomic.Int64 // Runs started
	fakeRunning atomic.Int64 // Runs not yet returned
	fakeSinks   = make(chan caddyotp.ReportSink, 10)
)

func init() {
	caddy.RegisterModule(fakeReporter{})
}

func (fakeReporter) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "otp.reports.fake", New: func() caddy.Module { return new(fakeReporter) }}
}

func (r *fakeReporter) ReporterKey() string { return r.Name }

func (r *fakeReporter) Run(ctx context.Context, sink caddyotp.ReportSink) {
	fakeRuns.Add(1)
	fakeRunning.Add(1)
	defer fakeRunning.Add(-1)
	fakeSinks <- sink
	<-ctx.Done()
}

// fakeReporterApp is a provisioned app reading the fake reporters named.
func fakeReporterApp(t *testing.T, names ...string) *caddyotp.App {
	t.Helper()
	app := apptest.LogApp(map[string]*caddyotp.Template{"login": {Message: "{code}"}})
	for _, n := range names {
		app.ReportsRaw = append(app.ReportsRaw, json.RawMessage(`{"reporter":"fake","name":"`+n+`"}`))
	}
	return apptest.Provision(t, app)
}

// TestReportRunsSurviveReload: a reader two configs share runs once, goes on through a
// reload with the new app as its sink, and stops when the last app using it stops.
func TestReportRunsSurviveReload(t *testing.T) {
	fakeRuns.Store(0)
	old := fakeReporterApp(t, "queue-1")
	if err := old.Start(); err != nil {
		t.Fatal(err)
	}
	sink := <-fakeSinks

	// a reload: the new config starts before the old one stops
	next := fakeReporterApp(t, "queue-1", "queue-2")
	if err := next.Start(); err != nil {
		t.Fatal(err)
	}
	<-fakeSinks // queue-2's run
	if err := old.Stop(); err != nil {
		t.Fatal(err)
	}
	if got := fakeRuns.Load(); got != 2 {
		t.Fatalf("expected 2 runs (queue-1 once, queue-2), got %d", got)
	}
	if got := fakeRunning.Load(); got != 2 {
		t.Fatalf("expected both runs still running after the old config stopped, got %d", got)
	}

	// queue-1's sink now writes to the new app's store
	id := sendOne(t, next, "login", "+447400123456")
	out, err := sink.ApplyReport(context.Background(), caddyotp.Report{MessageID: id, Status: caddyotp.ReportDelivered})
	if err != nil || out != caddyotp.ReportApplied {
		t.Fatalf("expected the old run's sink to apply to the new app, got %q, %v", out, err)
	}
	if ok, err := sink.TakeLease(context.Background(), "lease", "me", time.Minute); err != nil || !ok {
		t.Errorf("expected the sink to grant a free lease, got %v, %v", ok, err)
	}

	if err := next.Stop(); err != nil {
		t.Fatal(err)
	}
	if got := fakeRunning.Load(); got != 0 {
		t.Errorf("expected every run stopped with the last app, got %d running", got)
	}
}

// TestReportsGivenTwice: one source named twice in a config is refused at provision.
func TestReportsGivenTwice(t *testing.T) {
	app := apptest.LogApp(nil)
	app.ReportsRaw = []json.RawMessage{json.RawMessage(`{"reporter":"fake","name":"q"}`), json.RawMessage(`{"reporter":"fake","name":"q"}`)}
	err := app.Provision(testcaddy.Context(t))
	if err == nil || !strings.Contains(err.Error(), "reports: fake q is given more than once") {
		t.Errorf("expected a duplicate reports source refused, got %v", err)
	}
}

// feedbackSender accepts every SMS and records the feedback it is given.
type feedbackSender struct {
	wants bool
	mu    sync.Mutex
	texts []string
	given chan string
}

func (s *feedbackSender) Send(_ context.Context, msg caddyotp.SMS) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.texts = append(s.texts, msg.Text)
	return "msg-" + msg.Text, nil
}

func (s *feedbackSender) WantsFeedback() bool { return s.wants }

func (s *feedbackSender) Feedback(_ context.Context, id string) error {
	s.given <- id
	return nil
}

// TestFeedbackAfterRightCode: a sender that wants feedback hears of the message whose code
// was right, and only of it; one that does not want it hears nothing.
func TestFeedbackAfterRightCode(t *testing.T) {
	for i, wants := range []bool{true, false} {
		mobile := fmt.Sprintf("+4474001234%02d", 60+i) // the memory store outlives the app
		app := apptest.Start(t, apptest.LogApp(map[string]*caddyotp.Template{"login": {Message: "{code}"}}))
		s := &feedbackSender{wants: wants, given: make(chan string, 4)}
		app.SetSenderForTest(s)
		ctx, login := context.Background(), app.Template("login")
		if _, err := app.Send(ctx, caddyotp.SendRequest{Template: login, Mobile: mobile}); err != nil {
			t.Fatal(err)
		}
		code := s.texts[0]
		wrong := "000000"
		if code == wrong {
			wrong = "111111"
		}
		if _, err := app.Verify(ctx, caddyotp.VerifyRequest{Template: login, Mobile: mobile, Code: wrong}); err == nil {
			t.Fatal("expected a wrong code refused")
		}
		if _, err := app.Verify(ctx, caddyotp.VerifyRequest{Template: login, Mobile: mobile, Code: code}); err != nil {
			t.Fatal(err)
		}
		app.Stop() // waits for the background feedback
		close(s.given)
		var got []string
		for id := range s.given {
			got = append(got, id)
		}
		switch {
		case wants && (len(got) != 1 || got[0] != "msg-"+code):
			t.Errorf("expected feedback for msg-%s only, got %v", code, got)
		case !wants && len(got) != 0:
			t.Errorf("expected no feedback from a sender that does not want it, got %v", got)
		}
	}
}
