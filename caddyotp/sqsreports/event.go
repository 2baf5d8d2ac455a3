package sqsreports

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/caddyotp/caddyotp/caddyotp"
)

// Why a message body gives no report. Each is logged and the message dropped.
var (
	errNotJSON     = errors.New("not a json object")
	errNotSMSEvent = errors.New("not an sms event")
	errNoMessageID = errors.New("sms event without a message id")
	errBadField    = errors.New("sms event with a bad field")
)

// smsEvent is what the reader uses of one End User Messaging SMS event.
type smsEvent struct {
	MessageID   string
	EventType   string // TEXT_DELIVERED, TEXT_PENDING, …
	Final       bool   // isFinal: no later event will follow for this message
	Status      string // messageStatus: DELIVERED, SUCCESSFUL, FAILED, PENDING, …
	Description string
	Country     string
	Carrier     string
	Parts       int
	Price       float64 // totalMessagePrice, when HasPrice
	CarrierFee  float64 // totalCarrierFee, 0 when absent
	HasPrice    bool
	At          time.Time // eventTimestamp; zero when absent
	Template    string    // context.template, as otp.senders.eum sets it
}

// parseBody reads an SQS message body: the event itself (raw delivery), an SNS
// notification whose Message is the event as a JSON string, or an EventBridge event whose
// detail is the event.
func parseBody(body string) (smsEvent, error) {
	top, err := object([]byte(body))
	if err != nil {
		return smsEvent{}, err
	}
	switch {
	case has(top, "TopicArn") && has(top, "Type"): // SNS
		typ, err := stringField(top, "Type")
		if err != nil {
			return smsEvent{}, err
		}
		if typ != "Notification" {
			return smsEvent{}, fmt.Errorf("%w: an sns %q message", errNotSMSEvent, typ)
		}
		msg, err := stringField(top, "Message")
		if err != nil {
			return smsEvent{}, err
		}
		inner, err := object([]byte(msg))
		if err != nil {
			return smsEvent{}, fmt.Errorf("sns message: %w", err)
		}
		return eventFrom(inner)
	case has(top, "detail") && has(top, "detail-type"): // EventBridge
		detail, err := object(top["detail"])
		if err != nil {
			return smsEvent{}, fmt.Errorf("eventbridge detail: %w", err)
		}
		return eventFrom(detail)
	}
	return eventFrom(top)
}

// eventFrom reads the event's fields. Keys are matched exactly: an envelope's "MessageId"
// is not the event's "messageId".
func eventFrom(f map[string]json.RawMessage) (smsEvent, error) {
	var e smsEvent
	var err error
	if e.EventType, err = stringField(f, "eventType"); err != nil {
		return e, err
	}
	if !strings.HasPrefix(e.EventType, "TEXT_") {
		return e, fmt.Errorf("%w: event type %q", errNotSMSEvent, e.EventType)
	}
	if e.MessageID, err = stringField(f, "messageId"); err != nil {
		return e, err
	}
	if e.MessageID == "" {
		return e, errNoMessageID
	}
	if raw, ok := f["isFinal"]; ok {
		if err := json.Unmarshal(raw, &e.Final); err != nil {
			return e, fmt.Errorf("%w: isFinal is not true or false", errBadField)
		}
	}
	texts := []struct {
		key string
		dst *string
	}{
		{"messageStatus", &e.Status},
		{"messageStatusDescription", &e.Description},
		{"isoCountryCode", &e.Country},
		{"carrierName", &e.Carrier},
	}
	for _, s := range texts {
		if *s.dst, err = stringField(f, s.key); err != nil {
			return e, err
		}
	}
	var parts float64
	if parts, _, err = numberField(f, "totalMessageParts"); err != nil {
		return e, err
	}
	e.Parts = int(parts)
	if e.Price, e.HasPrice, err = numberField(f, "totalMessagePrice"); err != nil {
		return e, err
	}
	if e.CarrierFee, _, err = numberField(f, "totalCarrierFee"); err != nil {
		return e, err
	}
	ms, hasTime, err := numberField(f, "eventTimestamp")
	if err != nil {
		return e, err
	}
	if hasTime {
		e.At = time.UnixMilli(int64(ms))
	}
	if raw, ok := f["context"]; ok && string(raw) != "null" {
		ctx, err := object(raw)
		if err != nil {
			return e, fmt.Errorf("%w: context: %w", errBadField, err)
		}
		if e.Template, err = stringField(ctx, "template"); err != nil {
			return e, err
		}
	}
	return e, nil
}

// report is the final event as a report of provider "eum": DELIVERED and SUCCESSFUL (a
// carrier that sends no delivery receipts accepted it) are delivered, every other final
// status failed. The billed price is the message price plus the carrier fee.
func (e smsEvent) report() caddyotp.Report {
	status := caddyotp.ReportFailed
	if e.Status == "DELIVERED" || e.Status == "SUCCESSFUL" {
		status = caddyotp.ReportDelivered
	}
	var billed float64
	if e.HasPrice {
		// rounded to 1e-10 USD, so that 0.0398 + 0.0012 reads 0.041 in the ledger
		billed = math.Round((e.Price+e.CarrierFee)*1e10) / 1e10
	}
	return caddyotp.Report{
		MessageID:   e.MessageID,
		Provider:    "eum",
		Status:      status,
		BilledUSD:   billed,
		HasPrice:    e.HasPrice,
		Carrier:     e.Carrier,
		Country:     e.Country,
		Parts:       e.Parts,
		Description: e.Description,
		Template:    e.Template,
		At:          e.At,
	}
}

// object decodes a JSON object, keeping its members raw.
func object(b []byte) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		return nil, errNotJSON
	}
	return m, nil
}

func has(m map[string]json.RawMessage, key string) bool {
	_, ok := m[key]
	return ok
}

// stringField is the string member key of m: "" when absent or null.
func stringField(m map[string]json.RawMessage, key string) (string, error) {
	raw, ok := m[key]
	if !ok {
		return "", nil
	}
	var s *string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%w: %s is not a string", errBadField, key)
	}
	if s == nil {
		return "", nil
	}
	return *s, nil
}

// numberField is the number member key of m, and whether it is there (not null). A number
// in a string is read too.
func numberField(m map[string]json.RawMessage, key string) (float64, bool, error) {
	raw, ok := m[key]
	if !ok || string(raw) == "null" {
		return 0, false, nil
	}
	var v float64
	if err := json.Unmarshal(raw, &v); err != nil {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return 0, false, fmt.Errorf("%w: %s is not a number", errBadField, key)
		}
		if v, err = strconv.ParseFloat(s, 64); err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
			return 0, false, fmt.Errorf("%w: %s is not a number", errBadField, key)
		}
	}
	return v, true, nil
}
