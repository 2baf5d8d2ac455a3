// Package snsdouble is an Amazon SNS test double for SMS: it speaks the SNS Query protocol
// (form-encoded POST in, XML out) well enough for aws-sdk-go-v2's sns.Publish to a phone
// number, records every accepted publish, and injects the faults a sender must survive:
// error answers, a reply that never comes, and a publish accepted whose reply is lost.
//
// It listens on 127.0.0.1 only. It checks that a request is signed (an Authorization header
// is present) but never verifies the signature.
package snsdouble

import (
	"encoding/xml"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/internal/awsdouble"
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
	awsdouble.Base[Fault] // URL, Close, FailNext, SetFault and Attempts (of Publish requests)
	control               awsdouble.Control[Fault]
	published             awsdouble.Record[Publish]
}

// New starts a double on a free port of 127.0.0.1 and closes it when the test ends.
func New(t testing.TB) *Double {
	t.Helper()
	return awsdouble.Start(t, "sns double", Listen)
}

// NewServer starts a double on a free port of 127.0.0.1.
func NewServer() (*Double, error) {
	return Listen("127.0.0.1:0")
}

// Listen starts a double on addr, which must be a 127.0.0.1 address (port 0 for any free one).
func Listen(addr string) (*Double, error) {
	srv, err := awsdouble.Listen(addr)
	if err != nil {
		return nil, err
	}
	d := &Double{Base: awsdouble.Base[Fault]{Server: srv}}
	d.control = awsdouble.Control[Fault]{ListPath: "/_published", List: d.list, Faults: &d.Faults, Check: checkFault, Reset: d.Reset}
	srv.Serve(d)
	return d, nil
}

// Published returns a copy of the publishes accepted so far, oldest first.
func (d *Double) Published() []Publish {
	out := d.published.Items()
	for i := range out {
		out[i].Attributes = maps.Clone(out[i].Attributes)
	}
	return out
}

// Count is how many publishes were accepted (delivered, reply lost or not).
func (d *Double) Count() int { return d.published.Len() }

// Reset forgets the publishes and attempts and clears every fault.
func (d *Double) Reset() {
	d.published.Reset()
	d.Faults.Reset()
}

// WaitFor waits until at least n publishes were accepted, and returns them. It returns an
// error naming the count reached if timeout passes first.
func (d *Double) WaitFor(n int, timeout time.Duration) ([]Publish, error) {
	err := d.published.WaitFor(n, "publishes", timeout, d.Server.Closing())
	return d.Published(), err
}

// ServeHTTP answers one SNS Query protocol request, or one of the control requests of
// awsdouble.Control: GET /_published answers {"count":N,"attempts":N,"published":[…]}, and
// POST /_fault takes a Fault, such as {"kind":"error","code":"Throttled","status":429,"count":1}.
func (d *Double) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if awsdouble.IsControl(r) {
		d.control.ServeHTTP(w, r)
		return
	}
	requestID := awsdouble.NewUUID()
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

	fault := d.Faults.Take("Publish", nil)
	switch fault.Kind {
	case KindError:
		writeError(w, requestID, fault)
		return
	case KindHang:
		d.Server.Hang(w, r)
		return
	}

	p, bad := parsePublish(r.PostForm)
	if bad != nil {
		writeError(w, requestID, *bad)
		return
	}
	p.MessageID = awsdouble.NewUUID()
	p.Time = time.Now()
	d.published.Add(p)

	if fault.Kind == KindLoseReply {
		awsdouble.DropConnection(w)
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

// list is the answer of GET /_published.
func (d *Double) list() any {
	return map[string]any{"count": d.Count(), "attempts": d.Attempts(), "published": d.Published()}
}

// checkFault says why POST /_fault refuses f; "" when it is fine.
func checkFault(f Fault) string {
	switch f.Kind {
	case KindNone, KindHang, KindLoseReply:
		return ""
	case KindError:
		if f.Code == "" || f.Status < 400 || f.Status > 599 {
			return "an error fault needs a code and a 4xx or 5xx status"
		}
		return ""
	}
	return "unknown fault kind " + strconv.Quote(f.Kind)
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

// AttributeNames lists a publish's attribute names, sorted; handy in test messages.
func (p Publish) AttributeNames() []string {
	names := make([]string, 0, len(p.Attributes))
	for k := range p.Attributes {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}
