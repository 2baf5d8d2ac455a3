package sqsdouble

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
)

// samples are the message bodies of testdata/ (see its README for their sources).
//
//go:embed testdata/*.json
var samples embed.FS

// Sample names.
const (
	SampleEvent       = "eum-sms-event.json"
	SampleSNS         = "sns-notification.json"
	SampleEventBridge = "eventbridge-event.json"
)

// Sample is the body of the sample named name, as the file has it.
func Sample(name string) string {
	b, err := samples.ReadFile("testdata/" + name)
	if err != nil {
		panic(fmt.Sprintf("sqsdouble: no sample %q", name))
	}
	return string(b)
}

// SMSEvent is the sample End User Messaging SMS event, decoded (numbers as json.Number),
// for a test to change before it makes a body of it.
func SMSEvent() map[string]any {
	return decode(Sample(SampleEvent))
}

// RawBody is event as the body of a raw delivery.
func RawBody(event map[string]any) string {
	return encode(event)
}

// SNSBody is event wrapped in the sample SNS notification: its Message is the event as a
// JSON string.
func SNSBody(event map[string]any) string {
	n := decode(Sample(SampleSNS))
	n["Message"] = encode(event)
	return encode(n)
}

// EventBridgeBody is event wrapped in the sample EventBridge envelope, as its detail.
func EventBridgeBody(event map[string]any) string {
	e := decode(Sample(SampleEventBridge))
	e["detail"] = event
	return encode(e)
}

func decode(s string) map[string]any {
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		panic(fmt.Sprintf("sqsdouble: decoding a sample: %v", err))
	}
	return m
}

func encode(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("sqsdouble: encoding a body: %v", err))
	}
	return string(b)
}
