package httpsender

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"strconv"

	"github.com/caddyotp/caddyotp/caddyotp"
)

// The body formats.
const (
	formatJSON = "json"
	formatForm = "form"
)

// signatureHeader carries the request's signature when `sign` is set.
const signatureHeader = "X-OTP-Signature"

// request is what the receiver is asked to send, in both formats.
type request struct {
	To                string `json:"to"`
	Text              string `json:"text"`
	SenderID          string `json:"sender_id,omitempty"`
	OriginationNumber string `json:"origination_number,omitempty"`
	Reference         string `json:"reference"`
}

// newRequest is the request for msg, at the attempt with reference ref.
func newRequest(msg caddyotp.SMS, ref string) request {
	return request{To: msg.To, Text: msg.Text, SenderID: msg.SenderID, OriginationNumber: msg.OriginationNumber, Reference: ref}
}

// encode writes r in format (json or form) and returns the body and its content type.
func (r request) encode(format string) ([]byte, string, error) {
	if format == formatForm {
		v := url.Values{"to": {r.To}, "text": {r.Text}, "reference": {r.Reference}}
		if r.SenderID != "" {
			v.Set("sender_id", r.SenderID)
		}
		if r.OriginationNumber != "" {
			v.Set("origination_number", r.OriginationNumber)
		}
		return []byte(v.Encode()), "application/x-www-form-urlencoded", nil
	}
	b, err := json.Marshal(r)
	return b, "application/json", err
}

// newReference is a random id for one attempt: 32 hex digits.
func newReference() string {
	b := make([]byte, 16)
	rand.Read(b) //nolint:errcheck // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// signature is the X-OTP-Signature value of body sent at unix second t:
// "t=<t>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>".
func signature(secret []byte, t int64, body []byte) string {
	ts := strconv.FormatInt(t, 10)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}
