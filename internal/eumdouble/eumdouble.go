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
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/internal/awsdouble"
)

// The operations the double serves, as they appear in X-Amz-Target.
const (
	targetPrefix          = "PinpointSMSVoiceV2."
	opSendTextMessage     = "SendTextMessage"
	opPutMessageFeedback  = "PutMessageFeedback"
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
	awsdouble.Base[Fault] // URL, Close, FailNext, SetFault and Attempts (of both operations)
	control               awsdouble.Control[Fault]
	messages              awsdouble.Record[Message]
	feedback              awsdouble.Record[Feedback]
}

// New starts a double on a free port of 127.0.0.1 and closes it when the test ends.
func New(t testing.TB) *Double {
	t.Helper()
	return awsdouble.Start(t, "eum double", Listen)
}

// Listen starts a double on addr, which must be a 127.0.0.1 address (port 0 for any free one).
func Listen(addr string) (*Double, error) {
	srv, err := awsdouble.Listen(addr)
	if err != nil {
		return nil, err
	}
	d := &Double{Base: awsdouble.Base[Fault]{Server: srv}}
	d.control = awsdouble.Control[Fault]{ListPath: "/_sent", List: d.list, Faults: &d.Faults, Check: checkFault, Reset: d.Reset}
	srv.Serve(d)
	return d, nil
}

// Messages returns a copy of the messages accepted so far, oldest first.
func (d *Double) Messages() []Message {
	out := d.messages.Items()
	for i := range out {
		out[i].Context = maps.Clone(out[i].Context)
		out[i].Members = slices.Clone(out[i].Members)
	}
	return out
}

// Feedback returns a copy of the message feedback accepted so far, oldest first.
func (d *Double) Feedback() []Feedback { return d.feedback.Items() }

// Count is how many messages were accepted (delivered, reply lost or not).
func (d *Double) Count() int { return d.messages.Len() }

// Reset forgets the messages, feedback and attempts and clears every fault.
func (d *Double) Reset() {
	d.messages.Reset()
	d.feedback.Reset()
	d.Faults.Reset()
}

// WaitFor waits until at least n messages were accepted, and returns them. It returns an
// error naming the count reached if timeout passes first.
func (d *Double) WaitFor(n int, timeout time.Duration) ([]Message, error) {
	err := d.messages.WaitFor(n, "messages", timeout, d.Server.Closing())
	return d.Messages(), err
}

// ServeHTTP answers one AWS JSON 1.0 request, or one of the control requests of
// awsdouble.Control: GET /_sent answers {"count":N,"attempts":N,"messages":[…],"feedback":[…]},
// and POST /_fault takes a Fault, such as {"kind":"error","code":"ThrottlingException","status":400,"count":1}.
func (d *Double) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if awsdouble.IsControl(r) {
		d.control.ServeHTTP(w, r)
		return
	}
	requestID := awsdouble.NewUUID()
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
	if r.Method != http.MethodPost || !ok || (op != opSendTextMessage && op != opPutMessageFeedback) {
		// what AWS's front end answers for a target the service does not know
		writeError(w, requestID, apiError{Type: coralServiceNamespace + "UnknownOperationException", Status: http.StatusBadRequest})
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != awsdouble.JSON10 {
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

	fault := d.Faults.Take(op, nil)
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
		d.Server.Hang(w, r)
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
		m.MessageID = awsdouble.NewUUID()
		m.Time = time.Now()
		d.messages.Add(m)
		answer = map[string]string{"MessageId": m.MessageID}
	case opPutMessageFeedback:
		f, bad := parsePutMessageFeedback(body)
		if bad == nil && !d.messages.Any(func(m Message) bool { return m.MessageID == f.MessageID }) {
			bad = &apiError{Type: "ResourceNotFoundException", Status: http.StatusBadRequest,
				Message: "Message " + f.MessageID + " not found", ResourceType: "message", ResourceID: f.MessageID}
		}
		if bad != nil {
			writeError(w, requestID, *bad)
			return
		}
		f.Time = time.Now()
		d.feedback.Add(f)
		answer = map[string]string{"MessageId": f.MessageID, "MessageFeedbackStatus": f.Status}
	}

	if fault.Kind == KindLoseReply {
		awsdouble.DropConnection(w)
		return
	}
	awsdouble.Answer(w, awsdouble.JSON10, requestID, http.StatusOK, answer)
}

// list is the answer of GET /_sent.
func (d *Double) list() any {
	return map[string]any{"count": d.Count(), "attempts": d.Attempts(), "messages": d.Messages(), "feedback": d.Feedback()}
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
	case KindStatus:
		if f.Status < 400 || f.Status > 599 {
			return "a status fault needs a 4xx or 5xx status"
		}
		return ""
	}
	return "unknown fault kind " + strconv.Quote(f.Kind)
}
