package eumsender

import (
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sms "github.com/aws/aws-sdk-go-v2/service/pinpointsmsvoicev2"
	"github.com/aws/aws-sdk-go-v2/service/pinpointsmsvoicev2/types"

	"github.com/caddyotp/caddyotp/caddyotp"
)

// The TimeToLive bounds of SendTextMessage, in seconds.
const (
	minTimeToLive = 5
	maxTimeToLive = 72 * 60 * 60
)

// maxPriceDecimals is how many decimals SendTextMessage's MaxPrice may have
// (pattern [0-9]{0,2}\.[0-9]{1,5}).
const maxPriceDecimals = 5

// sendTextMessageInput is the SendTextMessage request for msg: optional members are left
// out when neither msg nor the configuration sets them.
func (s *EUMSender) sendTextMessageInput(msg caddyotp.SMS) *sms.SendTextMessageInput {
	in := &sms.SendTextMessageInput{
		DestinationPhoneNumber: aws.String(msg.To),
		MessageBody:            aws.String(msg.Text),
		MessageType:            types.MessageTypeTransactional,
		TimeToLive:             timeToLive(msg.TTL),
	}
	switch {
	case msg.OriginationNumber != "":
		in.OriginationIdentity = aws.String(msg.OriginationNumber)
	case msg.SenderID != "":
		in.OriginationIdentity = aws.String(msg.SenderID)
	}
	if msg.MaxPriceUSD > 0 {
		in.MaxPrice = aws.String(formatMaxPrice(msg.MaxPriceUSD))
	}
	if s.ConfigurationSet != "" {
		in.ConfigurationSetName = aws.String(s.ConfigurationSet)
	}
	if s.ProtectConfiguration != "" {
		in.ProtectConfigurationId = aws.String(s.ProtectConfiguration)
	}
	if s.FeedbackEnabled {
		in.MessageFeedbackEnabled = aws.Bool(true)
	}
	if msg.Template != "" {
		in.Context = map[string]string{"template": msg.Template}
	}
	return in
}

// timeToLive is a code's lifetime as SendTextMessage's TimeToLive: whole seconds (an SMS
// must not arrive after its code expired), within AWS's bounds of 5 seconds to 72 hours;
// nil when ttl is not set, which leaves AWS's default.
func timeToLive(ttl time.Duration) *int32 {
	if ttl <= 0 {
		return nil
	}
	secs := int64(ttl / time.Second)
	secs = max(secs, minTimeToLive)
	secs = min(secs, maxTimeToLive)
	return aws.Int32(int32(secs))
}

// formatMaxPrice writes a USD price as SendTextMessage's MaxPrice, a string of two to five
// decimals: 0.1 → "0.10", 0.0463 → "0.0463", 1 → "1.00". Digits past the fifth decimal
// are cut off, never rounded up, so that the cap sent is never above the one configured.
func formatMaxPrice(p float64) string {
	s := strconv.FormatFloat(p, 'f', -1, 64)
	dot := strings.IndexByte(s, '.')
	if dot < 0 {
		return s + ".00"
	}
	switch decimals := len(s) - dot - 1; {
	case decimals < 2:
		return s + "0"
	case decimals > maxPriceDecimals:
		return s[:dot+1+maxPriceDecimals]
	}
	return s
}
