package logsreports

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/internal/phone"
)

// deliveryLog is the message of one SNS SMS delivery-status log event, as the SNS
// Developer Guide shows it ("Viewing Amazon CloudWatch metrics and logs for SMS
// deliveries"); only the fields a report uses.
type deliveryLog struct {
	Notification struct {
		MessageID string `json:"messageId"`
		Timestamp string `json:"timestamp"` // "2016-06-28 00:40:34.558", UTC
	} `json:"notification"`
	Delivery struct {
		PriceInUSD           *float64 `json:"priceInUSD"`
		PhoneCarrier         string   `json:"phoneCarrier"`
		NumberOfMessageParts int      `json:"numberOfMessageParts"`
		ProviderResponse     string   `json:"providerResponse"`
		Destination          string   `json:"destination"`
	} `json:"delivery"`
	Status string `json:"status"`
}

// notificationTime is the layout of notification.timestamp.
const notificationTime = "2006-01-02 15:04:05.999"

// The delivery-log statuses and the report statuses they give.
var logStatuses = map[string]string{
	"SUCCESS": caddyotp.ReportDelivered,
	"FAILURE": caddyotp.ReportFailed,
}

// errNoMessageID: a delivery log that names no message cannot be applied to anything.
var errNoMessageID = errors.New("delivery log without notification.messageId")

// parseDeliveryLog reads one log event's message, logged at eventMillis, as a report. final
// is false for a status that is not a final report (the event is ignored); an error means
// the message is not a delivery log (not JSON, or no message id).
func parseDeliveryLog(message string, eventMillis int64) (r caddyotp.Report, final bool, err error) {
	var l deliveryLog
	if err := json.Unmarshal([]byte(message), &l); err != nil {
		return caddyotp.Report{}, false, fmt.Errorf("delivery log is not JSON: %w", err)
	}
	if l.Notification.MessageID == "" {
		return caddyotp.Report{}, false, errNoMessageID
	}
	status, final := logStatuses[l.Status]
	r = caddyotp.Report{
		MessageID:   l.Notification.MessageID,
		Provider:    "sns",
		Status:      status,
		Carrier:     l.Delivery.PhoneCarrier,
		Parts:       l.Delivery.NumberOfMessageParts,
		Description: l.Delivery.ProviderResponse,
		At:          reportTime(eventMillis, l.Notification.Timestamp),
	}
	if p := l.Delivery.PriceInUSD; p != nil {
		r.BilledUSD, r.HasPrice = *p, true
	}
	if n, err := phone.ParseAny(l.Delivery.Destination); err == nil {
		r.Country = n.Country
	}
	return r, final, nil
}

// reportTime is when the report was logged: the event's timestamp, else the notification's,
// else zero (the app then uses the time it applies the report).
func reportTime(eventMillis int64, notification string) time.Time {
	if eventMillis > 0 {
		return time.UnixMilli(eventMillis).UTC()
	}
	if t, err := time.Parse(notificationTime, notification); err == nil {
		return t
	}
	return time.Time{}
}
