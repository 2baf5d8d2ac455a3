package logsreports

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/internal/awsx"
	"github.com/caddyotp/caddyotp/internal/logsdouble"
)

// testReading is r's reading into sink as Run makes it, with the real SDK client.
func testReading(t testing.TB, r *Reader, sink caddyotp.ReportSink) *reading {
	t.Helper()
	cfg, err := r.Connection.LoadConfig(context.Background())
	if err != nil {
		t.Fatalf("loading the aws config: %v", err)
	}
	t.Cleanup(func() { awsx.CloseIdle(cfg) })
	return &reading{client: r.newClient(cfg), sink: sink, logger: r.logger, group: r.LogGroup, holder: "test", leaseTTL: time.Minute}
}

// TestReadGroupPages reads ten events in pages of four, and saves the end of the read.
func TestReadGroupPages(t *testing.T) {
	d := logsdouble.New(t)
	sink := newFakeSink()
	var ids []string
	for i := range 10 {
		id := fmt.Sprintf("m%d", i)
		ids = append(ids, id)
		d.Put(group, time.Now().Add(-time.Duration(20-i)*time.Minute), logMessage(id, "SUCCESS", 0.04))
	}
	rd := testReading(t, testReader(t, d.URL(), zap.NewNop()), sink)

	before := time.Now().UnixMilli()
	if err := rd.readGroup(context.Background(), group); err != nil {
		t.Fatalf("expected a read, got %v", err)
	}
	sink.checkAppliedOnce(t, ids...)
	reqs := d.Requests()
	if len(reqs) != 3 {
		t.Fatalf("expected 3 pages of at most %d, got %d requests", logsdouble.DefaultPageSize, len(reqs))
	}
	for i, req := range reqs {
		if *req.StartTime != *reqs[0].StartTime || *req.EndTime != *reqs[0].EndTime || (i > 0) != (req.NextToken != "") {
			t.Errorf("expected page %d to ask for the same window with a token after the first, got %+v", i, req)
		}
	}
	end := *reqs[0].EndTime
	if end < before || end > time.Now().UnixMilli() {
		t.Errorf("expected the read to end at the time it began (%d), got %d", before, end)
	}
	if start := *reqs[0].StartTime; start != end-firstLookback.Milliseconds() {
		t.Errorf("expected a first read to start %v back (%d), got %d", firstLookback, end-firstLookback.Milliseconds(), start)
	}
	if got := sink.cursorTS(t, group); got != end {
		t.Errorf("expected the cursor saved at %d, got %d", end, got)
	}
}

// TestReadGroupSkips: log events that are no delivery report are logged and skipped, and
// the read goes on to the next one.
func TestReadGroupSkips(t *testing.T) {
	d := logsdouble.New(t)
	sink := newFakeSink()
	at := time.Now().Add(-time.Minute)
	bad := []struct {
		message string
		log     string
	}{
		{"not json at all", "skipping a log event that is no sms delivery log"},
		{`{"notification":{"timestamp":"2026-01-02 03:04:05.678"},"status":"SUCCESS"}`, "skipping a log event that is no sms delivery log"},
		{`{"notification":{"messageId":"m-price"},"delivery":{"priceInUSD":"0.04"},"status":"SUCCESS"}`, "skipping a log event that is no sms delivery log"},
		{logMessage("m-pending", "PENDING", 0.04), "skipping a delivery log without a final status"},
		{logMessage("m-dear", "SUCCESS", 500), "skipping a delivery report that makes no sense"},
	}
	for i, b := range bad {
		d.Put(group, at.Add(time.Duration(i)*time.Millisecond), b.message)
	}
	d.Put(group, at.Add(time.Second), logMessage("m-good", "SUCCESS", 0.04))
	logger, logs := observed()
	rd := testReading(t, testReader(t, d.URL(), logger), sink)

	if err := rd.readGroup(context.Background(), group); err != nil {
		t.Fatalf("expected a read, got %v", err)
	}
	sink.checkAppliedOnce(t, "m-good")
	for _, b := range bad {
		if logs.FilterMessage(b.log).Len() == 0 {
			t.Errorf("expected %q logged for %.40s", b.log, b.message)
		}
	}
	skipped := logs.FilterMessage("skipping a log event that is no sms delivery log").All()
	if len(skipped) != 3 {
		t.Errorf("expected 3 events skipped as no delivery log, got %d", len(skipped))
	}
	for _, e := range skipped {
		if e.Level != zap.WarnLevel || e.ContextMap()["event_id"] == "" {
			t.Errorf("expected a warning naming the event, got %v %v", e.Level, e.ContextMap())
		}
	}
	if got := logs.FilterMessage("read sms delivery logs").All(); len(got) != 1 || got[0].ContextMap()["skipped"] != int64(5) {
		t.Errorf("expected the read logged with 5 skipped, got %v", got)
	}
	if sink.cursorTS(t, group) == 0 {
		t.Errorf("expected the cursor saved after skipping, got none")
	}
}

// TestReadGroupMissing: a log group that does not exist (SNS has logged nothing there yet)
// is an empty read, logged at debug, and its cursor is saved.
func TestReadGroupMissing(t *testing.T) {
	d := logsdouble.New(t)
	sink := newFakeSink()
	d.Put(group, time.Now(), logMessage("m1", "SUCCESS", 0.04))
	logger, logs := observed()
	rd := testReading(t, testReader(t, d.URL(), logger), sink)

	if err := rd.round(context.Background()); err != nil {
		t.Fatalf("expected a round without the /Failure group, got %v", err)
	}
	sink.checkAppliedOnce(t, "m1")
	missing := logs.FilterMessage("no such log group yet").All()
	if len(missing) != 1 || missing[0].Level != zap.DebugLevel || missing[0].ContextMap()["group"] != failureGroup {
		t.Errorf("expected one debug entry for %s, got %v", failureGroup, missing)
	}
	if sink.cursorTS(t, failureGroup) == 0 {
		t.Errorf("expected the missing group's cursor saved, got none")
	}
}

// TestReadGroupErrors: an AWS or store error ends the read without saving the cursor, and
// the next read gets every report.
func TestReadGroupErrors(t *testing.T) {
	tests := []struct {
		name  string
		fail  func(d *logsdouble.Double, s *fakeSink)
		error string
	}{
		{"store", func(_ *logsdouble.Double, s *fakeSink) { s.failApply = 1 }, "applying the report of message m0: store down"},
		{"store on the second page", func(_ *logsdouble.Double, s *fakeSink) { s.failID = "m4" }, "applying the report of message m4: store down"},
		{"throttled", func(d *logsdouble.Double, _ *fakeSink) { d.FailNext(1, logsdouble.Throttling) }, "ThrottlingException"},
		{"throttled on the second page", func(d *logsdouble.Double, _ *fakeSink) {
			d.FailNext(1, logsdouble.Fault{}) // the first page answers
			d.FailNext(1, logsdouble.Throttling)
		}, "ThrottlingException"},
		{"server error", func(d *logsdouble.Double, _ *fakeSink) { d.FailNext(1, logsdouble.ServiceUnavailable) }, "ServiceUnavailableException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := logsdouble.New(t)
			sink := newFakeSink()
			var ids []string
			for i := range 6 {
				ids = append(ids, fmt.Sprintf("m%d", i))
				d.Put(group, time.Now().Add(-time.Duration(10-i)*time.Minute), logMessage(ids[i], "SUCCESS", 0.04))
			}
			rd := testReading(t, testReader(t, d.URL(), zap.NewNop()), sink)
			tt.fail(d, sink)

			err := rd.readGroup(context.Background(), group)
			if err == nil || !strings.Contains(err.Error(), tt.error) {
				t.Fatalf("expected an error with %q, got %v", tt.error, err)
			}
			if sink.cursorTS(t, group) != 0 {
				t.Errorf("expected no cursor after a failed read, got %d", sink.cursorTS(t, group))
			}
			if err := rd.readGroup(context.Background(), group); err != nil {
				t.Fatalf("expected the next read to work, got %v", err)
			}
			sink.checkAppliedOnce(t, ids...)
		})
	}
}

// TestReadStart: where a read starts from the saved cursor.
func TestReadStart(t *testing.T) {
	const end = int64(1_750_000_000_000)
	tests := []struct {
		name   string
		cursor string
		want   int64
		warned bool
	}{
		{"no cursor", "", end - time.Hour.Milliseconds(), false},
		{"cursor", `{"ts":1749999000000}`, 1_749_999_000_000 - overlap.Milliseconds(), false},
		{"cursor ahead of the clock", `{"ts":1750000600000}`, end - overlap.Milliseconds(), false},
		{"not json", `ts=5`, end - time.Hour.Milliseconds(), true},
		{"no time", `{}`, end - time.Hour.Milliseconds(), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := newFakeSink()
			if tt.cursor != "" {
				sink.cursors["c"] = tt.cursor
			}
			logger, logs := observed()
			rd := &reading{sink: sink, logger: logger}
			got, err := rd.start(context.Background(), "c", end)
			if err != nil {
				t.Fatalf("expected a start, got %v", err)
			}
			if got != tt.want {
				t.Errorf("expected %d, got %d", tt.want, got)
			}
			if warned := logs.FilterMessage("ignoring a cursor that makes no sense").Len() > 0; warned != tt.warned {
				t.Errorf("expected a warning %v, got %v", tt.warned, warned)
			}
		})
	}
}

// failingCursors is a sink whose cursors cannot be read.
type failingCursors struct{ *fakeSink }

func (failingCursors) Cursor(context.Context, string) (string, error) { return "", errStoreDown }

func TestReadStartStoreError(t *testing.T) {
	rd := &reading{sink: failingCursors{newFakeSink()}, logger: zap.NewNop()}
	if _, err := rd.start(context.Background(), "c", 1); !errors.Is(err, errStoreDown) {
		t.Errorf("expected the store's error, got %v", err)
	}
}
