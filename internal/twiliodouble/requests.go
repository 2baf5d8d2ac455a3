package twiliodouble

import (
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The shapes the Messages resource accepts for its parameters.
var (
	e164         = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	shortCode    = regexp.MustCompile(`^[0-9]{5,6}$`)
	alphanumeric = regexp.MustCompile(`^[A-Za-z0-9 ]{1,11}$`)
	hasLetter    = regexp.MustCompile(`[A-Za-z]`)
)

// The bounds of a message: its Body's length and its ValidityPeriod in seconds.
const (
	maxBodyChars      = 1600
	minValidityPeriod = 1
	maxValidityPeriod = 36000
)

// parseCreateMessage reads a Create Message request's form into a Message, or says which
// error Twilio answers for it. account is the account in the request's path and user the
// username it authenticated with.
func parseCreateMessage(form url.Values, account, user string) (Message, *apiError) {
	m := Message{
		AccountSID:          account,
		AuthUser:            user,
		To:                  form.Get("To"),
		From:                form.Get("From"),
		MessagingServiceSID: form.Get("MessagingServiceSid"),
		Body:                form.Get("Body"),
		Params:              slices.Sorted(maps.Keys(form)),
	}
	bad := func(e apiError) (Message, *apiError) { return Message{}, &e }
	switch {
	case m.To == "":
		return bad(errToRequired)
	case !e164.MatchString(m.To):
		return bad(errInvalidTo(m.To))
	case m.From == "" && m.MessagingServiceSID == "":
		return bad(errSenderRequired)
	case m.From != "" && !validFrom(m.From):
		return bad(errInvalidFrom(m.From))
	case strings.TrimSpace(m.Body) == "":
		return bad(errBodyRequired)
	case utf8.RuneCountInString(m.Body) > maxBodyChars:
		return bad(errBodyTooLong)
	}
	if v, ok := form["ValidityPeriod"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < minValidityPeriod || n > maxValidityPeriod {
			return bad(errInvalidValidityPeriod(v[0]))
		}
		m.ValidityPeriod = n
	}
	return m, nil
}

// validFrom reports whether from can be a sender: a phone number in E.164, a short code,
// or an alphanumeric sender ID (up to 11 letters, digits and spaces, a letter among them).
func validFrom(from string) bool {
	return e164.MatchString(from) || shortCode.MatchString(from) ||
		(alphanumeric.MatchString(from) && hasLetter.MatchString(from))
}

// messageResource is the Message resource as the API answers a Create Message: every
// property of the resource, null where Twilio has no value yet.
type messageResource struct {
	AccountSID          string            `json:"account_sid"`
	APIVersion          string            `json:"api_version"`
	Body                string            `json:"body"`
	DateCreated         string            `json:"date_created"`
	DateSent            *string           `json:"date_sent"`
	DateUpdated         string            `json:"date_updated"`
	Direction           string            `json:"direction"`
	ErrorCode           *int              `json:"error_code"`
	ErrorMessage        *string           `json:"error_message"`
	From                *string           `json:"from"`
	MessagingServiceSID *string           `json:"messaging_service_sid"`
	NumMedia            string            `json:"num_media"`
	NumSegments         string            `json:"num_segments"`
	Price               *string           `json:"price"`
	PriceUnit           string            `json:"price_unit"`
	SID                 string            `json:"sid"`
	Status              string            `json:"status"`
	SubresourceURIs     map[string]string `json:"subresource_uris"`
	To                  string            `json:"to"`
	URI                 string            `json:"uri"`
}

// resource is the answer to the Create Message that made m, with price (nil for null)
// in unit.
func resource(m Message, price *string, unit string) messageResource {
	date := m.Time.UTC().Format(time.RFC1123Z) // RFC 2822, in GMT
	uri := "/2010-04-01/Accounts/" + m.AccountSID + "/Messages/" + m.SID
	r := messageResource{
		AccountSID: m.AccountSID, APIVersion: "2010-04-01", Body: m.Body,
		DateCreated: date, DateUpdated: date, Direction: "outbound-api",
		NumMedia: "0", NumSegments: "1", Price: price, PriceUnit: unit,
		SID: m.SID, Status: "queued", To: m.To, URI: uri + ".json",
		SubresourceURIs: map[string]string{"media": uri + "/Media.json"},
	}
	if m.From != "" {
		r.From = &m.From
	}
	if m.MessagingServiceSID != "" {
		r.MessagingServiceSID = &m.MessagingServiceSID
		if m.From == "" {
			// Twilio picks the sender from the service's pool later: the message is
			// accepted, not yet queued, and has no segments counted.
			r.Status, r.NumSegments = "accepted", "0"
		}
	}
	return r
}
