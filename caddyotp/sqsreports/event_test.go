package sqsreports

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/internal/sqsdouble"
)

// sampleID is the messageId of the sample event.
const sampleID = "862f6cb7-5e7a-4bd1-a7a4-4cbbf1b8e3f5"

// sampleReport is the report the sample event makes.
var sampleReport = caddyotp.Report{
	MessageID:   sampleID,
	Provider:    "eum",
	Status:      caddyotp.ReportDelivered,
	BilledUSD:   0.041, // 0.0398 + 0.0012
	HasPrice:    true,
	Carrier:     "Example Mobile UK",
	Country:     "GB",
	Parts:       1,
	Description: "Message has been accepted by phone",
	Template:    "login",
	At:          time.UnixMilli(1764587402000),
}

func checkReport(t *testing.T, want, got caddyotp.Report) {
	t.Helper()
	if !got.At.Equal(want.At) {
		t.Errorf("expected At %v, got %v", want.At, got.At)
	}
	got.At, want.At = time.Time{}, time.Time{}
	if got != want {
		t.Errorf("expected report %+v, got %+v", want, got)
	}
}

func TestParseSampleBodies(t *testing.T) {
	for _, name := range []string{sqsdouble.SampleEvent, sqsdouble.SampleSNS, sqsdouble.SampleEventBridge} {
		t.Run(name, func(t *testing.T) {
			ev, err := parseBody(sqsdouble.Sample(name))
			if err != nil {
				t.Fatalf("expected an event, got %v", err)
			}
			if !ev.Final || ev.EventType != "TEXT_DELIVERED" {
				t.Errorf("expected a final TEXT_DELIVERED event, got %+v", ev)
			}
			checkReport(t, sampleReport, ev.report())
		})
	}
}

// event is the sample event with changes; a nil value removes the key.
func event(changes map[string]any) map[string]any {
	ev := sqsdouble.SMSEvent()
	for k, v := range changes {
		if v == nil {
			delete(ev, k)
			continue
		}
		ev[k] = v
	}
	return ev
}

func TestEventReports(t *testing.T) {
	tests := []struct {
		name    string
		changes map[string]any
		check   func(t *testing.T, r caddyotp.Report)
	}{
		{"failed", map[string]any{"eventType": "TEXT_CARRIER_UNREACHABLE", "messageStatus": "CARRIER_UNREACHABLE",
			"messageStatusDescription": "The carrier is unreachable"}, func(t *testing.T, r caddyotp.Report) {
			if r.Status != caddyotp.ReportFailed || r.Description != "The carrier is unreachable" {
				t.Errorf("expected failed with the description, got %s %q", r.Status, r.Description)
			}
		}},
		{"FAILED status", map[string]any{"eventType": "TEXT_BLOCKED", "messageStatus": "FAILED"}, func(t *testing.T, r caddyotp.Report) {
			if r.Status != caddyotp.ReportFailed {
				t.Errorf("expected failed, got %s", r.Status)
			}
		}},
		{"successful", map[string]any{"eventType": "TEXT_SUCCESSFUL", "messageStatus": "SUCCESSFUL"}, func(t *testing.T, r caddyotp.Report) {
			if r.Status != caddyotp.ReportDelivered {
				t.Errorf("expected delivered, got %s", r.Status)
			}
		}},
		{"no price", map[string]any{"totalMessagePrice": nil, "totalCarrierFee": nil}, func(t *testing.T, r caddyotp.Report) {
			if r.HasPrice || r.BilledUSD != 0 {
				t.Errorf("expected no price, got %v %v", r.HasPrice, r.BilledUSD)
			}
		}},
		{"null price", map[string]any{"totalMessagePrice": json.RawMessage("null")}, func(t *testing.T, r caddyotp.Report) {
			if r.HasPrice || r.BilledUSD != 0 {
				t.Errorf("expected no price, got %v %v", r.HasPrice, r.BilledUSD)
			}
		}},
		{"price without carrier fee", map[string]any{"totalCarrierFee": nil}, func(t *testing.T, r caddyotp.Report) {
			if !r.HasPrice || r.BilledUSD != 0.0398 {
				t.Errorf("expected billed 0.0398, got %v %v", r.HasPrice, r.BilledUSD)
			}
		}},
		{"numbers in strings", map[string]any{"totalMessagePrice": "0.05", "totalCarrierFee": "0.002", "totalMessageParts": "2",
			"eventTimestamp": "1764587402000"}, func(t *testing.T, r caddyotp.Report) {
			if !r.HasPrice || r.BilledUSD != 0.052 || r.Parts != 2 || !r.At.Equal(time.UnixMilli(1764587402000)) {
				t.Errorf("expected 0.052 USD, 2 parts and the time, got %+v", r)
			}
		}},
		{"free", map[string]any{"totalMessagePrice": 0, "totalCarrierFee": 0}, func(t *testing.T, r caddyotp.Report) {
			if !r.HasPrice || r.BilledUSD != 0 {
				t.Errorf("expected a billed price of 0, got %v %v", r.HasPrice, r.BilledUSD)
			}
		}},
		{"no context, no time", map[string]any{"context": nil, "eventTimestamp": nil}, func(t *testing.T, r caddyotp.Report) {
			if r.Template != "" || !r.At.IsZero() {
				t.Errorf("expected no template and no time, got %q %v", r.Template, r.At)
			}
		}},
		{"context without template", map[string]any{"context": map[string]any{"account": "x"}}, func(t *testing.T, r caddyotp.Report) {
			if r.Template != "" {
				t.Errorf("expected no template, got %q", r.Template)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := parseBody(sqsdouble.RawBody(event(tt.changes)))
			if err != nil {
				t.Fatalf("expected an event, got %v", err)
			}
			r := ev.report()
			if r.MessageID != sampleID || r.Provider != "eum" {
				t.Errorf("expected message %s from eum, got %s from %s", sampleID, r.MessageID, r.Provider)
			}
			tt.check(t, r)
		})
	}
}

func TestEventNotFinal(t *testing.T) {
	for _, changes := range []map[string]any{
		{"eventType": "TEXT_PENDING", "messageStatus": "PENDING", "isFinal": false},
		{"eventType": "TEXT_QUEUED", "messageStatus": "QUEUED", "isFinal": nil},
	} {
		ev, err := parseBody(sqsdouble.SNSBody(event(changes)))
		if err != nil {
			t.Fatalf("expected an event, got %v", err)
		}
		if ev.Final {
			t.Errorf("expected %v not final, got final", changes)
		}
	}
}

func TestParseBadBodies(t *testing.T) {
	snsOther := `{"Type":"SubscriptionConfirmation","TopicArn":"arn:aws:sns:eu-west-2:123456789012:t","Message":"You have chosen to subscribe"}`
	snsNotJSON := `{"Type":"Notification","TopicArn":"arn:aws:sns:eu-west-2:123456789012:t","Message":"hello"}`
	tests := []struct {
		name string
		body string
		want error
	}{
		{"empty", ``, errNotJSON},
		{"text", `delivered`, errNotJSON},
		{"array", `[1,2]`, errNotJSON},
		{"null", `null`, errNotJSON},
		{"other json", `{"hello":"world"}`, errNotSMSEvent},
		{"voice event", sqsdouble.RawBody(event(map[string]any{"eventType": "VOICE_COMPLETED"})), errNotSMSEvent},
		{"no event type", sqsdouble.RawBody(event(map[string]any{"eventType": nil})), errNotSMSEvent},
		{"no message id", sqsdouble.RawBody(event(map[string]any{"messageId": nil})), errNoMessageID},
		{"empty message id", sqsdouble.EventBridgeBody(event(map[string]any{"messageId": ""})), errNoMessageID},
		// the SNS envelope's MessageId is SNS's, never the SMS's
		{"only the envelope's id", sqsdouble.SNSBody(event(map[string]any{"messageId": nil})), errNoMessageID},
		{"MessageId spelt otherwise", sqsdouble.RawBody(event(map[string]any{"messageId": nil, "MessageId": "x"})), errNoMessageID},
		{"sns confirmation", snsOther, errNotSMSEvent},
		{"sns message not json", snsNotJSON, errNotJSON},
		{"eventbridge detail not an object", `{"detail-type":"x","source":"aws.sms-voice","detail":"x"}`, errNotJSON},
		{"price not a number", sqsdouble.RawBody(event(map[string]any{"totalMessagePrice": "cheap"})), errBadField},
		{"price an object", sqsdouble.RawBody(event(map[string]any{"totalMessagePrice": map[string]any{}})), errBadField},
		{"isFinal a string", sqsdouble.RawBody(event(map[string]any{"isFinal": "yes"})), errBadField},
		{"status a number", sqsdouble.RawBody(event(map[string]any{"messageStatus": 3})), errBadField},
		{"context a string", sqsdouble.RawBody(event(map[string]any{"context": "login"})), errBadField},
		{"template a number", sqsdouble.RawBody(event(map[string]any{"context": map[string]any{"template": 1}})), errBadField},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := parseBody(tt.body)
			if !errors.Is(err, tt.want) {
				t.Errorf("expected %v, got %v (%+v)", tt.want, err, ev)
			}
		})
	}
}
