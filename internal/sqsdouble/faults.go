package sqsdouble

import (
	"net/http"

	"github.com/caddyotp/caddyotp/internal/awsdouble"
)

// Kinds of Fault.
const (
	KindNone  = ""      // answer normally
	KindError = "error" // answer with an SQS JSON error document and status
	KindClose = "close" // close the connection without an answer
)

// Fault is what the double does with a request instead of answering it.
type Fault struct {
	Kind string `json:"kind"`
	// Op limits the fault to one operation ("ReceiveMessage", "DeleteMessage",
	// "SendMessage"); empty: any.
	Op      string `json:"op,omitempty"`
	Code    string `json:"code,omitempty"`    // the error's __type, for KindError
	Status  int    `json:"status,omitempty"`  // the HTTP status, for KindError
	Message string `json:"message,omitempty"` // the error message, for KindError
	// QueryCode is the error's code in SQS's older Query protocol, which SQS sends in the
	// x-amzn-query-error header to clients in query-compatible mode (aws-sdk-go-v2 is) and
	// which then becomes the error's code; empty: Code.
	QueryCode string `json:"query_code,omitempty"`
}

// The faults a reader meets in practice. The codes and statuses are those of the SQS API
// model (aws-sdk-go-v2 service/sqs schemas) and of the errors common to all AWS APIs.
var (
	// Throttled is SQS's RequestThrottled (status 403, as modelled).
	Throttled = Fault{Kind: KindError, Code: "RequestThrottled", Status: http.StatusForbidden,
		Message: "Request is throttled."}
	// InternalError is the AWS-wide InternalFailure (status 500).
	InternalError = Fault{Kind: KindError, Code: "InternalFailure", Status: http.StatusInternalServerError,
		Message: "The request processing has failed because of an unknown error, exception or failure."}
	// ServiceUnavailable is the AWS-wide ServiceUnavailable (status 503).
	ServiceUnavailable = Fault{Kind: KindError, Code: "ServiceUnavailable", Status: http.StatusServiceUnavailable,
		Message: "The request has failed due to a temporary failure of the server."}
	// CloseConnection drops the connection without an answer.
	CloseConnection = Fault{Kind: KindClose}
)

// Errors the double answers by itself.
var (
	missingAuth = Fault{Kind: KindError, Code: "MissingAuthenticationToken", Status: http.StatusForbidden,
		Message: "Request is missing Authentication Token"}
	queueDoesNotExist = Fault{Kind: KindError, Code: "QueueDoesNotExist", Status: http.StatusBadRequest,
		QueryCode: "AWS.SimpleQueueService.NonExistentQueue", Message: "The specified queue does not exist."}
	receiptHandleIsInvalid = Fault{Kind: KindError, Code: "ReceiptHandleIsInvalid", Status: http.StatusNotFound,
		Message: "The input receipt handle is invalid."}
)

// ErrorFault is a fault that answers with the error code and HTTP status given.
func ErrorFault(code string, status int, message string) Fault {
	return Fault{Kind: KindError, Code: code, Status: status, Message: message}
}

// OnlyFor is f limited to the operation op.
func (f Fault) OnlyFor(op string) Fault {
	f.Op = op
	return f
}

// appliesTo reports whether f meets a request for op.
func (f Fault) appliesTo(op string) bool { return f.Op == "" || f.Op == op }

// invalidParameter is the AWS-wide InvalidParameterValue (status 400).
func invalidParameter(message string) Fault {
	return Fault{Kind: KindError, Code: "InvalidParameterValue", Status: http.StatusBadRequest, Message: message}
}

// writeError answers with f as SQS's JSON protocol does: the code, with the service's
// namespace, in __type, the message in message.
func writeError(w http.ResponseWriter, r *http.Request, requestID string, f Fault) {
	status := f.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	message := f.Message
	if message == "" {
		message = f.Code
	}
	if r.Header.Get("X-Amzn-Query-Mode") == "true" {
		code, fault := f.QueryCode, "Sender"
		if code == "" {
			code = f.Code
		}
		if status >= 500 {
			fault = "Receiver"
		}
		w.Header().Set("X-Amzn-Query-Error", code+";"+fault)
	}
	awsdouble.Answer(w, awsdouble.JSON10, requestID, status, map[string]string{
		"__type":  "com.amazonaws.sqs#" + f.Code,
		"message": message,
	})
}
