package twiliodouble

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// apiError is a Twilio REST API error answer: its own code (a number from Twilio's error
// dictionary), a message, the dictionary's page for the code, and the HTTP status again
// (see testdata/README.md).
type apiError struct {
	Code     int    `json:"code"`
	Message  string `json:"message"`
	MoreInfo string `json:"more_info"`
	Status   int    `json:"status"`
}

// newError is the error answer with status, code and message, and the code's page.
func newError(status, code int, message string) apiError {
	return apiError{Code: code, Message: message, MoreInfo: moreInfo(code), Status: status}
}

// moreInfo is the page of Twilio's error dictionary for code.
func moreInfo(code int) string { return "https://www.twilio.com/docs/errors/" + strconv.Itoa(code) }

// The error answers the double gives of itself, with the codes of Twilio's error dictionary.
var (
	errAuthenticate   = newError(http.StatusUnauthorized, 20003, "Authenticate")
	errToRequired     = newError(http.StatusBadRequest, 21604, "A 'To' phone number is required.")
	errSenderRequired = newError(http.StatusBadRequest, 21603, "A 'From' or 'MessagingServiceSid' parameter is required to send a message.")
	errBodyRequired   = newError(http.StatusBadRequest, 21602, "Message body is required.")
	errBodyTooLong    = newError(http.StatusBadRequest, 21617, "The concatenated message body exceeds the 1600 character limit.")
)

func errNotFound(path string) apiError {
	return newError(http.StatusNotFound, 20404, "The requested resource "+path+" was not found")
}

func errMethodNotAllowed(method string) apiError {
	return newError(http.StatusMethodNotAllowed, 20004, "Method not allowed: "+method)
}

func errInvalidTo(to string) apiError {
	return newError(http.StatusBadRequest, 21211, "The 'To' number "+to+" is not a valid phone number.")
}

func errInvalidFrom(from string) apiError {
	return newError(http.StatusBadRequest, 21212, "The 'From' number "+from+" is not a valid phone number, shortcode, or alphanumeric sender ID.")
}

func errInvalidValidityPeriod(v string) apiError {
	return newError(http.StatusBadRequest, 21624, "Invalid validity period value: "+v+". It must be an integer from 1 to 36000.")
}

// writeError answers with e as JSON, as Twilio's REST API does; a 401 also names the
// scheme to authenticate with.
func writeError(w http.ResponseWriter, e apiError) {
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
	}
	writeJSON(w, e.Status, e)
}

// writeJSON answers with status and v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		panic("twiliodouble: encoding an answer: " + err.Error()) // the double's own types always encode
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(append(body, '\n')) //nolint:errcheck
}
