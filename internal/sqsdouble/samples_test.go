package sqsdouble

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestSamplesWrapTheEvent(t *testing.T) {
	event := SMSEvent()
	if event["messageId"] == "" || event["eventType"] != "TEXT_DELIVERED" || event["isFinal"] != true {
		t.Fatalf("expected the sample SMS event, got %v", event)
	}
	event["messageId"] = "changed"

	var sns map[string]any
	if err := json.Unmarshal([]byte(SNSBody(event)), &sns); err != nil {
		t.Fatal(err)
	}
	if sns["Type"] != "Notification" {
		t.Errorf("expected an SNS notification, got %v", sns["Type"])
	}
	msg, ok := sns["Message"].(string)
	if !ok {
		t.Fatalf("expected Message to be a JSON string, got %T", sns["Message"])
	}
	var inner map[string]any
	if err := json.Unmarshal([]byte(msg), &inner); err != nil || inner["messageId"] != "changed" {
		t.Errorf("expected the changed event in Message, got %v (%v)", inner, err)
	}

	var eb map[string]any
	if err := json.Unmarshal([]byte(EventBridgeBody(event)), &eb); err != nil {
		t.Fatal(err)
	}
	detail, ok := eb["detail"].(map[string]any)
	if !ok || detail["messageId"] != "changed" || eb["detail-type"] == nil {
		t.Errorf("expected the changed event as detail of an EventBridge event, got %v", eb)
	}

	var raw map[string]any
	if err := json.Unmarshal([]byte(RawBody(event)), &raw); err != nil || raw["messageId"] != "changed" {
		t.Errorf("expected the changed event as the raw body, got %v (%v)", raw, err)
	}
	if !reflect.DeepEqual(raw, inner) || !reflect.DeepEqual(raw, detail) {
		t.Errorf("expected the same event in every wrapping, got %v, %v and %v", raw, inner, detail)
	}
	// the samples themselves are untouched
	if SMSEvent()["messageId"] == "changed" {
		t.Error("expected SMSEvent to return a fresh copy, got the changed one")
	}
}

func TestSampleFilesAreTheSameEvent(t *testing.T) {
	var event, eb map[string]any
	var sns map[string]string
	for name, dst := range map[string]any{SampleEvent: &event, SampleSNS: &sns, SampleEventBridge: &eb} {
		if err := json.Unmarshal([]byte(Sample(name)), dst); err != nil {
			t.Fatalf("%s: expected JSON, got %v", name, err)
		}
	}
	var inner map[string]any
	if err := json.Unmarshal([]byte(sns["Message"]), &inner); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(event, inner) || !reflect.DeepEqual(event, eb["detail"]) {
		t.Error("expected the three sample files to carry the same event, they differ")
	}
}
