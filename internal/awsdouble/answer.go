package awsdouble

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
)

// The content types of the AWS JSON protocols: 1.0 (End User Messaging SMS, SQS) and 1.1
// (CloudWatch Logs). A request and its answer, error or not, carry the same one.
const (
	JSON10 = "application/x-amz-json-1.0"
	JSON11 = "application/x-amz-json-1.1"
)

// Answer writes v as an AWS JSON protocol answer, as the services do: the protocol's
// content type, the request id in X-Amzn-RequestId, status, and v as JSON. An error answer
// is one too: v is then the error document, its name in __type.
func Answer(w http.ResponseWriter, contentType, requestID string, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		panic("awsdouble: encoding an answer: " + err.Error()) // the doubles' own types always encode
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Amzn-RequestId", requestID)
	w.WriteHeader(status)
	w.Write(append(body, '\n')) //nolint:errcheck
}

// NewUUID is a random version-4 UUID, the shape of AWS request ids and of SNS, End User
// Messaging and SQS message ids.
func NewUUID() string {
	b := make([]byte, 16)
	rand.Read(b) //nolint:errcheck // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return strings.Join([]string{h[0:8], h[8:12], h[12:16], h[16:20], h[20:32]}, "-")
}
