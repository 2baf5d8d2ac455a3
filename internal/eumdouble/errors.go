package eumdouble

import (
	"net/http"

	"github.com/caddyotp/caddyotp/internal/awsdouble"
)

// apiError is an AWS JSON 1.0 error document: `__type` names the error, the other members
// are those of its shape in the End User Messaging SMS API (see testdata/README.md).
type apiError struct {
	Type         string       `json:"__type"`
	Message      string       `json:"message,omitempty"`
	Reason       string       `json:"Reason,omitempty"`
	Fields       []fieldError `json:"Fields,omitempty"`
	ResourceType string       `json:"ResourceType,omitempty"`
	ResourceID   string       `json:"ResourceId,omitempty"`
	RequestID    string       `json:"RequestId,omitempty"`

	Status int `json:"-"`
}

// fieldError is a ValidationExceptionField: which member broke which rule.
type fieldError struct {
	Name    string `json:"Name"`
	Message string `json:"Message"`
}

// fieldInvalid is the ValidationException AWS answers for a member that breaks its rule.
func fieldInvalid(name, message string) *apiError {
	return &apiError{
		Type:    "ValidationException",
		Status:  http.StatusBadRequest,
		Message: "1 validation error detected: " + message,
		Reason:  "FIELD_VALIDATION_FAILED",
		Fields:  []fieldError{{Name: name, Message: message}},
	}
}

// faultError is the error document of an error fault.
func faultError(f Fault) apiError {
	e := apiError{Type: f.Code, Status: f.Status, Message: f.Message, Reason: f.Reason}
	if e.Status == 0 {
		e.Status = http.StatusBadRequest
	}
	if e.Message == "" {
		e.Message = defaultMessage(f.Code)
	}
	return e
}

// defaultMessage is the message of a preset fault with this code, else the code itself: a
// fault set through POST /_fault may leave the message out.
func defaultMessage(code string) string {
	for _, f := range []Fault{Validation, Throttling, InternalServer, AccessDenied, ServiceQuotaExceeded} {
		if f.Code == code {
			return f.Message
		}
	}
	return code
}

// writeError answers with e, as AWS JSON 1.0 does.
func writeError(w http.ResponseWriter, requestID string, e apiError) {
	if e.Type == "InternalServerException" {
		e.RequestID = requestID
	}
	awsdouble.Answer(w, awsdouble.JSON10, requestID, e.Status, e)
}
