// Package logsdouble is an Amazon CloudWatch Logs test double for reading SNS SMS
// delivery-status logs: it speaks CloudWatch Logs' AWS JSON 1.1 protocol (a POST of
// `application/x-amz-json-1.1` naming its operation in `X-Amz-Target`) well enough for
// aws-sdk-go-v2's cloudwatchlogs.FilterLogEvents, keeps log groups that tests fill with Put,
// pages its answers, and injects the faults a reader must survive.
//
// It listens on 127.0.0.1 only. It checks that a request is signed (an Authorization header
// is present) but never verifies the signature.
package logsdouble

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/internal/awsdouble"
)

// Fault is an error answer the double gives instead of a normal one.
type Fault struct {
	Code    string // the error type, sent as the body's "__type"
	Status  int    // the HTTP status
	Message string // the body's "message"
}

// The faults a reader meets in practice, with CloudWatch Logs' codes and statuses.
var (
	// Throttling is the "Rate exceeded" answer to too many requests (status 400).
	Throttling = Fault{Code: "ThrottlingException", Status: http.StatusBadRequest, Message: "Rate exceeded"}
	// ServiceUnavailable is the service's own server-side failure (status 500).
	ServiceUnavailable = Fault{Code: "ServiceUnavailableException", Status: http.StatusInternalServerError,
		Message: "The service cannot complete the request."}
)

// DefaultPageSize is how many events the double answers at most per page unless the
// request's limit or SetPageSize says otherwise. CloudWatch Logs itself defaults to 10,000
// events (or 1 MB); the double's page is small so that tests exercise paging.
const DefaultPageSize = 4

// maxLimit is the largest limit CloudWatch Logs accepts.
const maxLimit = 10000

// event is one log event the double holds.
type event struct {
	id        string
	stream    string
	timestamp int64 // milliseconds since the epoch, as the event says
	ingested  int64 // milliseconds since the epoch, when Put was called
	message   string
	seq       int64 // the order of Put, to order events with one timestamp
}

// Request is one FilterLogEvents request the double answered, faulted or not.
type Request struct {
	LogGroup  string
	StartTime *int64
	EndTime   *int64
	Limit     *int32
	NextToken string
}

// Double is a running CloudWatch Logs test double. Its methods are safe for concurrent use.
type Double struct {
	awsdouble.Base[Fault] // URL, Close, FailNext, SetFault and Attempts

	mu       sync.Mutex
	groups   map[string][]event // each ordered by timestamp, then by Put order
	seq      int64
	pageSize int
	requests []Request
}

// New starts a double on a free port of 127.0.0.1 and closes it when the test ends.
func New(t testing.TB) *Double {
	t.Helper()
	return awsdouble.Start(t, "cloudwatch logs double", Listen)
}

// Listen starts a double on addr, which must be a 127.0.0.1 address (port 0 for any free one).
func Listen(addr string) (*Double, error) {
	srv, err := awsdouble.Listen(addr)
	if err != nil {
		return nil, err
	}
	d := &Double{Base: awsdouble.Base[Fault]{Server: srv}, groups: map[string][]event{}, pageSize: DefaultPageSize}
	srv.Serve(d)
	return d, nil
}

// CreateGroup makes an empty log group, if there is none of that name.
func (d *Double) CreateGroup(group string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.groups[group]; !ok {
		d.groups[group] = []event{}
	}
}

// Put adds an event with timestamp ts to group (made if missing), ingested now, and returns
// its event id. An event may be put with a timestamp older than events already there, as a
// late ingestion is.
func (d *Double) Put(group string, ts time.Time, message string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.seq++
	e := event{
		id:        eventID(d.seq),
		stream:    "sms-delivery-logs",
		timestamp: ts.UnixMilli(),
		ingested:  time.Now().UnixMilli(),
		message:   message,
		seq:       d.seq,
	}
	events := d.groups[group]
	i := sort.Search(len(events), func(i int) bool { return after(events[i], e.timestamp, e.seq) })
	events = append(events, event{})
	copy(events[i+1:], events[i:])
	events[i] = e
	d.groups[group] = events
	return e.id
}

// SetPageSize sets how many events a page holds at most when the request names no smaller
// limit (1 to 10,000).
func (d *Double) SetPageSize(n int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.pageSize = min(max(n, 1), maxLimit)
}

// ClearFault turns off the faults of SetFault and FailNext.
func (d *Double) ClearFault() { d.Faults.Clear() }

// Calls is how many FilterLogEvents requests arrived, faulted or not.
func (d *Double) Calls() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.requests)
}

// Requests returns a copy of the FilterLogEvents requests that arrived, oldest first.
func (d *Double) Requests() []Request {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Request(nil), d.requests...)
}

// ServeHTTP answers one CloudWatch Logs request. Only FilterLogEvents is implemented; any
// other operation gets UnknownOperationException, as an unknown target does from AWS.
func (d *Double) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	requestID := awsdouble.NewUUID()
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		writeError(w, requestID, Fault{Code: "UnknownOperationException", Status: http.StatusBadRequest,
			Message: "expected a POST to /"})
		return
	}
	if r.Header.Get("Authorization") == "" {
		writeError(w, requestID, Fault{Code: "MissingAuthenticationTokenException", Status: http.StatusBadRequest,
			Message: "Missing Authentication Token"})
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != awsdouble.JSON11 {
		writeError(w, requestID, Fault{Code: "SerializationException", Status: http.StatusBadRequest,
			Message: "unexpected content type " + strconv.Quote(ct)})
		return
	}
	if target := r.Header.Get("X-Amz-Target"); target != "Logs_20140328.FilterLogEvents" {
		writeError(w, requestID, Fault{Code: "UnknownOperationException", Status: http.StatusBadRequest,
			Message: "the double does not implement " + strconv.Quote(target)})
		return
	}
	d.serveFilterLogEvents(w, r, requestID)
}

// takeFault picks the fault of one request: a FailNext one first, else SetFault's; nil
// for none.
func (d *Double) takeFault() *Fault {
	f := d.Faults.Take("FilterLogEvents", nil)
	if f == (Fault{}) {
		return nil
	}
	return &f
}

// after reports whether e comes after the position (ts, seq) in a group's order.
func after(e event, ts, seq int64) bool {
	return e.timestamp > ts || (e.timestamp == ts && e.seq > seq)
}

// eventID is an event id of the shape CloudWatch Logs gives: a long decimal string.
func eventID(seq int64) string {
	return fmt.Sprintf("%056d", seq)
}
