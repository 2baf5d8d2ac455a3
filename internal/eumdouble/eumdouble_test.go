package eumdouble

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sms "github.com/aws/aws-sdk-go-v2/service/pinpointsmsvoicev2"
	"github.com/aws/aws-sdk-go-v2/service/pinpointsmsvoicev2/types"
	"github.com/aws/smithy-go"

	"github.com/caddyotp/caddyotp/internal/awsdouble"
)

// sdkClient is the real End User Messaging SMS client, pointed at d, one attempt per call.
func sdkClient(t *testing.T, d *Double) *sms.Client {
	t.Helper()
	return sms.New(sms.Options{
		Region:       "eu-west-2",
		BaseEndpoint: aws.String(d.URL()),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		Retryer:      aws.NopRetryer{},
		HTTPClient:   &http.Client{Timeout: 5 * time.Second},
	})
}

// signed is a request as a signed SDK request is, with target PinpointSMSVoiceV2.<op>.
func signed(op, body string) awsdouble.Raw {
	return awsdouble.Raw{Target: "PinpointSMSVoiceV2." + op, ContentType: awsdouble.JSON10, Body: body,
		Authorization: "AWS4-HMAC-SHA256 Credential=test/20260101/eu-west-2/sms-voice/aws4_request, SignedHeaders=host, Signature=00"}
}

// mustPost sends body to the double as a signed SDK request would, changed by edit if not
// nil, and returns status and body.
func mustPost(t *testing.T, d *Double, op, body string, edit func(*awsdouble.Raw)) (int, string) {
	t.Helper()
	r := signed(op, body)
	if edit != nil {
		edit(&r)
	}
	status, b, err := r.Do(http.DefaultClient, d.URL())
	if err != nil {
		t.Fatalf("expected an answer, got %v", err)
	}
	return status, b
}

// errorType is the error name of a JSON error answer, without a namespace.
func errorType(t *testing.T, body string) string {
	t.Helper()
	var e struct {
		Type string `json:"__type"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("expected a JSON error document, got %v: %s", err, body)
	}
	_, name, _ := strings.Cut(e.Type, "#")
	if name == "" {
		name = e.Type
	}
	return name
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func TestDoubleSendTextMessageThroughSDK(t *testing.T) {
	d := New(t)
	c := sdkClient(t, d)
	out, err := c.SendTextMessage(context.Background(), &sms.SendTextMessageInput{
		DestinationPhoneNumber: aws.String("+447400123456"),
		MessageBody:            aws.String("123456 is your code"),
		MessageType:            types.MessageTypeTransactional,
		OriginationIdentity:    aws.String("ACME"),
		MaxPrice:               aws.String("0.0463"),
		TimeToLive:             aws.Int32(300),
		ConfigurationSetName:   aws.String("otp"),
		ProtectConfigurationId: aws.String("pc-0123abcd"),
		MessageFeedbackEnabled: aws.Bool(true),
		Context:                map[string]string{"template": "login"},
	})
	if err != nil {
		t.Fatalf("expected a message id, got %v", err)
	}
	got := d.Messages()
	if len(got) != 1 {
		t.Fatalf("expected 1 message, got %d", len(got))
	}
	m := got[0]
	if m.MessageID == "" || m.MessageID != aws.ToString(out.MessageId) {
		t.Errorf("expected message id %q recorded, got %q", aws.ToString(out.MessageId), m.MessageID)
	}
	want := Message{
		MessageID: m.MessageID, Time: m.Time,
		DestinationPhoneNumber: "+447400123456", MessageBody: "123456 is your code", MessageType: "TRANSACTIONAL",
		OriginationIdentity: "ACME", MaxPrice: "0.0463", TimeToLive: 300, ConfigurationSetName: "otp",
		ProtectConfigurationID: "pc-0123abcd", MessageFeedbackEnabled: true, Context: map[string]string{"template": "login"},
		Members: []string{"ConfigurationSetName", "Context", "DestinationPhoneNumber", "MaxPrice", "MessageBody",
			"MessageFeedbackEnabled", "MessageType", "OriginationIdentity", "ProtectConfigurationId", "TimeToLive"},
	}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("expected %+v, got %+v", want, m)
	}
	if m.Time.IsZero() || time.Since(m.Time) > time.Minute {
		t.Errorf("expected a recent time, got %v", m.Time)
	}

	// the members left out are not there
	if _, err := c.SendTextMessage(context.Background(), &sms.SendTextMessageInput{
		DestinationPhoneNumber: aws.String("+12025550123"), MessageBody: aws.String("hi"),
	}); err != nil {
		t.Fatalf("expected a message id, got %v", err)
	}
	if got := d.Messages()[1].Members; !reflect.DeepEqual(got, []string{"DestinationPhoneNumber", "MessageBody"}) {
		t.Errorf("expected only DestinationPhoneNumber and MessageBody, got %v", got)
	}

	// Messages hands out copies
	got[0].Context["template"] = "changed"
	if d.Messages()[0].Context["template"] != "login" {
		t.Error("expected Messages to return a copy, got the double's own map")
	}
	if d.Count() != 2 || d.Attempts() != 2 {
		t.Errorf("expected count 2 and attempts 2, got %d and %d", d.Count(), d.Attempts())
	}
}

func TestDoubleTestdataSamples(t *testing.T) {
	d := New(t)
	reqBody := readTestdata(t, "send-text-message.request.json")
	status, body := mustPost(t, d, "SendTextMessage", string(reqBody), nil)
	if status != http.StatusOK {
		t.Fatalf("expected status 200 for the sample request, got %d: %s", status, body)
	}

	// the answer has the sample response's members
	var sample, answer map[string]any
	if err := json.Unmarshal(readTestdata(t, "send-text-message.response.json"), &sample); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(body), &answer); err != nil {
		t.Fatalf("expected a JSON answer, got %v: %s", err, body)
	}
	if !reflect.DeepEqual(sortedKeys(answer), sortedKeys(sample)) {
		t.Errorf("expected members %v, got %v", sortedKeys(sample), sortedKeys(answer))
	}

	// every member of the sample request was read
	var req map[string]json.RawMessage
	if err := json.Unmarshal(reqBody, &req); err != nil {
		t.Fatal(err)
	}
	m := d.Messages()[0]
	if !reflect.DeepEqual(m.Members, sortedKeys(req)) {
		t.Errorf("expected members %v recorded, got %v", sortedKeys(req), m.Members)
	}
	if m.DestinationPhoneNumber != "+447400123456" || m.MaxPrice != "0.10" || m.TimeToLive != 300 ||
		!m.MessageFeedbackEnabled || m.Context["template"] != "login" || m.ProtectConfigurationID != "pc-0123abcd" {
		t.Errorf("expected the sample's values recorded, got %+v", m)
	}

	// the double's validation error has the sample's shape, and the SDK reads the sample
	bad := strings.Replace(string(reqBody), `"+447400123456"`, `"447400123456x"`, 1)
	status, body = mustPost(t, d, "SendTextMessage", bad, nil)
	var errSample, errAnswer map[string]any
	if err := json.Unmarshal(readTestdata(t, "validation-exception.json"), &errSample); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(body), &errAnswer); status != 400 || err != nil {
		t.Fatalf("expected a 400 JSON error, got %d (%v): %s", status, err, body)
	}
	if !reflect.DeepEqual(errAnswer, errSample) {
		t.Errorf("expected the sample error\n%v\ngot\n%v", errSample, errAnswer)
	}
}

func TestDoubleSDKReadsErrorSample(t *testing.T) {
	sample := readTestdata(t, "validation-exception.json")
	srv, err := awsdouble.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", awsdouble.JSON10)
		w.WriteHeader(http.StatusBadRequest)
		w.Write(sample) //nolint:errcheck
	}))
	t.Cleanup(srv.Close)

	c := sms.New(sms.Options{
		Region: "eu-west-2", BaseEndpoint: aws.String(srv.URL()),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""), Retryer: aws.NopRetryer{},
	})
	_, err = c.SendTextMessage(context.Background(), &sms.SendTextMessageInput{
		DestinationPhoneNumber: aws.String("447400123456x"), MessageBody: aws.String("hi"),
	})
	var ve *types.ValidationException
	if !errors.As(err, &ve) {
		t.Fatalf("expected a ValidationException, got %T: %v", err, err)
	}
	if ve.Reason != types.ValidationExceptionReasonFieldValidationFailed || len(ve.Fields) != 1 ||
		aws.ToString(ve.Fields[0].Name) != "destinationPhoneNumber" || !strings.Contains(ve.ErrorMessage(), "destinationPhoneNumber") {
		t.Errorf("expected reason, field and message read from the sample, got %+v", ve)
	}
}

func TestDoubleRefusesWhatAWSRefuses(t *testing.T) {
	d := New(t)
	good := `{"DestinationPhoneNumber":"+447400123456","MessageBody":"hi"}`
	with := func(member, value string) string {
		return strings.Replace(good, `}`, `,"`+member+`":`+value+`}`, 1)
	}
	auth := func(v string) func(*awsdouble.Raw) { return func(r *awsdouble.Raw) { r.Authorization = v } }
	target := func(v string) func(*awsdouble.Raw) { return func(r *awsdouble.Raw) { r.Target = v } }
	tests := []struct {
		name   string
		op     string
		body   string
		edit   func(*awsdouble.Raw)
		status int
		code   string
	}{
		{"unsigned", "SendTextMessage", good, auth(""), 403, "MissingAuthenticationTokenException"},
		{"signed for another service", "SendTextMessage", good,
			auth("AWS4-HMAC-SHA256 Credential=test/20260101/eu-west-2/sns/aws4_request"), 403, "InvalidSignatureException"},
		{"get", "SendTextMessage", good, func(r *awsdouble.Raw) { r.Method = http.MethodGet }, 400, "UnknownOperationException"},
		{"unknown operation", "SendVoiceMessage", good, nil, 400, "UnknownOperationException"},
		{"another service's target", "", good, target("AmazonSQS.SendMessage"), 400, "UnknownOperationException"},
		{"no target", "", good, target(""), 400, "UnknownOperationException"},
		{"form content type", "SendTextMessage", good, func(r *awsdouble.Raw) { r.ContentType = "application/x-www-form-urlencoded" }, 400, "UnknownOperationException"},
		{"not json", "SendTextMessage", "Action=Publish", nil, 400, "SerializationException"},
		{"member of the wrong type", "SendTextMessage", with("TimeToLive", `"300"`), nil, 400, "SerializationException"},
		{"no phone", "SendTextMessage", `{"MessageBody":"hi"}`, nil, 400, "ValidationException"},
		{"phone with letters", "SendTextMessage", `{"DestinationPhoneNumber":"+4474001234x","MessageBody":"hi"}`, nil, 400, "ValidationException"},
		{"phone too long", "SendTextMessage", `{"DestinationPhoneNumber":"+12345678901234567890","MessageBody":"hi"}`, nil, 400, "ValidationException"},
		{"no body", "SendTextMessage", `{"DestinationPhoneNumber":"+447400123456"}`, nil, 400, "ValidationException"},
		{"empty body", "SendTextMessage", `{"DestinationPhoneNumber":"+447400123456","MessageBody":""}`, nil, 400, "ValidationException"},
		{"body too long", "SendTextMessage", `{"DestinationPhoneNumber":"+447400123456","MessageBody":"` + strings.Repeat("x", 1601) + `"}`, nil, 400, "ValidationException"},
		{"unknown message type", "SendTextMessage", with("MessageType", `"Transactional"`), nil, 400, "ValidationException"},
		{"max price with six decimals", "SendTextMessage", with("MaxPrice", `"0.123456"`), nil, 400, "ValidationException"},
		{"max price of three digits", "SendTextMessage", with("MaxPrice", `"100.00"`), nil, 400, "ValidationException"},
		{"max price without a dot", "SendTextMessage", with("MaxPrice", `"1"`), nil, 400, "ValidationException"},
		{"ttl below 5", "SendTextMessage", with("TimeToLive", `4`), nil, 400, "ValidationException"},
		{"ttl above 72h", "SendTextMessage", with("TimeToLive", `259201`), nil, 400, "ValidationException"},
		{"configuration set with a space", "SendTextMessage", with("ConfigurationSetName", `"my set"`), nil, 400, "ValidationException"},
		{"empty protect configuration", "SendTextMessage", with("ProtectConfigurationId", `""`), nil, 400, "ValidationException"},
		{"origination identity with a space", "SendTextMessage", with("OriginationIdentity", `"AC ME"`), nil, 400, "ValidationException"},
		{"six context pairs", "SendTextMessage", with("Context", `{"a":"1","b":"2","c":"3","d":"4","e":"5","f":"6"}`), nil, 400, "ValidationException"},
		{"context key with a space", "SendTextMessage", with("Context", `{"a b":"1"}`), nil, 400, "ValidationException"},
		{"empty context value", "SendTextMessage", with("Context", `{"template":""}`), nil, 400, "ValidationException"},
		{"feedback for an unknown message", "PutMessageFeedback", `{"MessageId":"nope","MessageFeedbackStatus":"RECEIVED"}`, nil, 400, "ResourceNotFoundException"},
		{"feedback without a message id", "PutMessageFeedback", `{"MessageFeedbackStatus":"RECEIVED"}`, nil, 400, "ValidationException"},
		{"feedback of an unknown status", "PutMessageFeedback", `{"MessageId":"x","MessageFeedbackStatus":"READ"}`, nil, 400, "ValidationException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := mustPost(t, d, tt.op, tt.body, tt.edit)
			if status != tt.status {
				t.Errorf("expected status %d, got %d: %s", tt.status, status, body)
			}
			if code := errorType(t, body); code != tt.code {
				t.Errorf("expected %s, got %s: %s", tt.code, code, body)
			}
		})
	}
	if d.Count() != 0 || len(d.Feedback()) != 0 {
		t.Errorf("expected nothing recorded, got %d messages and %d feedback", d.Count(), len(d.Feedback()))
	}

	// the edges that AWS accepts
	for _, body := range []string{
		with("MaxPrice", `"10.00"`), with("MaxPrice", `".5"`), with("MaxPrice", `"0.00001"`),
		with("TimeToLive", `5`), with("TimeToLive", `259200`),
		with("ConfigurationSetName", `"arn:aws:sms-voice:eu-west-2:123456789012:configuration-set/otp"`),
		with("Context", `{"a":"1","b":"2","c":"3","d":"4","e":"5"}`),
		`{"DestinationPhoneNumber":"+447400123456","MessageBody":"` + strings.Repeat("x", 1600) + `"}`,
	} {
		if status, answer := mustPost(t, d, "SendTextMessage", body, nil); status != 200 {
			t.Errorf("expected status 200 for %.120s, got %d: %s", body, status, answer)
		}
	}
}

func TestDoubleErrorFaultsThroughSDK(t *testing.T) {
	tests := []struct {
		fault  Fault
		status int
		target any
	}{
		{Validation, 400, new(*types.ValidationException)},
		{Throttling, 400, new(*types.ThrottlingException)},
		{InternalServer, 500, new(*types.InternalServerException)},
		{AccessDenied, 400, new(*types.AccessDeniedException)},
		{ServiceQuotaExceeded, 400, new(*types.ServiceQuotaExceededException)},
		{ErrorFault("ServiceUnavailable", 503, "busy"), 503, new(*smithy.GenericAPIError)},
	}
	for _, tt := range tests {
		t.Run(tt.fault.Code, func(t *testing.T) {
			d := New(t)
			c := sdkClient(t, d)
			d.FailNext(1, tt.fault)
			_, err := c.SendTextMessage(context.Background(), &sms.SendTextMessageInput{
				DestinationPhoneNumber: aws.String("+447400123456"), MessageBody: aws.String("hi"),
			})
			if !errors.As(err, tt.target) {
				t.Fatalf("expected %T, got %T: %v", tt.target, err, err)
			}
			var api smithy.APIError
			if !errors.As(err, &api) || api.ErrorCode() != tt.fault.Code || api.ErrorMessage() != tt.fault.Message {
				t.Errorf("expected %s: %q, got %v", tt.fault.Code, tt.fault.Message, err)
			}
			var re *awshttp.ResponseError
			if !errors.As(err, &re) || re.HTTPStatusCode() != tt.status {
				t.Errorf("expected status %d, got %v", tt.status, err)
			}
			if d.Count() != 0 {
				t.Errorf("expected a refused message not recorded, got %d", d.Count())
			}
			// FailNext(1) is spent: the next one goes through
			if _, err := c.SendTextMessage(context.Background(), &sms.SendTextMessageInput{
				DestinationPhoneNumber: aws.String("+447400123456"), MessageBody: aws.String("hi"),
			}); err != nil {
				t.Errorf("expected a send after the fault, got %v", err)
			}
			if d.Count() != 1 || d.Attempts() != 2 {
				t.Errorf("expected count 1 and attempts 2, got %d and %d", d.Count(), d.Attempts())
			}
		})
	}

	t.Run("validation reason", func(t *testing.T) {
		d := New(t)
		d.FailNext(1, Validation)
		_, err := sdkClient(t, d).SendTextMessage(context.Background(), &sms.SendTextMessageInput{
			DestinationPhoneNumber: aws.String("+447400123456"), MessageBody: aws.String("hi"),
		})
		var ve *types.ValidationException
		if !errors.As(err, &ve) || ve.Reason != types.ValidationExceptionReasonInvalidParameter {
			t.Errorf("expected reason INVALID_PARAMETER, got %v", err)
		}
	})
	t.Run("bare 502", func(t *testing.T) {
		d := New(t)
		d.FailNext(1, BadGateway)
		_, err := sdkClient(t, d).SendTextMessage(context.Background(), &sms.SendTextMessageInput{
			DestinationPhoneNumber: aws.String("+447400123456"), MessageBody: aws.String("hi"),
		})
		var api smithy.APIError
		if errors.As(err, &api) {
			t.Errorf("expected no AWS error document, got %v", api)
		}
		var re *awshttp.ResponseError
		if !errors.As(err, &re) || re.HTTPStatusCode() != 502 {
			t.Errorf("expected status 502, got %v", err)
		}
	})
}

func TestDoublePutMessageFeedback(t *testing.T) {
	d := New(t)
	c := sdkClient(t, d)
	sent, err := c.SendTextMessage(context.Background(), &sms.SendTextMessageInput{
		DestinationPhoneNumber: aws.String("+447400123456"), MessageBody: aws.String("hi"), MessageFeedbackEnabled: aws.Bool(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.PutMessageFeedback(context.Background(), &sms.PutMessageFeedbackInput{
		MessageId: sent.MessageId, MessageFeedbackStatus: types.MessageFeedbackStatusReceived,
	})
	if err != nil {
		t.Fatalf("expected feedback accepted, got %v", err)
	}
	if aws.ToString(out.MessageId) != aws.ToString(sent.MessageId) || out.MessageFeedbackStatus != types.MessageFeedbackStatusReceived {
		t.Errorf("expected %s RECEIVED, got %s %s", aws.ToString(sent.MessageId), aws.ToString(out.MessageId), out.MessageFeedbackStatus)
	}
	fb := d.Feedback()
	if len(fb) != 1 || fb[0].MessageID != aws.ToString(sent.MessageId) || fb[0].Status != "RECEIVED" || fb[0].Time.IsZero() {
		t.Errorf("expected one RECEIVED feedback for %s, got %+v", aws.ToString(sent.MessageId), fb)
	}

	// faults apply to feedback too
	d.FailNext(1, Throttling)
	_, err = c.PutMessageFeedback(context.Background(), &sms.PutMessageFeedbackInput{
		MessageId: sent.MessageId, MessageFeedbackStatus: types.MessageFeedbackStatusReceived,
	})
	var te *types.ThrottlingException
	if !errors.As(err, &te) {
		t.Errorf("expected a ThrottlingException, got %v", err)
	}
	_, err = c.PutMessageFeedback(context.Background(), &sms.PutMessageFeedbackInput{
		MessageId: aws.String("0f3b8d52-8a1c-4f7e-9d2b-6c5a4e3f2a10"), MessageFeedbackStatus: types.MessageFeedbackStatusReceived,
	})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) || nf.ResourceType != "message" {
		t.Errorf("expected a ResourceNotFoundException of a message, got %v", err)
	}
	if len(d.Feedback()) != 1 || d.Attempts() != 4 {
		t.Errorf("expected 1 feedback in 4 attempts, got %d in %d", len(d.Feedback()), d.Attempts())
	}
}

func TestDoubleLoseReply(t *testing.T) {
	d := New(t)
	d.FailNext(1, LoseReply)
	_, _, err := signed("SendTextMessage", `{"DestinationPhoneNumber":"+447400123456","MessageBody":"lost"}`).
		Do(&http.Client{Timeout: 5 * time.Second}, d.URL())
	if err == nil {
		t.Fatal("expected the connection to drop, got an answer")
	}
	got := d.Messages()
	if len(got) != 1 || got[0].MessageBody != "lost" {
		t.Fatalf("expected the message recorded as accepted, got %+v", got)
	}
	if d.Attempts() != 1 {
		t.Errorf("expected 1 attempt (no transport retry of a POST), got %d", d.Attempts())
	}
}

func TestDoubleControlPaths(t *testing.T) {
	d := New(t)
	send := func(text string) (int, string) {
		return mustPost(t, d, "SendTextMessage", `{"DestinationPhoneNumber":"+447400123456","MessageBody":"`+text+`"}`, nil)
	}
	if s := awsdouble.PostControl(t, d.URL(), "/_fault", `{"kind":"error","code":"ThrottlingException","status":400,"count":1}`); s != 200 {
		t.Fatalf("expected status 200 setting a fault, got %d", s)
	}
	status, body := send("a")
	if status != 400 || errorType(t, body) != "ThrottlingException" || !strings.Contains(body, "Rate exceeded") {
		t.Errorf("expected 400 ThrottlingException: Rate exceeded, got %d %s", status, body)
	}
	if status, _ := send("b"); status != 200 {
		t.Errorf("expected 200 once the counted fault is spent, got %d", status)
	}
	if s := awsdouble.PostControl(t, d.URL(), "/_fault", `{"kind":"status","status":503,"count":1}`); s != 200 {
		t.Fatalf("expected status 200 setting a status fault, got %d", s)
	}
	if status, _ := send("c"); status != 503 {
		t.Errorf("expected 503 from the status fault, got %d", status)
	}
	for _, bad := range []string{`{"kind":"explode"}`, `{"kind":"error","code":"X"}`, `{"kind":"status","status":200}`} {
		if s := awsdouble.PostControl(t, d.URL(), "/_fault", bad); s != 400 {
			t.Errorf("expected status 400 for %s, got %d", bad, s)
		}
	}

	var got struct {
		Count    int        `json:"count"`
		Attempts int        `json:"attempts"`
		Messages []Message  `json:"messages"`
		Feedback []Feedback `json:"feedback"`
	}
	awsdouble.GetControl(t, d.URL(), "/_sent", &got)
	if got.Count != 1 || got.Attempts != 3 || len(got.Messages) != 1 || got.Messages[0].MessageBody != "b" {
		t.Errorf("expected 1 message (b) of 3 attempts, got %+v", got)
	}
	if s := awsdouble.PostControl(t, d.URL(), "/_reset", ``); s != 200 || d.Count() != 0 || d.Attempts() != 0 {
		t.Errorf("expected a reset to forget the messages and attempts, got status %d, %d and %d", s, d.Count(), d.Attempts())
	}
}
