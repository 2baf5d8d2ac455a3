package sqsreports

import (
	"context"
	"fmt"
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
	"github.com/caddyotp/caddyotp/internal/sqsdouble"
	"github.com/caddyotp/caddyotp/internal/testcaddy"
)

// readerFor is a provisioned reader of d's queue that long-polls for 1s, backs off from
// 10ms, and logs to the observed logs it returns.
func readerFor(tb testing.TB, d *sqsdouble.Double) (*Reader, *observer.ObservedLogs) {
	tb.Helper()
	awsdouble.OfflineAWS(tb)
	r := &Reader{QueueURL: d.QueueURL(), Connection: conn("eu-west-2", d.URL(), ""), Wait: caddy.Duration(time.Second)}
	if err := r.Provision(testcaddy.Context(tb)); err != nil {
		tb.Fatalf("Provision: expected no error, got %v", err)
	}
	core, logs := observer.New(zap.DebugLevel)
	r.logger = zap.New(core)
	r.backoffMin, r.backoffMax = 10*time.Millisecond, 100*time.Millisecond
	return r, logs
}

// start runs r until the test ends or stop is called; stop cancels the run, checks that it
// returns, and says how long that took.
func start(tb testing.TB, r *Reader, sink caddyotp.ReportSink) (stop func() time.Duration) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Run(ctx, sink)
	}()
	var once sync.Once
	var took time.Duration
	stop = func() time.Duration {
		once.Do(func() {
			begin := time.Now()
			cancel()
			select {
			case <-done:
				took = time.Since(begin)
			case <-time.After(5 * time.Second):
				tb.Errorf("expected Run to return after its context ended, still running after 5s")
				took = 5 * time.Second
			}
		})
		return took
	}
	tb.Cleanup(func() { stop() })
	return stop
}

// waitFor polls cond for up to 10s.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("expected %s within 10s, it did not happen", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// logged counts the entries at level whose message contains msg.
func logged(logs *observer.ObservedLogs, level zapcore.Level, msg string) int {
	return logs.Filter(func(e observer.LoggedEntry) bool {
		return e.Level == level && strings.Contains(e.Message, msg)
	}).Len()
}

func TestReaderAppliesEveryWrapping(t *testing.T) {
	bodies := []struct {
		name string
		body func(ev map[string]any) string
	}{
		{"raw", sqsdouble.RawBody},
		{"sns", sqsdouble.SNSBody},
		{"eventbridge", sqsdouble.EventBridgeBody},
	}
	for _, b := range bodies {
		t.Run(b.name, func(t *testing.T) {
			d := sqsdouble.New(t)
			r, _ := readerFor(t, d)
			sink := newFakeSink()
			start(t, r, sink)
			d.Put(b.body(sqsdouble.SMSEvent()))
			if err := d.WaitEmpty(10 * time.Second); err != nil {
				t.Fatal(err)
			}
			got, ok := sink.report(sampleID)
			if !ok {
				t.Fatalf("expected the report of %s applied, got none", sampleID)
			}
			checkReport(t, sampleReport, got)
			if d.Deletes() != 1 {
				t.Errorf("expected 1 delete, got %d", d.Deletes())
			}
		})
	}
}

func TestReaderOutcomes(t *testing.T) {
	d := sqsdouble.New(t)
	r, logs := readerFor(t, d)
	sink := newFakeSink()
	d.Put(sqsdouble.SNSBody(event(map[string]any{"messageId": "delivered"})))
	d.Put(sqsdouble.RawBody(event(map[string]any{"messageId": "failed", "eventType": "TEXT_CARRIER_UNREACHABLE",
		"messageStatus": "CARRIER_UNREACHABLE", "messageStatusDescription": "The carrier is unreachable",
		"totalMessagePrice": nil, "totalCarrierFee": nil})))
	d.Put(sqsdouble.RawBody(event(map[string]any{"messageId": "pending", "eventType": "TEXT_PENDING",
		"messageStatus": "PENDING", "isFinal": false})))
	start(t, r, sink)
	if err := d.WaitEmpty(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if got, ok := sink.report("delivered"); !ok || got.Status != caddyotp.ReportDelivered || got.BilledUSD != 0.041 || !got.HasPrice {
		t.Errorf("expected delivered, billed 0.041, got %+v (%v)", got, ok)
	}
	if got, ok := sink.report("failed"); !ok || got.Status != caddyotp.ReportFailed || got.HasPrice ||
		got.Description != "The carrier is unreachable" {
		t.Errorf("expected failed without a price, got %+v (%v)", got, ok)
	}
	// a non-final event is no report, and is gone from the queue
	if n := sink.callsFor("pending"); n != 0 {
		t.Errorf("expected no report for a non-final event, got %d calls", n)
	}
	if d.Deletes() != 3 {
		t.Errorf("expected 3 deletes, got %d", d.Deletes())
	}
	if n := logged(logs, zap.DebugLevel, "not final"); n != 1 {
		t.Errorf("expected 1 debug line for the non-final event, got %d", n)
	}
}

func TestReaderDuplicates(t *testing.T) {
	d := sqsdouble.New(t)
	r, _ := readerFor(t, d)
	sink := newFakeSink()
	body := sqsdouble.SNSBody(sqsdouble.SMSEvent())
	d.Put(body)
	d.Put(body) // SQS delivers at least once
	start(t, r, sink)
	if err := d.WaitEmpty(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	got := sink.outcomeCounts()
	if got[caddyotp.ReportApplied] != 1 || got[caddyotp.ReportDuplicate] != 1 || len(got) != 2 {
		t.Errorf("expected 1 applied and 1 duplicate, got %v", got)
	}
	if d.Deletes() != 2 {
		t.Errorf("expected both messages deleted, got %d", d.Deletes())
	}
}

func TestReaderUnknownMessageID(t *testing.T) {
	t.Run("dropped after five receives", func(t *testing.T) {
		d := sqsdouble.New(t)
		d.SetVisibilityTimeout(100 * time.Millisecond)
		r, logs := readerFor(t, d)
		sink := newFakeSink()
		sink.setUnknown("stranger", 1000)
		d.Put(sqsdouble.RawBody(event(map[string]any{"messageId": "stranger"})))
		start(t, r, sink)

		waitFor(t, "the first report", func() bool { return sink.callsFor("stranger") >= 1 })
		if d.Deletes() != 0 || d.Len() != 1 {
			t.Errorf("expected an unknown report left in the queue, got %d deletes, %d left", d.Deletes(), d.Len())
		}
		if err := d.WaitEmpty(10 * time.Second); err != nil {
			t.Fatal(err)
		}
		if n := sink.callsFor("stranger"); n != maxUnknownReceives {
			t.Errorf("expected %d tries, got %d", maxUnknownReceives, n)
		}
		if n := logged(logs, zap.WarnLevel, "no ledger entry"); n != 1 {
			t.Errorf("expected 1 warning for the dropped report, got %d", n)
		}
		if sink.appliedCount() != 0 {
			t.Errorf("expected nothing applied, got %d", sink.appliedCount())
		}
	})
	t.Run("applied once its entry is written", func(t *testing.T) {
		d := sqsdouble.New(t)
		d.SetVisibilityTimeout(100 * time.Millisecond)
		r, _ := readerFor(t, d)
		sink := newFakeSink()
		sink.setUnknown("early", 2)
		d.Put(sqsdouble.RawBody(event(map[string]any{"messageId": "early"})))
		start(t, r, sink)
		if err := d.WaitEmpty(10 * time.Second); err != nil {
			t.Fatal(err)
		}
		if _, ok := sink.report("early"); !ok || sink.callsFor("early") != 3 {
			t.Errorf("expected the report applied at the third try, got %v after %d", ok, sink.callsFor("early"))
		}
	})
}

func TestReaderDropsBadBodies(t *testing.T) {
	d := sqsdouble.New(t)
	r, logs := readerFor(t, d)
	sink := newFakeSink()
	bad := []string{
		`not json`,
		`[1,2,3]`,
		`{"hello":"world"}`,
		sqsdouble.RawBody(event(map[string]any{"messageId": nil})),
		sqsdouble.RawBody(event(map[string]any{"eventType": "VOICE_COMPLETED"})),
		sqsdouble.RawBody(event(map[string]any{"totalMessagePrice": "cheap"})),
		sqsdouble.RawBody(event(map[string]any{"totalMessagePrice": 500})),  // CheckReport: outside 0..100 USD
		sqsdouble.RawBody(event(map[string]any{"totalMessagePrice": -0.5})), // CheckReport again
		`{"Type":"SubscriptionConfirmation","TopicArn":"arn:aws:sns:eu-west-2:123456789012:t","Message":"confirm"}`,
	}
	for _, b := range bad {
		d.Put(b)
	}
	d.Put(sqsdouble.RawBody(sqsdouble.SMSEvent())) // the reader goes on after them
	start(t, r, sink)
	if err := d.WaitEmpty(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if n := sink.totalCalls(); n != 1 {
		t.Errorf("expected only the good report to reach the sink, got %d calls", n)
	}
	if _, ok := sink.report(sampleID); !ok {
		t.Error("expected the good report applied, got none")
	}
	if d.Deletes() != len(bad)+1 {
		t.Errorf("expected %d deletes, got %d", len(bad)+1, d.Deletes())
	}
	dropped := logged(logs, zap.WarnLevel, "dropped") + logged(logs, zap.InfoLevel, "dropped")
	if dropped != len(bad) {
		t.Errorf("expected %d lines for the dropped messages, got %d", len(bad), dropped)
	}
}

func TestReaderStoreError(t *testing.T) {
	d := sqsdouble.New(t)
	d.SetVisibilityTimeout(100 * time.Millisecond)
	r, logs := readerFor(t, d)
	sink := newFakeSink()
	sink.setFailNext(3)
	d.Put(sqsdouble.RawBody(sqsdouble.SMSEvent()))
	start(t, r, sink)
	waitFor(t, "the first try", func() bool { return sink.callsFor(sampleID) >= 1 })
	if d.Deletes() != 0 {
		t.Errorf("expected the message kept while the store fails, got %d deletes", d.Deletes())
	}
	if err := d.WaitEmpty(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	// kept three times (else it would not have come back), applied at the fourth
	if _, ok := sink.report(sampleID); !ok || sink.callsFor(sampleID) != 4 {
		t.Errorf("expected the report applied at the fourth try, got %v after %d", ok, sink.callsFor(sampleID))
	}
	if n := logged(logs, zap.WarnLevel, "reading sms reports failed"); n != 3 {
		t.Errorf("expected 3 warnings for the store's failures, got %d", n)
	}
}

func TestReaderSurvivesAWSFaults(t *testing.T) {
	faults := []struct {
		name  string
		fault sqsdouble.Fault
	}{
		{"throttled", sqsdouble.Throttled},
		{"internal error", sqsdouble.InternalError},
		{"unavailable", sqsdouble.ServiceUnavailable},
		{"connection closed", sqsdouble.CloseConnection},
	}
	for _, tt := range faults {
		t.Run(tt.name, func(t *testing.T) {
			d := sqsdouble.New(t)
			r, logs := readerFor(t, d)
			r.backoffMin, r.backoffMax = 40*time.Millisecond, time.Second
			sink := newFakeSink()
			d.FailNext(3, tt.fault.OnlyFor("ReceiveMessage"))
			d.Put(sqsdouble.RawBody(sqsdouble.SMSEvent()))
			begin := time.Now()
			start(t, r, sink)
			if err := d.WaitEmpty(10 * time.Second); err != nil {
				t.Fatal(err)
			}
			// three waits, each at least half of 40ms, 80ms, 160ms
			if el := time.Since(begin); el < 140*time.Millisecond {
				t.Errorf("expected the reader to back off at least 140ms in all, it took %v", el)
			}
			if n := d.Requests("ReceiveMessage"); n < 4 {
				t.Errorf("expected at least 4 receives, got %d", n)
			}
			warnings := logs.FilterMessage("reading sms reports failed").All()
			if len(warnings) != 3 {
				t.Fatalf("expected 3 warnings, got %d", len(warnings))
			}
			for i, w := range warnings {
				if f := w.ContextMap()["failures"]; f != int64(i+1) {
					t.Errorf("expected warning %d to count failure %d, got %v", i+1, i+1, f)
				}
			}
			if _, ok := sink.report(sampleID); !ok {
				t.Error("expected the report applied after the faults, got none")
			}
		})
	}

	t.Run("a failed delete", func(t *testing.T) {
		d := sqsdouble.New(t)
		d.SetVisibilityTimeout(100 * time.Millisecond)
		r, logs := readerFor(t, d)
		sink := newFakeSink()
		d.FailNext(1, sqsdouble.InternalError.OnlyFor("DeleteMessage"))
		d.Put(sqsdouble.RawBody(sqsdouble.SMSEvent()))
		start(t, r, sink)
		if err := d.WaitEmpty(10 * time.Second); err != nil {
			t.Fatal(err)
		}
		// it came back and was a duplicate then
		got := sink.outcomeCounts()
		if got[caddyotp.ReportApplied] != 1 || got[caddyotp.ReportDuplicate] != 1 {
			t.Errorf("expected 1 applied and 1 duplicate, got %v", got)
		}
		if n := logged(logs, zap.WarnLevel, "deleting an sqs message failed"); n != 1 {
			t.Errorf("expected 1 warning for the failed delete, got %d", n)
		}
	})
}

func TestReaderStopsPromptly(t *testing.T) {
	t.Run("in a long poll", func(t *testing.T) {
		d := sqsdouble.New(t)
		r, _ := readerFor(t, d)
		r.Wait = caddy.Duration(20 * time.Second)
		stop := start(t, r, newFakeSink())
		waitFor(t, "a long poll", func() bool { return d.Waiting() == 1 })
		if took := stop(); took > time.Second {
			t.Errorf("expected Run to return within 1s of the cancel, took %v", took)
		}
	})
	t.Run("in a backoff", func(t *testing.T) {
		d := sqsdouble.New(t)
		r, logs := readerFor(t, d)
		r.backoffMin, r.backoffMax = time.Minute, time.Minute
		d.SetFault(sqsdouble.Throttled)
		stop := start(t, r, newFakeSink())
		waitFor(t, "a backoff", func() bool { return logs.FilterMessage("reading sms reports failed").Len() == 1 })
		if took := stop(); took > time.Second {
			t.Errorf("expected Run to return within 1s of the cancel, took %v", took)
		}
	})
	t.Run("while the aws config does not load", func(t *testing.T) {
		d := sqsdouble.New(t)
		r, logs := readerFor(t, d)
		r.Region = "" // and none in the environment
		stop := start(t, r, newFakeSink())
		waitFor(t, "a config error", func() bool { return logs.FilterMessage("loading the aws config for sms reports").Len() >= 1 })
		if took := stop(); took > time.Second {
			t.Errorf("expected Run to return within 1s of the cancel, took %v", took)
		}
		if n := d.Requests("ReceiveMessage"); n != 0 {
			t.Errorf("expected no receive without a config, got %d", n)
		}
	})
}

func TestTwoReadersOneQueue(t *testing.T) {
	const n = 60
	d := sqsdouble.New(t)
	a, _ := readerFor(t, d)
	b, _ := readerFor(t, d)
	sink := newFakeSink()
	start(t, a, sink)
	start(t, b, sink)
	waitFor(t, "both readers polling", func() bool { return d.Waiting() == 2 })
	for i := range n {
		d.Put(sqsdouble.RawBody(event(map[string]any{"messageId": fmt.Sprintf("sms-%02d", i)})))
	}
	if err := d.WaitEmpty(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		id := fmt.Sprintf("sms-%02d", i)
		if c := sink.callsFor(id); c != 1 {
			t.Errorf("expected %s read once by one of the readers, got %d", id, c)
		}
	}
	if got := sink.outcomeCounts(); got[caddyotp.ReportApplied] != n || len(got) != 1 {
		t.Errorf("expected %d applied, got %v", n, got)
	}
	if d.Deletes() != n {
		t.Errorf("expected %d deletes, got %d", n, d.Deletes())
	}
}

// BenchmarkReportsApplied: reports per second that one reader reads through the double
// (receive 10, delete each) into a sink that takes no time.
func BenchmarkReportsApplied(b *testing.B) {
	d := sqsdouble.New(b)
	r, _ := readerFor(b, d)
	sink := newFakeSink()
	for i := range b.N {
		d.Put(sqsdouble.RawBody(event(map[string]any{"messageId": fmt.Sprintf("sms-%d", i)})))
	}
	b.ResetTimer()
	begin := time.Now()
	start(b, r, sink)
	if err := d.WaitEmpty(time.Duration(b.N)*time.Second + 10*time.Second); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(begin)
	b.StopTimer()
	if sink.appliedCount() != b.N {
		b.Fatalf("expected %d applied, got %d", b.N, sink.appliedCount())
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "reports/s")
}
