// Package snsdouble is an Amazon SNS test double for SMS: it speaks the SNS Query protocol
// (form-encoded POST in, XML out) well enough for aws-sdk-go-v2's sns.Publish to a phone
// number, records every accepted publish, and injects the faults a sender must survive:
// error answers, a reply that never comes, and a publish accepted whose reply is lost.
//
// It listens on 127.0.0.1 only. It checks that a request is signed (an Authorization header
// is present) but never verifies the signature.
package snsdouble

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Kinds of Fault.
const (
	KindNone      = ""           // answer normally
	KindError     = "error"      // answer with an SNS error document and status
	KindHang      = "hang"       // never answer, until the client gives up or the double closes
	KindLoseReply = "lose_reply" // record the publish as delivered, then drop the connection
)

// Fault is what the double does with a Publish instead of answering normally.
type Fault struct {
	Kind    string `json:"kind"`
	Code    string `json:"code,omitempty"`    // the SNS error code, for KindError
	Status  int    `json:"status,omitempty"`  // the HTTP status, for KindError
	Message string `json:"message,omitempty"` // the error message, for KindError
}

// The faults a sender meets in practice. The codes and statuses are the ones SNS sends.
var (
	// Throttled is SNS's own throttling error (the modelled ThrottledException, which the SNS
	// model gives awsQueryError code "Throttled" and status 429).
	Throttled = ErrorFault("Throttled", http.StatusTooManyRequests, "Rate exceeded")
	// ThrottlingException is the AWS-wide "Rate exceeded" error that SNS also answers
	// (unmodelled in the SNS API, status 400).
	ThrottlingException = ErrorFault("ThrottlingException", http.StatusBadRequest, "Rate exceeded")
	// InternalError is SNS's InternalErrorException (status 500).
	InternalError = ErrorFault("InternalError", http.StatusInternalServerError, "Internal Error")
	// InvalidParameter is SNS's InvalidParameterException (status 400).
	InvalidParameter = ErrorFault("InvalidParameter", http.StatusBadRequest, "Invalid parameter: PhoneNumber")
	// Hang never answers.
	Hang = Fault{Kind: KindHang}
	// LoseReply accepts and records the publish, then closes the connection without a reply.
	LoseReply = Fault{Kind: KindLoseReply}
)

// ErrorFault is a fault that answers with the SNS error code and HTTP status given.
func ErrorFault(code string, status int, message string) Fault {
	return Fault{Kind: KindError, Code: code, Status: status, Message: message}
}

// Publish is one publish the double accepted.
type Publish struct {
	MessageID   string            `json:"message_id"`
	PhoneNumber string            `json:"phone_number"`
	Message     string            `json:"message"`
	Attributes  map[string]string `json:"attributes"` // name → StringValue
	Time        time.Time         `json:"time"`
}

// Double is a running SNS test double. Its methods are safe for concurrent use.
type Double struct {
	url      string
	listener net.Listener
	server   *http.Server
	closing  chan struct{}
	once     sync.Once

	mu        sync.Mutex
	changed   chan struct{} // closed and replaced whenever published grows
	published []Publish
	attempts  int
	next      []Fault // FailNext faults, used first
	always    Fault   // SetFault, used when next is empty
}

// New starts a double on a free port of 127.0.0.1 and closes it when the test ends.
func New(t testing.TB) *Double {
	t.Helper()
	d, err := NewServer()
	if err != nil {
		t.Fatalf("starting sns double: %v", err)
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

// URL is the double's base URL, for the sns client's BaseEndpoint.
func (d *Double) URL() string { return d.url }

// Close stops the double, releasing any request held by Hang. It is safe to call twice.
func (d *Double) Close() {
	d.once.Do(func() {
		close(d.closing)
		d.server.Close()
	})
}

// FailNext makes the next n Publish requests meet f, before any fault set by SetFault.
func (d *Double) FailNext(n int, f Fault) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for range n {
		d.next = append(d.next, f)
	}
}

// SetFault makes every Publish request meet f, until changed; Fault{} turns it off.
func (d *Double) SetFault(f Fault) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.always = f
}

// Published returns a copy of the publishes accepted so far, oldest first.
func (d *Double) Published() []Publish {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]Publish, len(d.published))
	for i, p := range d.published {
		p.Attributes = copyAttributes(p.Attributes)
		out[i] = p
	}
	return out
}

// Count is how many publishes were accepted (delivered, reply lost or not).
func (d *Double) Count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.published)
}

// Attempts is how many Publish requests arrived, faulted or not.
func (d *Double) Attempts() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.attempts
}

// Reset forgets the publishes and attempts and clears every fault.
func (d *Double) Reset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.published = nil
	d.attempts = 0
	d.next = nil
	d.always = Fault{}
}

// WaitFor waits until at least n publishes were accepted, and returns them. It returns an
// error naming the count reached if timeout passes first.
func (d *Double) WaitFor(n int, timeout time.Duration) ([]Publish, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		d.mu.Lock()
		count, changed := len(d.published), d.changed
		d.mu.Unlock()
		if count >= n {
			return d.Published(), nil
		}
		select {
		case <-changed:
		case <-timer.C:
			return d.Published(), fmt.Errorf("expected %d publishes within %v, got %d", n, timeout, count)
		case <-d.closing:
			return d.Published(), errors.New("sns double closed")
		}
	}
}

// ServeHTTP answers one SNS Query protocol request, or one of the control requests:
//
//	GET  /_published  the accepted publishes, as JSON: {"count":N,"attempts":N,"published":[…]}
//	POST /_fault      set a fault: {"kind":"error","code":"Throttled","status":429,"count":1}
//	                  ("count" > 0: the next count requests, like FailNext; absent: every
//	                  request, like SetFault; {"kind":""} turns the fault off)
//	POST /_reset      forget the publishes and clear every fault
func (d *Double) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_") {
		d.serveControl(w, r)
		return
	}
	requestID := newUUID()
	if r.Method != http.MethodPost {
		writeError(w, requestID, ErrorFault("InvalidAction", http.StatusBadRequest, "expected a POST"))
		return
	}
	if r.Header.Get("Authorization") == "" {
		writeError(w, requestID, ErrorFault("MissingAuthenticationToken", http.StatusForbidden,
			"Request is missing Authentication Token"))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		writeError(w, requestID, ErrorFault("MalformedQueryString", http.StatusBadRequest, err.Error()))
		return
	}
	if action := r.PostForm.Get("Action"); action != "Publish" {
		writeError(w, requestID, ErrorFault("InvalidAction", http.StatusBadRequest,
			fmt.Sprintf("Could not find operation %s for version %s", action, r.PostForm.Get("Version"))))
		return
	}

	fault := d.takeFault()
	switch fault.Kind {
	case KindError:
		writeError(w, requestID, fault)
		return
	case KindHang:
		select {
		case <-r.Context().Done():
		case <-d.closing:
			dropConnection(w) // no answer at all, not even an empty one
		}
		return
	}

	p, bad := parsePublish(r.PostForm)
	if bad != nil {
		writeError(w, requestID, *bad)
		return
	}
	p.MessageID = newUUID()
	p.Time = time.Now()
	d.record(p)

	if fault.Kind == KindLoseReply {
		dropConnection(w)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <PublishResult>
    <MessageId>%s</MessageId>
  </PublishResult>
  <ResponseMetadata>
    <RequestId>%s</RequestId>
  </ResponseMetadata>
</PublishResponse>
`, p.MessageID, requestID)
}

// faultRequest is the body of POST /_fault.
type faultRequest struct {
	Fault
	Count int `json:"count,omitempty"`
}

func (d *Double) serveControl(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/_published" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]any{
			"count":     d.Count(),
			"attempts":  d.Attempts(),
			"published": d.Published(),
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

func (d *Double) record(p Publish) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.published = append(d.published, p)
	close(d.changed)
	d.changed = make(chan struct{})
}

var e164 = regexp.MustCompile(`^\+[0-9]{1,15}$`)

// parsePublish reads a Publish to a phone number; a request SNS would refuse gives the fault
// to answer with.
func parsePublish(form map[string][]string) (Publish, *Fault) {
	get := func(k string) string {
		if v := form[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	p := Publish{PhoneNumber: get("PhoneNumber"), Message: get("Message"), Attributes: map[string]string{}}
	if p.PhoneNumber == "" {
		f := ErrorFault("InvalidParameter", http.StatusBadRequest,
			"Invalid parameter: PhoneNumber Reason: the double accepts only publishes to a phone number")
		return p, &f
	}
	if !e164.MatchString(p.PhoneNumber) {
		f := ErrorFault("InvalidParameter", http.StatusBadRequest,
			"Invalid parameter: PhoneNumber Reason: "+p.PhoneNumber+" is not valid to publish to")
		return p, &f
	}
	if p.Message == "" {
		f := ErrorFault("InvalidParameter", http.StatusBadRequest, "Invalid parameter: Empty message")
		return p, &f
	}
	// MessageAttributes.entry.N.Name, .Value.DataType, .Value.StringValue, N from 1
	for n := 1; ; n++ {
		prefix := "MessageAttributes.entry." + strconv.Itoa(n) + "."
		name := get(prefix + "Name")
		if name == "" {
			break
		}
		dataType := get(prefix + "Value.DataType")
		if dataType != "String" && dataType != "Number" {
			f := ErrorFault("ParameterValueInvalid", http.StatusBadRequest,
				"The message attribute '"+name+"' has an invalid message attribute type")
			return p, &f
		}
		p.Attributes[name] = get(prefix + "Value.StringValue")
	}
	return p, nil
}

// dropConnection closes the client's connection without writing a response.
func dropConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // HTTP/2: reset the stream instead
	}
	conn.Close()
}

type errorResponse struct {
	XMLName   xml.Name `xml:"ErrorResponse"`
	Xmlns     string   `xml:"xmlns,attr"`
	Type      string   `xml:"Error>Type"`
	Code      string   `xml:"Error>Code"`
	Message   string   `xml:"Error>Message"`
	RequestID string   `xml:"RequestId"`
}

func writeError(w http.ResponseWriter, requestID string, f Fault) {
	status := f.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	message := f.Message
	if message == "" {
		message = defaultMessage(f.Code)
	}
	typ := "Sender"
	if status >= 500 {
		typ = "Receiver"
	}
	body, _ := xml.MarshalIndent(errorResponse{
		Xmlns:     "http://sns.amazonaws.com/doc/2010-03-31/",
		Type:      typ,
		Code:      f.Code,
		Message:   message,
		RequestID: requestID,
	}, "", "  ")
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-RequestId", requestID)
	w.WriteHeader(status)
	w.Write(append(body, '\n')) //nolint:errcheck
}

// defaultMessage is the message of a preset fault with this code, else the code itself: a
// fault set through POST /_fault may leave the message out.
func defaultMessage(code string) string {
	for _, f := range []Fault{Throttled, ThrottlingException, InternalError, InvalidParameter} {
		if f.Code == code {
			return f.Message
		}
	}
	return code
}

func copyAttributes(in map[string]string) map[string]string {
	out := make(map[string]string, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}

// AttributeNames lists a publish's attribute names, sorted; handy in test messages.
func (p Publish) AttributeNames() []string {
	names := make([]string, 0, len(p.Attributes))
	for k := range p.Attributes {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// newUUID is a random version-4 UUID, the shape of SNS message and request ids.
func newUUID() string {
	b := make([]byte, 16)
	rand.Read(b) //nolint:errcheck // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return strings.Join([]string{h[0:8], h[8:12], h[12:16], h[16:20], h[20:32]}, "-")
}
