// Package eumdouble is an AWS End User Messaging SMS (pinpointsmsvoicev2) test double: it
// speaks the AWS JSON 1.0 protocol (a POST with `X-Amz-Target: PinpointSMSVoiceV2.<Operation>`,
// JSON in and out) well enough for aws-sdk-go-v2's SendTextMessage and PutMessageFeedback,
// records every accepted request, and injects the faults a sender must survive: error
// answers, a bare 5xx, a reply that never comes, and a message accepted whose reply is lost.
//
// It listens on 127.0.0.1 only. It checks that a request is signed for the service
// (`sms-voice` in the Authorization header's credential scope) but never verifies the
// signature.
package eumdouble

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The operations the double serves, as they appear in X-Amz-Target.
const (
	targetPrefix          = "PinpointSMSVoiceV2."
	opSendTextMessage     = "SendTextMessage"
	opPutMessageFeedback  = "PutMessageFeedback"
	contentTypeAWSJSON10  = "application/x-amz-json-1.0"
	serviceSigningScope   = "/sms-voice/aws4_request"
	maxRequestBody        = 1 << 20
	coralServiceNamespace = "com.amazon.coral.service#"
)

// Kinds of Fault.
const (
	KindNone      = ""           // answer normally
	KindError     = "error"      // answer with an AWS JSON error document and status
	KindStatus    = "status"     // answer with a bare status and a body that is no AWS error (a proxy's page)
	KindHang      = "hang"       // never answer, until the client gives up or the double closes
	KindLoseReply = "lose_reply" // read and accept the request, then drop the connection
)

// Fault is what the double does with an API request instead of answering normally.
type Fault struct {
	Kind    string `json:"kind"`
	Code    string `json:"code,omitempty"`    // the error's __type, for KindError
	Status  int    `json:"status,omitempty"`  // the HTTP status, for KindError and KindStatus
	Message string `json:"message,omitempty"` // the error message, for KindError
	Reason  string `json:"reason,omitempty"`  // the error's Reason member, when its shape has one
}

// The faults a sender meets in practice, with the codes and HTTP statuses that the End User
// Messaging SMS API reference gives for SendTextMessage's errors.
var (
	// Validation is a ValidationException (400): the request broke a rule of the API.
	Validation = Fault{Kind: KindError, Code: "ValidationException", Status: http.StatusBadRequest,
		Message: "The destination phone number is not valid", Reason: "INVALID_PARAMETER"}
	// Throttling is a ThrottlingException (400): too many requests in a short time.
	Throttling = ErrorFault("ThrottlingException", http.StatusBadRequest, "Rate exceeded")
	// InternalServer is an InternalServerException (500).
	InternalServer = ErrorFault("InternalServerException", http.StatusInternalServerError,
		"The API encountered an unexpected error and couldn't complete the request.")
	// AccessDenied is an AccessDeniedException (400): the caller may not do this.
	AccessDenied = Fault{Kind: KindError, Code: "AccessDeniedException", Status: http.StatusBadRequest,
		Message: "User is not authorized to perform: sms-voice:SendTextMessage", Reason: "ACCOUNT_DISABLED"}
	// ServiceQuotaExceeded is a ServiceQuotaExceededException (400): a spend or rate quota is used up.
	ServiceQuotaExceeded = Fault{Kind: KindError, Code: "ServiceQuotaExceededException", Status: http.StatusBadRequest,
		Message: "Monthly spend limit reached", Reason: "MONTHLY_SPEND_LIMIT_REACHED_FOR_TEXT"}
	// BadGateway is a bare 502 without an AWS error document, as a proxy in front answers.
	BadGateway = Fault{Kind: KindStatus, Status: http.StatusBadGateway}
	// Hang never answers.
	Hang = Fault{Kind: KindHang}
	// LoseReply accepts and records the request, then closes the connection without a reply.
	LoseReply = Fault{Kind: KindLoseReply}
)

// ErrorFault is a fault that answers with the AWS error code and HTTP status given.
func ErrorFault(code string, status int, message string) Fault {
	return Fault{Kind: KindError, Code: code, Status: status, Message: message}
}

// Message is one SendTextMessage the double accepted.
type Message struct {
	MessageID              string            `json:"message_id"`
	DestinationPhoneNumber string            `json:"destination_phone_number"`
	MessageBody            string            `json:"message_body"`
	MessageType            string            `json:"message_type,omitempty"`
	OriginationIdentity    string            `json:"origination_identity,omitempty"`
	MaxPrice               string            `json:"max_price,omitempty"`
	TimeToLive             int               `json:"time_to_live,omitempty"`
	ConfigurationSetName   string            `json:"configuration_set_name,omitempty"`
	ProtectConfigurationID string            `json:"protect_configuration_id,omitempty"`
	MessageFeedbackEnabled bool              `json:"message_feedback_enabled,omitempty"`
	Context                map[string]string `json:"context,omitempty"`
	DryRun                 bool              `json:"dry_run,omitempty"`
	// Members lists the JSON members the request carried, sorted, so that a test can tell
	// an absent member from a zero one.
	Members []string  `json:"members"`
	Time    time.Time `json:"time"`
}

// Feedback is one PutMessageFeedback the double accepted.
type Feedback struct {
	MessageID string    `json:"message_id"`
	Status    string    `json:"status"`
	Time      time.Time `json:"time"`
}

// Double is a running End User Messaging SMS test double. Its methods are safe for
// concurrent use.
type Double struct {
	url      string
	listener net.Listener
	server   *http.Server
	closing  chan struct{}
	once     sync.Once

	mu       sync.Mutex
	changed  chan struct{} // closed and replaced whenever messages grows
	messages []Message
	feedback []Feedback
	attempts int
	next     []Fault // FailNext faults, used first
	always   Fault   // SetFault, used when next is empty
}

// New starts a double on a free port of 127.0.0.1 and closes it when the test ends.
func New(t testing.TB) *Double {
	t.Helper()
	d, err := NewServer()
	if err != nil {
		t.Fatalf("starting eum double: %v", err)
	}
	t.Cleanup(d.Close)
	return d
}

// NewServer starts a double on a free port of 127.0.0.1.
func NewServer() (*Double, error) {
	return Listen("127.0.0.1:0")
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
		url:      "http://" + ln.Addr().String(),
		listener: ln,
		closing:  make(chan struct{}),
		changed:  make(chan struct{}),
	}
	d.server = &http.Server{Handler: d, ReadHeaderTimeout: 10 * time.Second}
	go d.server.Serve(ln) //nolint:errcheck // Serve returns ErrServerClosed on Close
	return d, nil
}

// URL is the double's base URL, for the pinpointsmsvoicev2 client's BaseEndpoint.
func (d *Double) URL() string { return d.url }

// Close stops the double, releasing any request held by Hang. It is safe to call twice.
func (d *Double) Close() {
	d.once.Do(func() {
		close(d.closing)
		d.server.Close()
	})
}

// FailNext makes the next n API requests (SendTextMessage or PutMessageFeedback) meet f,
// before any fault set by SetFault.
func (d *Double) FailNext(n int, f Fault) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for range n {
		d.next = append(d.next, f)
	}
}

// SetFault makes every API request meet f, until changed; Fault{} turns it off.
func (d *Double) SetFault(f Fault) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.always = f
}

// Messages returns a copy of the messages accepted so far, oldest first.
func (d *Double) Messages() []Message {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]Message, len(d.messages))
	for i, m := range d.messages {
		m.Context = copyMap(m.Context)
		m.Members = append([]string(nil), m.Members...)
		out[i] = m
	}
	return out
}

// Feedback returns a copy of the message feedback accepted so far, oldest first.
func (d *Double) Feedback() []Feedback {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Feedback(nil), d.feedback...)
}

// Count is how many messages were accepted (delivered, reply lost or not).
func (d *Double) Count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.messages)
}

// Attempts is how many API requests arrived, faulted or not.
func (d *Double) Attempts() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.attempts
}

// Reset forgets the messages, feedback and attempts and clears every fault.
func (d *Double) Reset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.messages = nil
	d.feedback = nil
	d.attempts = 0
	d.next = nil
	d.always = Fault{}
}

// WaitFor waits until at least n messages were accepted, and returns them. It returns an
// error naming the count reached if timeout passes first.
func (d *Double) WaitFor(n int, timeout time.Duration) ([]Message, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		d.mu.Lock()
		count, changed := len(d.messages), d.changed
		d.mu.Unlock()
		if count >= n {
			return d.Messages(), nil
		}
		select {
		case <-changed:
		case <-timer.C:
			return d.Messages(), fmt.Errorf("expected %d messages within %v, got %d", n, timeout, count)
		case <-d.closing:
			return d.Messages(), errors.New("eum double closed")
		}
	}
}

// ServeHTTP answers one AWS JSON 1.0 request, or one of the control requests:
//
//	GET  /_sent   what was accepted, as JSON: {"count":N,"attempts":N,"messages":[…],"feedback":[…]}
//	POST /_fault  set a fault: {"kind":"error","code":"ThrottlingException","status":400,"count":1}
//	              ("count" > 0: the next count requests, like FailNext; absent: every
//	              request, like SetFault; {"kind":""} turns the fault off)
//	POST /_reset  forget what was accepted and clear every fault
func (d *Double) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_") {
		d.serveControl(w, r)
		return
	}
	requestID := newUUID()
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
	if r.Method != http.MethodPost || !ok || (op != opSendTextMessage && op != opPutMessageFeedback) {
		// what AWS's front end answers for a target the service does not know
		writeError(w, requestID, apiError{Type: coralServiceNamespace + "UnknownOperationException", Status: http.StatusBadRequest})
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != contentTypeAWSJSON10 {
		writeError(w, requestID, apiError{Type: coralServiceNamespace + "UnknownOperationException", Status: http.StatusBadRequest})
		return
	}
	auth := r.Header.Get("Authorization")
	if auth == "" {
		writeError(w, requestID, apiError{Type: coralServiceNamespace + "MissingAuthenticationTokenException",
			Status: http.StatusForbidden, Message: "Missing Authentication Token"})
		return
	}
	if !strings.Contains(auth, serviceSigningScope) {
		writeError(w, requestID, apiError{Type: coralServiceNamespace + "InvalidSignatureException",
			Status: http.StatusForbidden, Message: "Credential should be scoped to correct service: 'sms-voice'."})
		return
	}
	var body map[string]json.RawMessage
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBody)).Decode(&body); err != nil {
		writeError(w, requestID, apiError{Type: coralServiceNamespace + "SerializationException",
			Status: http.StatusBadRequest, Message: err.Error()})
		return
	}

	fault := d.takeFault()
	switch fault.Kind {
	case KindError:
		writeError(w, requestID, faultError(fault))
		return
	case KindStatus:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(fault.Status)
		fmt.Fprintf(w, "<html><body><h1>%d %s</h1></body></html>\n", fault.Status, http.StatusText(fault.Status))
		return
	case KindHang:
		select {
		case <-r.Context().Done():
		case <-d.closing:
			dropConnection(w) // no answer at all, not even an empty one
		}
		return
	}

	var answer any
	switch op {
	case opSendTextMessage:
		m, bad := parseSendTextMessage(body)
		if bad != nil {
			writeError(w, requestID, *bad)
			return
		}
		m.MessageID = newUUID()
		m.Time = time.Now()
		d.recordMessage(m)
		answer = map[string]string{"MessageId": m.MessageID}
	case opPutMessageFeedback:
		f, bad := parsePutMessageFeedback(body)
		if bad == nil && !d.knows(f.MessageID) {
			bad = &apiError{Type: "ResourceNotFoundException", Status: http.StatusBadRequest,
				Message: "Message " + f.MessageID + " not found", ResourceType: "message", ResourceID: f.MessageID}
		}
		if bad != nil {
			writeError(w, requestID, *bad)
			return
		}
		f.Time = time.Now()
		d.recordFeedback(f)
		answer = map[string]string{"MessageId": f.MessageID, "MessageFeedbackStatus": f.Status}
	}

	if fault.Kind == KindLoseReply {
		dropConnection(w)
		return
	}
	w.Header().Set("Content-Type", contentTypeAWSJSON10)
	w.Header().Set("X-Amzn-RequestId", requestID)
	w.WriteHeader(http.StatusOK)
	json.NewEncoder(w).Encode(answer) //nolint:errcheck
}

// faultRequest is the body of POST /_fault.
type faultRequest struct {
	Fault
	Count int `json:"count,omitempty"`
}

func (d *Double) serveControl(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/_sent" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]any{
			"count":    d.Count(),
			"attempts": d.Attempts(),
			"messages": d.Messages(),
			"feedback": d.Feedback(),
		})
	case r.URL.Path == "/_fault" && r.Method == http.MethodPost:
		var req faultRequest
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid json: " + err.Error()})
			return
		}
		switch req.Kind {
		case KindNone, KindHang, KindLoseReply:
		case KindError:
			if req.Code == "" || req.Status < 400 || req.Status > 599 {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "an error fault needs a code and a 4xx or 5xx status"})
				return
			}
		case KindStatus:
			if req.Status < 400 || req.Status > 599 {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "a status fault needs a 4xx or 5xx status"})
				return
			}
		default:
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unknown fault kind " + strconv.Quote(req.Kind)})
			return
		}
		if req.Count > 0 {
			d.FailNext(req.Count, req.Fault)
		} else {
			d.SetFault(req.Fault)
		}
		writeJSON(w, http.StatusOK, req)
	case r.URL.Path == "/_reset" && r.Method == http.MethodPost:
		d.Reset()
		writeJSON(w, http.StatusOK, map[string]string{"status": "reset"})
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such control path"})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v) //nolint:errcheck
}

// takeFault counts the attempt and picks its fault: a FailNext one first, else SetFault's.
func (d *Double) takeFault() Fault {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.attempts++
	if len(d.next) > 0 {
		f := d.next[0]
		d.next = d.next[1:]
		return f
	}
	return d.always
}

func (d *Double) recordMessage(m Message) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.messages = append(d.messages, m)
	close(d.changed)
	d.changed = make(chan struct{})
}

func (d *Double) recordFeedback(f Feedback) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.feedback = append(d.feedback, f)
}

// knows reports whether id is the id of a message the double accepted.
func (d *Double) knows(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, m := range d.messages {
		if m.MessageID == id {
			return true
		}
	}
	return false
}

// dropConnection closes the client's connection without writing a response.
func dropConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // HTTP/2: reset the stream instead
	}
	conn.Close()
}

func copyMap(in map[string]string) map[string]string {
	if in == nil {
		return nil
	}
	out := make(map[string]string, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}

// newUUID is a random version-4 UUID, the shape of End User Messaging message and request ids.
func newUUID() string {
	b := make([]byte, 16)
	rand.Read(b) //nolint:errcheck // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return strings.Join([]string{h[0:8], h[8:12], h[12:16], h[16:20], h[20:32]}, "-")
}
