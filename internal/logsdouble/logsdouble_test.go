package logsdouble

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"

	"github.com/caddyotp/caddyotp/internal/awsdouble"
)

const group = "sns/eu-west-2/123456789012/DirectPublishToPhoneNumber"

// clientFor is the real SDK client pointed at d, with fixed credentials and no retries.
func clientFor(t *testing.T, d *Double) *cloudwatchlogs.Client {
	t.Helper()
	cfg := aws.Config{
		Region:      "eu-west-2",
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
		Retryer:     func() aws.Retryer { return aws.NopRetryer{} },
	}
	return cloudwatchlogs.NewFromConfig(cfg, func(o *cloudwatchlogs.Options) {
		o.BaseEndpoint = aws.String(d.URL())
	})
}

// filterAll reads every page of in, and returns the messages and the number of pages.
func filterAll(t *testing.T, c *cloudwatchlogs.Client, in *cloudwatchlogs.FilterLogEventsInput) ([]string, int) {
	t.Helper()
	var messages []string
	pages := 0
	for {
		out, err := c.FilterLogEvents(context.Background(), in)
		if err != nil {
			t.Fatalf("expected a page, got %v", err)
		}
		pages++
		for _, e := range out.Events {
			messages = append(messages, aws.ToString(e.Message))
		}
		if aws.ToString(out.NextToken) == "" {
			return messages, pages
		}
		next := *in
		next.NextToken = out.NextToken
		in = &next
	}
}

func TestFaultsAndCalls(t *testing.T) {
	d := New(t)
	c := clientFor(t, d)
	d.Put(group, time.Now(), "x")
	in := &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(group), StartTime: aws.Int64(5), Limit: aws.Int32(2)}
	filter := func() error {
		_, err := c.FilterLogEvents(context.Background(), in)
		return err
	}

	d.FailNext(1, Throttling)
	d.FailNext(1, ServiceUnavailable)
	checkAPIError(t, filter(), "ThrottlingException", 400)
	checkAPIError(t, filter(), "ServiceUnavailableException", 500)
	if err := filter(); err != nil {
		t.Fatalf("expected the faults used up, got %v", err)
	}

	d.FailNext(1, Fault{}) // passes
	d.FailNext(1, Throttling)
	if err := filter(); err != nil {
		t.Fatalf("expected a zero fault to let the request through, got %v", err)
	}
	checkAPIError(t, filter(), "ThrottlingException", 400)

	d.SetFault(Throttling)
	checkAPIError(t, filter(), "ThrottlingException", 400)
	checkAPIError(t, filter(), "ThrottlingException", 400)
	d.ClearFault()
	if err := filter(); err != nil {
		t.Fatalf("expected no fault after ClearFault, got %v", err)
	}

	if d.Calls() != 8 {
		t.Errorf("expected 8 calls, got %d", d.Calls())
	}
	reqs := d.Requests()
	if len(reqs) != 8 {
		t.Fatalf("expected 8 requests, got %d", len(reqs))
	}
	r := reqs[7]
	if r.LogGroup != group || aws.ToInt64(r.StartTime) != 5 || r.EndTime != nil || aws.ToInt32(r.Limit) != 2 || r.NextToken != "" {
		t.Errorf("expected the request as sent, got %+v", r)
	}
}

func TestRawRequests(t *testing.T) {
	d := New(t)
	d.Put(group, time.Now(), "x")
	// signed is a FilterLogEvents as the SDK sends it, changed by edit
	signed := func(edit func(*awsdouble.Raw)) awsdouble.Raw {
		r := awsdouble.Raw{Target: "Logs_20140328.FilterLogEvents", ContentType: awsdouble.JSON11,
			Authorization: "AWS4-HMAC-SHA256 x", Body: `{"logGroupName":"` + group + `"}`}
		edit(&r)
		return r
	}
	tests := []struct {
		name   string
		req    awsdouble.Raw
		status int
		code   string
	}{
		{"ok", signed(func(*awsdouble.Raw) {}), 200, ""},
		{"unsigned", signed(func(r *awsdouble.Raw) { r.Authorization = "" }), 400, "MissingAuthenticationTokenException"},
		{"other operation", signed(func(r *awsdouble.Raw) { r.Target = "Logs_20140328.GetLogEvents" }), 400, "UnknownOperationException"},
		{"json 1.0", signed(func(r *awsdouble.Raw) { r.ContentType = awsdouble.JSON10 }), 400, "SerializationException"},
		{"get", signed(func(r *awsdouble.Raw) { r.Method = "GET" }), 400, "UnknownOperationException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := tt.req.Send(http.DefaultClient, d.URL())
			if err != nil {
				t.Fatalf("expected an answer, got %v", err)
			}
			defer resp.Body.Close()
			var body map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatalf("expected a JSON body, got %v", err)
			}
			if resp.StatusCode != tt.status {
				t.Errorf("expected status %d, got %d: %v", tt.status, resp.StatusCode, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != awsdouble.JSON11 {
				t.Errorf("expected content type application/x-amz-json-1.1, got %q", ct)
			}
			if resp.Header.Get("X-Amzn-RequestId") == "" {
				t.Errorf("expected a request id header, got none")
			}
			if tt.code != "" && body["__type"] != tt.code {
				t.Errorf("expected __type %s, got %v", tt.code, body["__type"])
			}
			if tt.code == "" {
				if _, ok := body["events"]; !ok {
					t.Errorf("expected events, got %v", body)
				}
				if s, ok := body["searchedLogStreams"].([]any); !ok || len(s) != 0 {
					t.Errorf("expected an empty searchedLogStreams list, got %v", body["searchedLogStreams"])
				}
			}
		})
	}
}
