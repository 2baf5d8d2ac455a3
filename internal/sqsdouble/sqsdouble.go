// Package sqsdouble is an Amazon SQS test double: one standard queue behind SQS's AWS JSON
// 1.0 protocol (POST, X-Amz-Target AmazonSQS.<Operation>), well enough for aws-sdk-go-v2's
// sqs client to SendMessage, ReceiveMessage and DeleteMessage. It keeps what a reader must
// cope with: long polling, the visibility timeout (a message received and not deleted comes
// back), a new receipt handle per receive, ApproximateReceiveCount, MD5OfBody (which the SDK
// checks), and injected faults (error answers, a connection closed without one).
//
// It listens on 127.0.0.1 only. It checks that a request is signed (an Authorization header
// is present) but never verifies the signature.
package sqsdouble

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// QueuePath is the path of the double's queue URL: SQS's shape, /<account>/<queue name>.
const QueuePath = "/123456789012/otp-events"

// DefaultVisibilityTimeout is SQS's default: a received message stays hidden for 30s.
const DefaultVisibilityTimeout = 30 * time.Second

// Double is a running SQS test double holding one standard queue. Its methods are safe for
// concurrent use.
type Double struct {
	url      string
	listener net.Listener
	server   *http.Server
	closing  chan struct{}
	once     sync.Once

	mu         sync.Mutex
	changed    chan struct{} // closed and replaced when a message is put or deleted
	queue      []*message    // oldest first
	handles    map[string]string
	visibility time.Duration
	requests   map[string]int // operation → requests, faulted or not
	deletes    int
	waiting    int     // long polls waiting now
	next       []Fault // FailNext faults, used first
	always     Fault   // SetFault, used when next is empty
}

// New starts a double on a free port of 127.0.0.1 and closes it when the test ends.
func New(t testing.TB) *Double {
	t.Helper()
	d, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatalf("starting sqs double: %v", err)
	}
	t.Cleanup(d.Close)
	return d
}

// Listen starts a double on addr, which must be a 127.0.0.1 address (port 0 for any free one).
func Listen(addr string) (*Double, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("listen address %q: %w", addr, err)
	}
	if host != "127.0.0.1" {
		return nil, fmt.Errorf("listen address %q: the double listens on 127.0.0.1 only", addr)
	}
	ln, err := net.Listen("tcp4", addr)
	if err != nil {
		return nil, err
	}
	d := &Double{
		url:        "http://" + ln.Addr().String(),
		listener:   ln,
		closing:    make(chan struct{}),
		changed:    make(chan struct{}),
		handles:    map[string]string{},
		visibility: DefaultVisibilityTimeout,
		requests:   map[string]int{},
	}
	d.server = &http.Server{Handler: d, ReadHeaderTimeout: 10 * time.Second}
	go d.server.Serve(ln) //nolint:errcheck // Serve returns ErrServerClosed on Close
	return d, nil
}

// URL is the double's base URL, for the sqs client's BaseEndpoint.
func (d *Double) URL() string { return d.url }

// QueueURL is the URL of the double's queue, the QueueUrl of every request.
func (d *Double) QueueURL() string { return d.url + QueuePath }

// Close stops the double, ending any long poll. It is safe to call twice.
func (d *Double) Close() {
	d.once.Do(func() {
		close(d.closing)
		d.server.Close()
	})
}

// Put adds a message with body to the queue, as SendMessage would, and returns its id.
func (d *Double) Put(body string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.put(body, 0)
}

// SetVisibilityTimeout sets the queue's visibility timeout: how long a received message
// stays hidden unless the receive names its own. Default: 30s, as SQS's.
func (d *Double) SetVisibilityTimeout(v time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.visibility = v
}

// FailNext makes the next n requests that f applies to meet f, before any SetFault fault.
func (d *Double) FailNext(n int, f Fault) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for range n {
		d.next = append(d.next, f)
	}
}

// SetFault makes every request that f applies to meet f, until changed; Fault{} turns it off.
func (d *Double) SetFault(f Fault) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.always = f
}

// Message is a message of the queue as a test sees it.
type Message struct {
	ID       string
	Body     string
	Receives int  // ApproximateReceiveCount
	InFlight bool // received and hidden now
}

// Messages returns the messages in the queue (not deleted), oldest first.
func (d *Double) Messages() []Message {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now()
	out := make([]Message, len(d.queue))
	for i, m := range d.queue {
		out[i] = Message{ID: m.id, Body: m.body, Receives: m.receives, InFlight: m.visibleAt.After(now)}
	}
	return out
}

// Len is how many messages are in the queue, in flight or not.
func (d *Double) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.queue)
}

// Deletes is how many messages DeleteMessage removed.
func (d *Double) Deletes() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.deletes
}

// Requests is how many requests for op ("ReceiveMessage", …) arrived, faulted or not.
func (d *Double) Requests(op string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.requests[op]
}

// Waiting is how many ReceiveMessage long polls are waiting for a message now.
func (d *Double) Waiting() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.waiting
}

// WaitEmpty waits until the queue is empty, every message deleted. It returns an error
// naming what is left if timeout passes first.
func (d *Double) WaitEmpty(timeout time.Duration) error {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		d.mu.Lock()
		left, changed := len(d.queue), d.changed
		d.mu.Unlock()
		if left == 0 {
			return nil
		}
		select {
		case <-changed:
		case <-timer.C:
			return fmt.Errorf("expected an empty queue within %v, %d messages left", timeout, left)
		case <-d.closing:
			return errors.New("sqs double closed")
		}
	}
}

// ServeHTTP answers one request of SQS's JSON protocol.
func (d *Double) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	requestID := newUUID()
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "AmazonSQS.")
	switch {
	case r.Method != http.MethodPost:
		writeError(w, r, requestID, ErrorFault("InvalidAction", http.StatusBadRequest, "expected a POST"))
		return
	case r.Header.Get("Authorization") == "":
		writeError(w, r, requestID, missingAuth)
		return
	case r.Header.Get("Content-Type") != "application/x-amz-json-1.0":
		writeError(w, r, requestID, ErrorFault("UnsupportedMediaType", http.StatusBadRequest,
			"expected Content-Type application/x-amz-json-1.0"))
		return
	case !ok || (op != "SendMessage" && op != "ReceiveMessage" && op != "DeleteMessage"):
		writeError(w, r, requestID, ErrorFault("UnknownOperationException", http.StatusBadRequest,
			fmt.Sprintf("the double does not know the operation %q", r.Header.Get("X-Amz-Target"))))
		return
	}

	switch fault := d.takeFault(op); fault.Kind {
	case KindError:
		writeError(w, r, requestID, fault)
		return
	case KindClose:
		dropConnection(w)
		return
	}

	var req request
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 2<<20)).Decode(&req); err != nil {
		writeError(w, r, requestID, ErrorFault("SerializationException", http.StatusBadRequest, err.Error()))
		return
	}
	if req.QueueURL != d.QueueURL() {
		writeError(w, r, requestID, queueDoesNotExist)
		return
	}
	var resp any
	var fault *Fault
	switch op {
	case "SendMessage":
		resp, fault = d.sendMessage(req)
	case "ReceiveMessage":
		resp, fault = d.receiveMessage(r, req)
	case "DeleteMessage":
		resp, fault = d.deleteMessage(req)
	}
	if fault != nil {
		writeError(w, r, requestID, *fault)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-RequestId", requestID)
	w.WriteHeader(http.StatusOK)
	json.NewEncoder(w).Encode(resp) //nolint:errcheck
}

// takeFault counts the request and picks its fault: the first FailNext one that applies to
// op, else SetFault's if it applies.
func (d *Double) takeFault(op string) Fault {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.requests[op]++
	for i, f := range d.next {
		if f.Op == "" || f.Op == op {
			d.next = append(d.next[:i], d.next[i+1:]...)
			return f
		}
	}
	if d.always.Op == "" || d.always.Op == op {
		return d.always
	}
	return Fault{}
}
