package snsdouble

import (
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/internal/awsdouble"
)

// publishForm is a Publish as aws-sdk-go-v2 encodes it.
func publishForm(phone, text string, attrs ...[2]string) url.Values {
	f := url.Values{
		"Action":      {"Publish"},
		"Version":     {"2010-03-31"},
		"PhoneNumber": {phone},
		"Message":     {text},
	}
	for i, a := range attrs {
		p := "MessageAttributes.entry." + string(rune('1'+i)) + "."
		f.Set(p+"Name", a[0])
		f.Set(p+"Value.DataType", "String")
		f.Set(p+"Value.StringValue", a[1])
	}
	return f
}

// post sends form to the double as a signed SDK request would, and returns status and body.
func post(t *testing.T, client *http.Client, d *Double, form url.Values) (int, string, error) {
	t.Helper()
	return awsdouble.Raw{ContentType: "application/x-www-form-urlencoded", Body: form.Encode(),
		Authorization: "AWS4-HMAC-SHA256 Credential=test/20260101/eu-west-2/sns/aws4_request"}.Do(client, d.URL())
}

func mustPost(t *testing.T, d *Double, form url.Values) (int, string) {
	t.Helper()
	status, body, err := post(t, http.DefaultClient, d, form)
	if err != nil {
		t.Fatalf("expected an answer, got %v", err)
	}
	return status, body
}

type xmlError struct {
	Type    string `xml:"Error>Type"`
	Code    string `xml:"Error>Code"`
	Message string `xml:"Error>Message"`
}

func TestDoublePublishRecords(t *testing.T) {
	d := New(t)
	status, body := mustPost(t, d, publishForm("+447400123456", "123456 is your code",
		[2]string{"AWS.SNS.SMS.SMSType", "Transactional"}, [2]string{"AWS.SNS.SMS.SenderID", "ACME"}))
	if status != http.StatusOK {
		t.Fatalf("expected status 200, got %d: %s", status, body)
	}
	var resp struct {
		XMLName   xml.Name `xml:"PublishResponse"`
		MessageID string   `xml:"PublishResult>MessageId"`
		RequestID string   `xml:"ResponseMetadata>RequestId"`
	}
	if err := xml.Unmarshal([]byte(body), &resp); err != nil {
		t.Fatalf("expected a PublishResponse, got %v: %s", err, body)
	}
	if !strings.Contains(body, `xmlns="http://sns.amazonaws.com/doc/2010-03-31/"`) {
		t.Errorf("expected the SNS namespace, got %s", body)
	}
	if resp.RequestID == "" {
		t.Errorf("expected a request id, got none: %s", body)
	}
	got := d.Published()
	if len(got) != 1 {
		t.Fatalf("expected 1 publish, got %d", len(got))
	}
	p := got[0]
	if p.MessageID != resp.MessageID || p.MessageID == "" {
		t.Errorf("expected message id %q recorded, got %q", resp.MessageID, p.MessageID)
	}
	if p.PhoneNumber != "+447400123456" || p.Message != "123456 is your code" {
		t.Errorf("expected +447400123456 / %q, got %s / %q", "123456 is your code", p.PhoneNumber, p.Message)
	}
	want := map[string]string{"AWS.SNS.SMS.SMSType": "Transactional", "AWS.SNS.SMS.SenderID": "ACME"}
	if len(p.Attributes) != len(want) {
		t.Errorf("expected attributes %v, got %v", want, p.Attributes)
	}
	for k, v := range want {
		if p.Attributes[k] != v {
			t.Errorf("expected %s=%q, got %q", k, v, p.Attributes[k])
		}
	}
	if p.Time.IsZero() || time.Since(p.Time) > time.Minute {
		t.Errorf("expected a recent time, got %v", p.Time)
	}
	if d.Count() != 1 || d.Attempts() != 1 {
		t.Errorf("expected count 1 and attempts 1, got %d and %d", d.Count(), d.Attempts())
	}

	// Published hands out copies
	got[0].Attributes["AWS.SNS.SMS.SMSType"] = "Promotional"
	if d.Published()[0].Attributes["AWS.SNS.SMS.SMSType"] != "Transactional" {
		t.Error("expected Published to return a copy, got the double's own map")
	}
}

func TestDoubleRefusesWhatSNSRefuses(t *testing.T) {
	d := New(t)
	unsigned := func() (int, string) {
		resp, err := http.PostForm(d.URL()+"/", publishForm("+447400123456", "hi"))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	get := func() (int, string) {
		resp, err := http.Get(d.URL() + "/?Action=Publish")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	form := func(f url.Values) func() (int, string) {
		return func() (int, string) { return mustPost(t, d, f) }
	}
	listTopics := url.Values{"Action": {"ListTopics"}}
	badType := publishForm("+447400123456", "hi")
	badType.Set("MessageAttributes.entry.1.Name", "AWS.SNS.SMS.SMSType")
	badType.Set("MessageAttributes.entry.1.Value.DataType", "Binary")

	tests := []struct {
		name   string
		do     func() (int, string)
		status int
		code   string
	}{
		{"unsigned", unsigned, 403, "MissingAuthenticationToken"},
		{"get", get, 400, "InvalidAction"},
		{"other action", form(listTopics), 400, "InvalidAction"},
		{"no phone", form(publishForm("", "hi")), 400, "InvalidParameter"},
		{"not e164", form(publishForm("447400123456", "hi")), 400, "InvalidParameter"},
		{"too long", form(publishForm("+1234567890123456", "hi")), 400, "InvalidParameter"},
		{"empty message", form(publishForm("+447400123456", "")), 400, "InvalidParameter"},
		{"bad attribute type", form(badType), 400, "ParameterValueInvalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := tt.do()
			if status != tt.status {
				t.Errorf("expected status %d, got %d", tt.status, status)
			}
			var e xmlError
			if err := xml.Unmarshal([]byte(body), &e); err != nil || e.Code != tt.code {
				t.Errorf("expected code %s, got %q (%v): %s", tt.code, e.Code, err, body)
			}
		})
	}
	if d.Count() != 0 {
		t.Errorf("expected nothing recorded, got %d", d.Count())
	}
}

func TestDoubleErrorFaults(t *testing.T) {
	tests := []struct {
		fault  Fault
		status int
		typ    string
	}{
		{Throttled, 429, "Sender"},
		{ThrottlingException, 400, "Sender"},
		{InternalError, 500, "Receiver"},
		{InvalidParameter, 400, "Sender"},
		{ErrorFault("ServiceUnavailable", 503, "busy"), 503, "Receiver"},
	}
	for _, tt := range tests {
		t.Run(tt.fault.Code, func(t *testing.T) {
			d := New(t)
			d.FailNext(1, tt.fault)
			status, body := mustPost(t, d, publishForm("+447400123456", "hi"))
			if status != tt.status {
				t.Errorf("expected status %d, got %d", tt.status, status)
			}
			var e xmlError
			if err := xml.Unmarshal([]byte(body), &e); err != nil {
				t.Fatalf("expected an ErrorResponse, got %v: %s", err, body)
			}
			if e.Code != tt.fault.Code || e.Type != tt.typ || e.Message != tt.fault.Message {
				t.Errorf("expected %s/%s/%q, got %s/%s/%q", tt.typ, tt.fault.Code, tt.fault.Message, e.Type, e.Code, e.Message)
			}
			if d.Count() != 0 {
				t.Errorf("expected a refused publish not recorded, got %d", d.Count())
			}
			// FailNext(1) is spent: the next one goes through
			if status, body := mustPost(t, d, publishForm("+447400123456", "hi")); status != 200 {
				t.Errorf("expected status 200 after the fault, got %d: %s", status, body)
			}
			if d.Count() != 1 || d.Attempts() != 2 {
				t.Errorf("expected count 1 and attempts 2, got %d and %d", d.Count(), d.Attempts())
			}
		})
	}
}

func TestDoubleLoseReply(t *testing.T) {
	d := New(t)
	d.FailNext(1, LoseReply)
	_, _, err := post(t, &http.Client{Timeout: 5 * time.Second}, d, publishForm("+447400123456", "lost"))
	if err == nil {
		t.Fatal("expected the connection to drop, got an answer")
	}
	got := d.Published()
	if len(got) != 1 || got[0].Message != "lost" {
		t.Fatalf("expected the publish recorded as delivered, got %+v", got)
	}
	if d.Attempts() != 1 {
		t.Errorf("expected 1 attempt (no transport retry of a POST), got %d", d.Attempts())
	}
}

func TestDoubleControlPaths(t *testing.T) {
	d := New(t)
	if s := awsdouble.PostControl(t, d.URL(), "/_fault", `{"kind":"error","code":"Throttled","status":429,"count":1}`); s != 200 {
		t.Fatalf("expected status 200 setting a fault, got %d", s)
	}
	status, body := mustPost(t, d, publishForm("+447400123456", "a"))
	var e xmlError
	if err := xml.Unmarshal([]byte(body), &e); status != 429 || err != nil || e.Code != "Throttled" || e.Message != "Rate exceeded" {
		t.Errorf("expected 429 Throttled: Rate exceeded, got %d %s: %q (%v)", status, e.Code, e.Message, err)
	}
	if status, _ := mustPost(t, d, publishForm("+447400123456", "b")); status != 200 {
		t.Errorf("expected 200 once the counted fault is spent, got %d", status)
	}
	for _, bad := range []string{`{"kind":"explode"}`, `{"kind":"status","status":502}`, `{"kind":"error","code":"X"}`, `{"kind":"error","status":400}`} {
		if s := awsdouble.PostControl(t, d.URL(), "/_fault", bad); s != 400 {
			t.Errorf("expected status 400 for %s, got %d", bad, s)
		}
	}

	var got struct {
		Count     int       `json:"count"`
		Attempts  int       `json:"attempts"`
		Published []Publish `json:"published"`
	}
	awsdouble.GetControl(t, d.URL(), "/_published", &got)
	if got.Count != 1 || got.Attempts != 2 || len(got.Published) != 1 || got.Published[0].Message != "b" {
		t.Errorf("expected 1 publish (b) of 2 attempts, got %+v", got)
	}
	if s := awsdouble.PostControl(t, d.URL(), "/_reset", ``); s != 200 || d.Count() != 0 || d.Attempts() != 0 {
		t.Errorf("expected a reset to forget the publishes and attempts, got status %d, %d and %d", s, d.Count(), d.Attempts())
	}
}
