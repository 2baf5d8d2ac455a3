package logsreports

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/internal/awsdouble"
	"github.com/caddyotp/caddyotp/internal/logsdouble"
)

const (
	group        = "sns/eu-west-2/123456789012/DirectPublishToPhoneNumber"
	failureGroup = group + "/Failure"
	testInterval = 20 * time.Millisecond
)

// fakeSink is a ReportSink in memory: leases that last until lapse (a renewal of 1ms or
// less, a release, ends one at once), cursors, and reports
// applied once each by message id, with failures on demand.
type fakeSink struct {
	mu         sync.Mutex
	holders    map[string]string // lease name → holder
	leaseTTLs  map[string]time.Duration
	cursors    map[string]string
	reports    map[string]caddyotp.Report // the applied reports, by message id
	applied    map[string]int             // how often each id was applied (never above 1)
	duplicates int
	unknown    map[string]bool // message ids that no ledger entry has
	failApply  int             // the next failApply ApplyReport calls fail
	failID     string          // the next ApplyReport of this message id fails
	failLease  int             // the next failLease TakeLease calls fail
}

func newFakeSink() *fakeSink {
	return &fakeSink{holders: map[string]string{}, leaseTTLs: map[string]time.Duration{}, cursors: map[string]string{},
		reports: map[string]caddyotp.Report{}, applied: map[string]int{}, unknown: map[string]bool{}}
}

var errStoreDown = errors.New("store down")

func (s *fakeSink) ApplyReport(_ context.Context, r caddyotp.Report) (caddyotp.ReportOutcome, error) {
	if err := caddyotp.CheckReport(r); err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.failApply > 0:
		s.failApply--
		return "", errStoreDown
	case s.failID == r.MessageID:
		s.failID = ""
		return "", errStoreDown
	case s.unknown[r.MessageID]:
		return caddyotp.ReportUnknown, nil
	case s.applied[r.MessageID] > 0:
		s.duplicates++
		return caddyotp.ReportDuplicate, nil
	}
	s.applied[r.MessageID]++
	s.reports[r.MessageID] = r
	return caddyotp.ReportApplied, nil
}

func (s *fakeSink) TakeLease(_ context.Context, name, holder string, ttl time.Duration) (bool, error) {
	if err := caddyotp.CheckLease(name, holder, ttl); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failLease > 0 {
		s.failLease--
		return false, errStoreDown
	}
	if h := s.holders[name]; h != "" && h != holder {
		return false, nil
	}
	if ttl <= time.Millisecond { // a release
		delete(s.holders, name)
		return true, nil
	}
	s.holders[name] = holder
	s.leaseTTLs[name] = ttl
	return true, nil
}

func (s *fakeSink) Cursor(_ context.Context, name string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cursors[name], nil
}

func (s *fakeSink) SetCursor(_ context.Context, name, value string) error {
	if err := caddyotp.CheckCursorName(name); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cursors[name] = value
	return nil
}

// lapse ends every lease, as their ttl passing would.
func (s *fakeSink) lapse() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.holders)
}

// count is how many distinct reports were applied.
func (s *fakeSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.reports)
}

// report is the report applied for id.
func (s *fakeSink) report(id string) (caddyotp.Report, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.reports[id]
	return r, ok
}

// cursorTS is the position saved for group, 0 when there is none.
func (s *fakeSink) cursorTS(t *testing.T, group string) int64 {
	t.Helper()
	s.mu.Lock()
	raw := s.cursors[cursorPrefix+group]
	s.mu.Unlock()
	if raw == "" {
		return 0
	}
	var c cursor
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		t.Fatalf("expected a JSON cursor, got %q: %v", raw, err)
	}
	return c.TS
}

// checkAppliedOnce fails t unless exactly ids were applied, each once.
func (s *fakeSink) checkAppliedOnce(t *testing.T, ids ...string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.applied) != len(ids) {
		t.Errorf("expected %d reports applied, got %d", len(ids), len(s.applied))
	}
	for _, id := range ids {
		if n := s.applied[id]; n != 1 {
			t.Errorf("expected report %s applied once, got %d", id, n)
		}
	}
}

// logMessage is an SNS delivery-status log message, shaped as the documentation's samples.
func logMessage(id, status string, price float64) string {
	b, _ := json.Marshal(map[string]any{
		"notification": map[string]any{"messageId": id, "timestamp": "2026-01-02 03:04:05.678"},
		"delivery": map[string]any{
			"phoneCarrier": "EE", "mnc": 30, "numberOfMessageParts": 1, "destination": "+447400123456",
			"priceInUSD": price, "smsType": "Transactional", "mcc": 234,
			"providerResponse": "Message has been accepted by phone carrier", "dwellTimeMs": 599,
		},
		"status": status,
	})
	return string(b)
}

// observed is a logger that keeps every entry, down to debug.
func observed() (*zap.Logger, *observer.ObservedLogs) {
	core, logs := observer.New(zapcore.DebugLevel)
	return zap.New(core), logs
}

// testReader is a reader of group at endpoint, with a short interval that Validate would
// refuse, in the offline AWS environment.
func testReader(t testing.TB, endpoint string, logger *zap.Logger) *Reader {
	t.Helper()
	awsdouble.OfflineAWS(t)
	return &Reader{LogGroup: group, Connection: conn("eu-west-2", endpoint, ""), Interval: caddy.Duration(testInterval), logger: logger}
}

// startRun runs r into sink until the returned stop is called (or the test ends); stop
// fails the test unless Run returns within a second.
func startRun(t *testing.T, r *Reader, sink caddyotp.ReportSink) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Run(ctx, sink)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(time.Second):
				t.Errorf("expected Run to return within 1s of its context ending, it did not")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// waitFor polls cond until it holds, failing t after 5s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("expected %s within 5s, it did not happen", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRunAppliesReports(t *testing.T) {
	d := logsdouble.New(t)
	sink := newFakeSink()
	at := time.Now().Add(-10 * time.Minute).Truncate(time.Millisecond)
	d.Put(group, at, logMessage("msg-ok", "SUCCESS", 0.0371))
	d.Put(failureGroup, at.Add(time.Second), logMessage("msg-failed", "FAILURE", 0.0186))
	d.Put(group, at.Add(2*time.Second), logMessage("msg-not-ours", "SUCCESS", 0.0371))
	sink.unknown["msg-not-ours"] = true

	stop := startRun(t, testReader(t, d.URL(), zap.NewNop()), sink)
	waitFor(t, "both reports applied", func() bool { return sink.count() == 2 })
	stop()

	tests := []struct {
		id     string
		status string
		billed float64
		at     time.Time
	}{
		{"msg-ok", caddyotp.ReportDelivered, 0.0371, at},
		{"msg-failed", caddyotp.ReportFailed, 0.0186, at.Add(time.Second)},
	}
	for _, tt := range tests {
		r, _ := sink.report(tt.id)
		want := caddyotp.Report{MessageID: tt.id, Provider: "sns", Status: tt.status, BilledUSD: tt.billed, HasPrice: true,
			Carrier: "EE", Country: "GB", Parts: 1, Description: "Message has been accepted by phone carrier", At: tt.at.UTC()}
		if r != want {
			t.Errorf("expected report %+v, got %+v", want, r)
		}
	}
	sink.checkAppliedOnce(t, "msg-ok", "msg-failed")

	name := leasePrefix + group
	if ttl := sink.leaseTTLs[name]; ttl != 2*testInterval+30*time.Second {
		t.Errorf("expected lease %s for 2 intervals and 30s, got %v (leases %v)", name, ttl, sink.leaseTTLs)
	}
	read := map[string]bool{}
	for _, req := range d.Requests() {
		read[req.LogGroup] = true
	}
	if !read[group] || !read[failureGroup] || len(read) != 2 {
		t.Errorf("expected both log groups read, got %v", read)
	}
}

// TestRunContinuesFromCursor: a second run (a restart, after the first run's lease
// lapsed) starts from the cursor less the overlap, so it finds an event ingested late with
// a timestamp before the cursor, and applies nothing twice.
func TestRunContinuesFromCursor(t *testing.T) {
	d := logsdouble.New(t)
	sink := newFakeSink()
	now := time.Now()
	for i, id := range []string{"m1", "m2", "m3"} {
		d.Put(group, now.Add(-time.Duration(30-i)*time.Minute), logMessage(id, "SUCCESS", 0.04))
	}
	d.Put(failureGroup, now.Add(-2*time.Minute), logMessage("m4", "FAILURE", 0.04))

	stop := startRun(t, testReader(t, d.URL(), zap.NewNop()), sink)
	waitFor(t, "4 reports and both cursors", func() bool {
		return sink.count() == 4 && sink.cursorTS(t, group) > 0 && sink.cursorTS(t, failureGroup) > 0
	})
	stop()
	saved := sink.cursorTS(t, group)
	if saved < now.UnixMilli() || saved > time.Now().UnixMilli() {
		t.Fatalf("expected the cursor at the end of the last read, from %d to now, got %d", now.UnixMilli(), saved)
	}

	d.Put(group, time.UnixMilli(saved).Add(-time.Minute), logMessage("late", "SUCCESS", 0.04))
	d.Put(group, time.Now(), logMessage("new", "SUCCESS", 0.04))
	sink.lapse()
	callsBefore := d.Calls()
	startRun(t, testReader(t, d.URL(), zap.NewNop()), sink)
	waitFor(t, "6 reports", func() bool { return sink.count() == 6 })

	sink.checkAppliedOnce(t, "m1", "m2", "m3", "m4", "late", "new")
	first := d.Requests()[callsBefore]
	if first.LogGroup != group || first.StartTime == nil || *first.StartTime != saved-overlap.Milliseconds() {
		t.Errorf("expected the second run to start at the cursor less %s (%d), got %+v", overlap, saved-overlap.Milliseconds(), first)
	}
}

// TestRunLease: of two readers on one store, only the holder of the lease reads; the other
// takes over once the lease lapses, from the first one's cursor.
func TestRunLease(t *testing.T) {
	// two doubles with the same log, so that each reader's calls can be counted
	dA, dB := logsdouble.New(t), logsdouble.New(t)
	put := func(id string, ts time.Time) {
		dA.Put(group, ts, logMessage(id, "SUCCESS", 0.04))
		dB.Put(group, ts, logMessage(id, "SUCCESS", 0.04))
	}
	sink := newFakeSink()
	put("a1", time.Now().Add(-time.Minute))

	stopA := startRun(t, testReader(t, dA.URL(), zap.NewNop()), sink)
	waitFor(t, "reader A applying a1", func() bool { return sink.count() == 1 })
	startRun(t, testReader(t, dB.URL(), zap.NewNop()), sink)

	callsA := dA.Calls()
	time.Sleep(10 * testInterval)
	if dB.Calls() != 0 {
		t.Errorf("expected reader B not to read while A holds the lease, got %d calls", dB.Calls())
	}
	if dA.Calls() <= callsA {
		t.Errorf("expected reader A to go on reading, got %d calls then %d", callsA, dA.Calls())
	}

	// A stopping lets its lease go: B takes over at its next round, not a lease's length later
	stopA()
	put("b1", time.Now())
	waitFor(t, "reader B applying b1", func() bool { return sink.count() == 2 })
	sink.checkAppliedOnce(t, "a1", "b1")
	// B began where A stopped: at A's cursor less the overlap, not an hour back
	if req := dB.Requests()[0]; *req.StartTime < time.Now().Add(-overlap-time.Minute).UnixMilli() {
		t.Errorf("expected reader B to start from A's cursor, got a start %v ago", time.Since(time.UnixMilli(*req.StartTime)))
	}
}

// TestRunBacksOffAndRecovers: AWS faults and a store that does not answer make rounds fail,
// each logged with a longer wait; the reader goes on and applies the reports in the end.
func TestRunBacksOffAndRecovers(t *testing.T) {
	d := logsdouble.New(t)
	sink := newFakeSink()
	d.Put(group, time.Now().Add(-time.Minute), logMessage("m1", "SUCCESS", 0.04))
	d.Put(failureGroup, time.Now().Add(-time.Minute), logMessage("m2", "FAILURE", 0.04))
	d.FailNext(2, logsdouble.Throttling)
	d.FailNext(1, logsdouble.ServiceUnavailable)
	sink.failLease = 1
	sink.failApply = 1

	logger, logs := observed()
	startRun(t, testReader(t, d.URL(), logger), sink)
	waitFor(t, "both reports applied", func() bool { return sink.count() == 2 })
	sink.checkAppliedOnce(t, "m1", "m2")

	failed := logs.FilterMessage("reading sms delivery logs failed").All()
	if len(failed) != 5 {
		t.Fatalf("expected 5 failed rounds logged, got %d", len(failed))
	}
	wantErrs := []string{"taking the lease", "ThrottlingException", "ThrottlingException", "ServiceUnavailableException", "store down"}
	for i, e := range failed {
		fields := e.ContextMap()
		if fields["failures_in_a_row"] != int64(i+1) {
			t.Errorf("expected failure %d in a row, got %v", i+1, fields["failures_in_a_row"])
		}
		if want := retryWait(testInterval, i+1); fields["retry_in"] != want {
			t.Errorf("expected a retry in %v after failure %d, got %v", want, i+1, fields["retry_in"])
		}
		if !strings.Contains(fmt.Sprint(fields["error"]), wantErrs[i]) {
			t.Errorf("expected failure %d to say %q, got %v", i+1, wantErrs[i], fields["error"])
		}
	}
}

// TestRunStopsPromptly: Run returns within a second of its context ending, whatever it is
// doing: waiting out a long interval, waiting for an answer that never comes, backing off
// from an endpoint that refuses connections, or from a configuration that cannot load.
func TestRunStopsPromptly(t *testing.T) {
	silent, err := awsdouble.Listen("127.0.0.1:0") // never answers, until the client gives up
	if err != nil {
		t.Fatal(err)
	}
	silent.Serve(http.HandlerFunc(silent.Hang))
	t.Cleanup(silent.Close)

	d := logsdouble.New(t)
	tests := []struct {
		name     string
		endpoint string
		region   string
		interval time.Duration
		logged   string
	}{
		{"between rounds", d.URL(), "eu-west-2", time.Hour, ""},
		{"waiting for an answer", silent.URL(), "eu-west-2", time.Hour, ""},
		{"connection refused", awsdouble.RefusedURL(t), "eu-west-2", testInterval, "reading sms delivery logs failed"},
		{"no region", d.URL(), "", testInterval, "cannot read sms delivery logs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logger, logs := observed()
			r := testReader(t, tt.endpoint, logger)
			r.Region, r.Interval = tt.region, caddy.Duration(tt.interval)
			stop := startRun(t, r, newFakeSink())
			if tt.logged != "" {
				waitFor(t, "a second "+tt.logged, func() bool { return logs.FilterMessage(tt.logged).Len() >= 2 })
			} else {
				time.Sleep(50 * time.Millisecond)
			}
			start := time.Now()
			stop()
			if took := time.Since(start); took > time.Second {
				t.Errorf("expected Run to return within 1s, took %v", took)
			}
		})
	}
}

func TestRetryWait(t *testing.T) {
	tests := []struct {
		every    time.Duration
		failures int
		want     time.Duration
	}{
		{time.Minute, 0, time.Minute},
		{time.Minute, 1, time.Minute},
		{time.Minute, 2, 2 * time.Minute},
		{time.Minute, 3, 4 * time.Minute},
		{time.Minute, 4, 8 * time.Minute},
		{time.Minute, 5, 15 * time.Minute},
		{time.Minute, 1000, 15 * time.Minute},
		{10 * time.Second, 7, 640 * time.Second},
		{10 * time.Second, 8, 15 * time.Minute},
		{time.Hour, 1, time.Hour},
		{time.Hour, 9, time.Hour},
	}
	for _, tt := range tests {
		if got := retryWait(tt.every, tt.failures); got != tt.want {
			t.Errorf("retryWait(%v, %d): expected %v, got %v", tt.every, tt.failures, tt.want, got)
		}
	}
}

func TestNewHolder(t *testing.T) {
	a, b := newHolder(), newHolder()
	if len(a) != 24 || a == b {
		t.Errorf("expected two different 24-digit holders, got %q and %q", a, b)
	}
}

// BenchmarkReportsApplied reads b.N delivery logs through the double (pages of 1,000) into
// the fake sink, and reports the events read and applied per second.
func BenchmarkReportsApplied(b *testing.B) {
	d := logsdouble.New(b)
	d.SetPageSize(1000)
	at := time.Now().Add(-30 * time.Minute)
	for i := range b.N {
		d.Put(group, at.Add(time.Duration(i)*time.Microsecond), logMessage(fmt.Sprintf("msg-%d", i), "SUCCESS", 0.04))
	}
	r := testReader(b, d.URL(), zap.NewNop())
	sink := newFakeSink()
	rd := testReading(b, r, sink)

	b.ResetTimer()
	if err := rd.readGroup(context.Background(), group); err != nil {
		b.Fatalf("expected a read, got %v", err)
	}
	b.StopTimer()
	if sink.count() != b.N {
		b.Fatalf("expected %d reports applied, got %d", b.N, sink.count())
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
