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
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/internal/awsdouble"
)

// QueuePath is the path of the double's queue URL: SQS's shape, /<account>/<queue name>.
const QueuePath = "/123456789012/otp-events"

// DefaultVisibilityTimeout is SQS's default: a received message stays hidden for 30s.
const DefaultVisibilityTimeout = 30 * time.Second

// Double is a running SQS test double holding one standard queue. Its methods are safe for
// concurrent use.
type Double struct {
	awsdouble.Base[Fault] // URL, Close, FailNext, SetFault and Attempts

	mu         sync.Mutex
	changed    chan struct{} // closed and replaced when a message is put or deleted
	queue      []*message    // oldest first
	handles    map[string]string
	visibility time.Duration
	deletes    int
	waiting    int // long polls waiting now
}

// New starts a double on a free port of 127.0.0.1 and closes it when the test ends.
func New(t testing.TB) *Double {
	t.Helper()
	return awsdouble.Start(t, "sqs double", Listen)
}

// Listen starts a double on addr, which must be a 127.0.0.1 address (port 0 for any free one).
func Listen(addr string) (*Double, error) {
	srv, err := awsdouble.Listen(addr)
	if err != nil {
		return nil, err
	}
	d := &Double{
		Base:       awsdouble.Base[Fault]{Server: srv},
		changed:    make(chan struct{}),
		handles:    map[string]string{},
		visibility: DefaultVisibilityTimeout,
	}
	srv.Serve(d)
	return d, nil
}

// QueueURL is the URL of the double's queue, the QueueUrl of every request.
func (d *Double) QueueURL() string { return d.URL() + QueuePath }

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
func (d *Double) Requests(op string) int { return d.Faults.Requests(op) }

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
		case <-d.Server.Closing():
			return errors.New("sqs double closed")
		}
	}
}

// ServeHTTP answers one request of SQS's JSON protocol.
func (d *Double) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	requestID := awsdouble.NewUUID()
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "AmazonSQS.")
	switch {
	case r.Method != http.MethodPost:
		writeError(w, r, requestID, ErrorFault("InvalidAction", http.StatusBadRequest, "expected a POST"))
		return
	case r.Header.Get("Authorization") == "":
		writeError(w, r, requestID, missingAuth)
		return
	case r.Header.Get("Content-Type") != awsdouble.JSON10:
		writeError(w, r, requestID, ErrorFault("UnsupportedMediaType", http.StatusBadRequest,
			"expected Content-Type application/x-amz-json-1.0"))
		return
	case !ok || (op != "SendMessage" && op != "ReceiveMessage" && op != "DeleteMessage"):
		writeError(w, r, requestID, ErrorFault("UnknownOperationException", http.StatusBadRequest,
			fmt.Sprintf("the double does not know the operation %q", r.Header.Get("X-Amz-Target"))))
		return
	}

	switch fault := d.Faults.Take(op, Fault.appliesTo); fault.Kind {
	case KindError:
		writeError(w, r, requestID, fault)
		return
	case KindClose:
		awsdouble.DropConnection(w)
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
	awsdouble.Answer(w, awsdouble.JSON10, requestID, http.StatusOK, resp)
}
