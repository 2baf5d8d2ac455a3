package twiliosender

import (
	"errors"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/caddyotp/caddyotp/caddyotp"
)

// The ValidityPeriod bounds of Create Message, in seconds.
const (
	minValidityPeriod = 1
	maxValidityPeriod = 36000
)

// The shapes of a sender: a phone number in E.164, or an alphanumeric sender ID.
var (
	e164         = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)
	alphanumeric = regexp.MustCompile(`^[A-Za-z0-9 ]{1,11}$`)
	hasLetter    = regexp.MustCompile(`[A-Za-z]`)
)

// validFrom reports whether from is a phone number in E.164 or an alphanumeric sender ID
// (up to 11 letters, digits and spaces, a letter among them).
func validFrom(from string) bool {
	return e164.MatchString(from) || (alphanumeric.MatchString(from) && hasLetter.MatchString(from))
}

// createMessageParams is the Create Message request for msg: the template's origination
// number, else its sender ID, overrides the configured from; optional parameters are
// left out when neither msg nor the configuration sets them.
func (s *TwilioSender) createMessageParams(msg caddyotp.SMS) *openapi.CreateMessageParams {
	p := (&openapi.CreateMessageParams{}).SetTo(msg.To).SetBody(msg.Text)
	from := s.From
	switch {
	case msg.OriginationNumber != "":
		from = msg.OriginationNumber
	case msg.SenderID != "":
		from = msg.SenderID
	}
	if from != "" {
		p.SetFrom(from)
	}
	if s.MessagingServiceSID != "" {
		p.SetMessagingServiceSid(s.MessagingServiceSID)
	}
	if vp, ok := validityPeriod(msg.TTL); ok {
		p.SetValidityPeriod(vp)
	}
	return p
}

// validityPeriod is a code's lifetime as Create Message's ValidityPeriod: whole seconds (an
// SMS must not arrive after its code expired), within Twilio's bounds of 1 to 36000; none
// when ttl is not set, which leaves Twilio's default.
func validityPeriod(ttl time.Duration) (int, bool) {
	if ttl <= 0 {
		return 0, false
	}
	secs := int64(ttl / time.Second)
	return int(min(max(secs, minValidityPeriod), maxValidityPeriod)), true
}

// receipt is what the service learns from a created message: its SID, and its price when
// Twilio told it in USD. A created message without a SID may have been sent all the same.
func receipt(m openapi.ApiV2010Message) (caddyotp.Receipt, error) {
	if m.Sid == nil || *m.Sid == "" {
		return caddyotp.Receipt{}, &caddyotp.SendError{Code: "MissingSid", MaybeDelivered: true,
			Err: errors.New("twilio created the message but its answer has no sid")}
	}
	r := caddyotp.Receipt{MessageID: *m.Sid}
	r.BilledUSD, r.HasPrice = priceUSD(m.Price, m.PriceUnit)
	return r, nil
}

// priceUSD reads a Message's price, which Twilio writes as a decimal string, negative for
// a charge ("-0.00750"), in price_unit. Only a price in USD counts; null, another currency
// or a price that is no number tells nothing.
func priceUSD(price, unit *string) (float64, bool) {
	if price == nil || unit == nil || !strings.EqualFold(*unit, "USD") {
		return 0, false
	}
	v, err := strconv.ParseFloat(*price, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	return math.Abs(v), true
}
