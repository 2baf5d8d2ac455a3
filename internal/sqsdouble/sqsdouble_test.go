package sqsdouble

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/caddyotp/caddyotp/internal/awsdouble"
)

// clientFor is the real SDK client pointed at d, making one attempt per call.
func clientFor(t *testing.T, d *Double) *sqs.Client {
	t.Helper()
	awsdouble.OfflineAWS(t)
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion("eu-west-2"),
		config.WithRetryer(func() aws.Retryer { return aws.NopRetryer{} }))
	if err != nil {
		t.Fatal(err)
	}
	return sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(d.URL()) })
}

// receive is a ReceiveMessage of up to max messages asking for every system attribute.
func receive(t *testing.T, c *sqs.Client, d *Double, max, wait int32) []types.Message {
	t.Helper()
	out, err := c.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(d.QueueURL()), MaxNumberOfMessages: max, WaitTimeSeconds: wait,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
	})
	if err != nil {
		t.Fatalf("ReceiveMessage: expected no error, got %v", err)
	}
	return out.Messages
}

func deleteMessage(c *sqs.Client, d *Double, handle string) error {
	_, err := c.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{
		QueueUrl: aws.String(d.QueueURL()), ReceiptHandle: aws.String(handle)})
	return err
}

func receiveCount(t *testing.T, m types.Message) int {
	t.Helper()
	n, err := strconv.Atoi(m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
	if err != nil {
		t.Fatalf("expected an ApproximateReceiveCount, got %v", m.Attributes)
	}
	return n
}

func TestDoubleSendReceiveDelete(t *testing.T) {
	d := New(t)
	c := clientFor(t, d)
	body := Sample(SampleEvent)
	sent, err := c.SendMessage(context.Background(), &sqs.SendMessageInput{
		QueueUrl: aws.String(d.QueueURL()), MessageBody: aws.String(body)})
	if err != nil { // the SDK also checks MD5OfMessageBody
		t.Fatalf("SendMessage: expected no error, got %v", err)
	}
	putID := d.Put("Ünïcode 😀 body") // the MD5 is of the UTF-8 bytes

	got := receive(t, c, d, 10, 0)
	if len(got) != 2 {
		t.Fatalf("expected 2 messages, got %d", len(got))
	}
	if aws.ToString(got[0].MessageId) != aws.ToString(sent.MessageId) || aws.ToString(got[0].Body) != body {
		t.Errorf("expected the sent message first, got %s: %q", aws.ToString(got[0].MessageId), aws.ToString(got[0].Body))
	}
	if aws.ToString(got[1].MessageId) != putID || aws.ToString(got[1].Body) != "Ünïcode 😀 body" {
		t.Errorf("expected the put message second, got %s: %q", aws.ToString(got[1].MessageId), aws.ToString(got[1].Body))
	}
	for _, m := range got {
		if n := receiveCount(t, m); n != 1 {
			t.Errorf("expected receive count 1, got %d", n)
		}
		sentAt, err := strconv.ParseInt(m.Attributes["SentTimestamp"], 10, 64)
		if err != nil || time.Since(time.UnixMilli(sentAt)) > time.Minute {
			t.Errorf("expected a recent SentTimestamp, got %q", m.Attributes["SentTimestamp"])
		}
		if aws.ToString(m.ReceiptHandle) == "" {
			t.Error("expected a receipt handle, got none")
		}
	}
	if d.Len() != 2 || !d.Messages()[0].InFlight {
		t.Errorf("expected 2 messages in flight, got %+v", d.Messages())
	}
	for _, m := range got {
		if err := deleteMessage(c, d, aws.ToString(m.ReceiptHandle)); err != nil {
			t.Fatalf("DeleteMessage: expected no error, got %v", err)
		}
	}
	if d.Len() != 0 || d.Deletes() != 2 {
		t.Errorf("expected an empty queue after 2 deletes, got %d left, %d deletes", d.Len(), d.Deletes())
	}
	// deleting again with a handle of a message already gone succeeds and changes nothing
	if err := deleteMessage(c, d, aws.ToString(got[0].ReceiptHandle)); err != nil {
		t.Errorf("expected a second delete to succeed, got %v", err)
	}
	if d.Deletes() != 2 {
		t.Errorf("expected 2 deletes, got %d", d.Deletes())
	}
	if r := d.Requests("ReceiveMessage"); r != 1 {
		t.Errorf("expected 1 receive request, got %d", r)
	}
}

func TestDoubleAttributesOnlyWhenAsked(t *testing.T) {
	d := New(t)
	c := clientFor(t, d)
	d.Put("a")
	d.Put("b")
	out, err := c.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(d.QueueURL())})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Messages) != 1 || len(out.Messages[0].Attributes) != 0 {
		t.Fatalf("expected 1 message (the default maximum) without attributes, got %+v", out.Messages)
	}
	out, err = c.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(d.QueueURL()),
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Messages) != 1 || len(out.Messages[0].Attributes) != 1 || receiveCount(t, out.Messages[0]) != 1 {
		t.Errorf("expected 1 message with only ApproximateReceiveCount, got %+v", out.Messages)
	}
}

func TestDoubleMaxNumberOfMessages(t *testing.T) {
	d := New(t)
	c := clientFor(t, d)
	for i := range 15 {
		d.Put("message " + strconv.Itoa(i))
	}
	for _, want := range []int{10, 5, 0} {
		if got := receive(t, c, d, 10, 0); len(got) != want {
			t.Errorf("expected %d messages, got %d", want, len(got))
		}
	}
}

func TestDoubleVisibilityTimeout(t *testing.T) {
	d := New(t)
	c := clientFor(t, d)
	d.SetVisibilityTimeout(200 * time.Millisecond)
	d.Put("report")
	first := receive(t, c, d, 10, 0)
	if len(first) != 1 {
		t.Fatalf("expected 1 message, got %d", len(first))
	}
	if got := receive(t, c, d, 10, 0); len(got) != 0 {
		t.Fatalf("expected the message hidden while in flight, got %d", len(got))
	}
	time.Sleep(300 * time.Millisecond)
	second := receive(t, c, d, 10, 0)
	if len(second) != 1 {
		t.Fatalf("expected the message back after the visibility timeout, got %d", len(second))
	}
	if n := receiveCount(t, second[0]); n != 2 {
		t.Errorf("expected receive count 2, got %d", n)
	}
	old, cur := aws.ToString(first[0].ReceiptHandle), aws.ToString(second[0].ReceiptHandle)
	if old == cur {
		t.Fatal("expected a new receipt handle per receive, got the same")
	}
	// the earlier handle succeeds but leaves the message (SQS: "might not be deleted")
	if err := deleteMessage(c, d, old); err != nil {
		t.Fatalf("expected a stale handle to succeed, got %v", err)
	}
	if d.Len() != 1 || d.Deletes() != 0 {
		t.Errorf("expected a stale handle to leave the message, got %d left, %d deletes", d.Len(), d.Deletes())
	}
	if err := deleteMessage(c, d, cur); err != nil {
		t.Fatal(err)
	}
	if d.Len() != 0 || d.Deletes() != 1 {
		t.Errorf("expected the latest handle to delete, got %d left, %d deletes", d.Len(), d.Deletes())
	}

	// a receive's own VisibilityTimeout wins over the queue's
	d.SetVisibilityTimeout(DefaultVisibilityTimeout)
	d.Put("again")
	out, err := c.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(d.QueueURL()), VisibilityTimeout: 1})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("expected 1 message, got %v, %v", out, err)
	}
	start := time.Now()
	if got := receive(t, c, d, 10, 5); len(got) != 1 {
		t.Fatalf("expected the message back after its own 1s, got %d", len(got))
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("expected the message back after about 1s, took %v", el)
	}
}

func TestDoubleInvalidReceiptHandle(t *testing.T) {
	d := New(t)
	c := clientFor(t, d)
	err := deleteMessage(c, d, "not-a-handle")
	var invalid *types.ReceiptHandleIsInvalid
	if !errors.As(err, &invalid) {
		t.Fatalf("expected ReceiptHandleIsInvalid, got %v", err)
	}
}

func TestDoubleLongPoll(t *testing.T) {
	t.Run("a put ends the wait", func(t *testing.T) {
		d := New(t)
		c := clientFor(t, d)
		done := make(chan []types.Message, 1)
		start := time.Now()
		go func() {
			out, _ := c.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
				QueueUrl: aws.String(d.QueueURL()), MaxNumberOfMessages: 10, WaitTimeSeconds: 10})
			if out == nil {
				done <- nil
				return
			}
			done <- out.Messages
		}()
		waitUntil(t, func() bool { return d.Waiting() == 1 })
		d.Put("late")
		select {
		case got := <-done:
			if len(got) != 1 || aws.ToString(got[0].Body) != "late" {
				t.Errorf("expected the late message, got %+v", got)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("expected the put to end the long poll, still waiting")
		}
		if el := time.Since(start); el > 3*time.Second {
			t.Errorf("expected the long poll to end at the put, took %v", el)
		}
		if d.Waiting() != 0 {
			t.Errorf("expected no poll waiting, got %d", d.Waiting())
		}
	})
	t.Run("the wait ends empty", func(t *testing.T) {
		d := New(t)
		c := clientFor(t, d)
		start := time.Now()
		if got := receive(t, c, d, 10, 1); len(got) != 0 {
			t.Errorf("expected no message, got %d", len(got))
		}
		if el := time.Since(start); el < 900*time.Millisecond || el > 3*time.Second {
			t.Errorf("expected the poll to wait about 1s, took %v", el)
		}
	})
	t.Run("a message back from flight ends the wait", func(t *testing.T) {
		d := New(t)
		c := clientFor(t, d)
		d.SetVisibilityTimeout(300 * time.Millisecond)
		d.Put("returning")
		receive(t, c, d, 10, 0)
		start := time.Now()
		got := receive(t, c, d, 10, 10)
		if len(got) != 1 || receiveCount(t, got[0]) != 2 {
			t.Fatalf("expected the message again, got %+v", got)
		}
		if el := time.Since(start); el > 3*time.Second {
			t.Errorf("expected the poll to end at the visibility timeout, took %v", el)
		}
	})
	t.Run("the client gives up", func(t *testing.T) {
		d := New(t)
		c := clientFor(t, d)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(d.QueueURL()), WaitTimeSeconds: 20})
			done <- err
		}()
		waitUntil(t, func() bool { return d.Waiting() == 1 })
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("expected context.Canceled, got %v", err)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("expected the cancel to end the call, still waiting")
		}
		waitUntil(t, func() bool { return d.Waiting() == 0 })
	})
}

func TestDoubleFaults(t *testing.T) {
	tests := []struct {
		name   string
		fault  Fault
		code   string
		status int
	}{
		{"throttled", Throttled, "RequestThrottled", 403},
		{"internal", InternalError, "InternalFailure", 500},
		{"unavailable", ServiceUnavailable, "ServiceUnavailable", 503},
		{"custom", ErrorFault("KMS.ThrottlingException", 400, "kms"), "KMS.ThrottlingException", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := New(t)
			c := clientFor(t, d)
			d.Put("kept")
			d.FailNext(1, tt.fault)
			_, err := c.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(d.QueueURL())})
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) || apiErr.ErrorCode() != tt.code {
				t.Fatalf("expected error code %s, got %v", tt.code, err)
			}
			var re interface{ HTTPStatusCode() int }
			if !errors.As(err, &re) || re.HTTPStatusCode() != tt.status {
				t.Errorf("expected status %d, got %v", tt.status, err)
			}
			// spent: the next receive works, and the fault took no message
			if got := receive(t, c, d, 10, 0); len(got) != 1 || receiveCount(t, got[0]) != 1 {
				t.Errorf("expected the message once received after the fault, got %+v", got)
			}
		})
	}

	t.Run("closed connection", func(t *testing.T) {
		d := New(t)
		c := clientFor(t, d)
		d.FailNext(1, CloseConnection)
		_, err := c.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(d.QueueURL())})
		var apiErr smithy.APIError
		if err == nil || errors.As(err, &apiErr) {
			t.Fatalf("expected a connection error, got %v", err)
		}
		if !strings.Contains(err.Error(), "EOF") && !strings.Contains(err.Error(), "connection") {
			t.Errorf("expected an EOF or connection error, got %v", err)
		}
	})

	t.Run("one operation, and the order of faults", func(t *testing.T) {
		d := New(t)
		c := clientFor(t, d)
		d.SetFault(InternalError.OnlyFor("DeleteMessage"))
		d.FailNext(1, Throttled.OnlyFor("DeleteMessage"))
		d.Put("stays")
		got := receive(t, c, d, 10, 0) // not a delete: no fault
		if len(got) != 1 {
			t.Fatalf("expected 1 message, got %d", len(got))
		}
		handle := aws.ToString(got[0].ReceiptHandle)
		for _, want := range []string{"RequestThrottled", "InternalFailure", "InternalFailure"} {
			var apiErr smithy.APIError
			if err := deleteMessage(c, d, handle); !errors.As(err, &apiErr) || apiErr.ErrorCode() != want {
				t.Errorf("expected %s, got %v", want, err)
			}
		}
		d.SetFault(Fault{})
		if err := deleteMessage(c, d, handle); err != nil {
			t.Errorf("expected the delete to work with the fault off, got %v", err)
		}
		if d.Requests("DeleteMessage") != 4 || d.Deletes() != 1 {
			t.Errorf("expected 4 delete requests and 1 delete, got %d and %d", d.Requests("DeleteMessage"), d.Deletes())
		}
	})
}

func TestDoubleRefusesWhatSQSRefuses(t *testing.T) {
	d := New(t)
	c := clientFor(t, d)

	t.Run("another queue", func(t *testing.T) {
		_, err := c.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(d.URL() + "/123456789012/other")})
		var missing *types.QueueDoesNotExist
		if !errors.As(err, &missing) {
			t.Fatalf("expected QueueDoesNotExist, got %v", err)
		}
		// query-compatible: the code is the Query protocol's
		if missing.ErrorCode() != "AWS.SimpleQueueService.NonExistentQueue" {
			t.Errorf("expected code AWS.SimpleQueueService.NonExistentQueue, got %s", missing.ErrorCode())
		}
	})
	bad := []struct {
		name string
		in   *sqs.ReceiveMessageInput
	}{
		{"too many", &sqs.ReceiveMessageInput{MaxNumberOfMessages: 11}},
		{"too long a wait", &sqs.ReceiveMessageInput{WaitTimeSeconds: 21}},
		{"negative visibility", &sqs.ReceiveMessageInput{VisibilityTimeout: -1}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.QueueUrl = aws.String(d.QueueURL())
			_, err := c.ReceiveMessage(context.Background(), tt.in)
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "InvalidParameterValue" {
				t.Errorf("expected InvalidParameterValue, got %v", err)
			}
		})
	}
	t.Run("empty body", func(t *testing.T) {
		_, err := c.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(d.QueueURL()), MessageBody: aws.String("")})
		var apiErr smithy.APIError
		if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "InvalidParameterValue" {
			t.Errorf("expected InvalidParameterValue, got %v", err)
		}
	})

	body := `{"QueueUrl":"` + d.QueueURL() + `"}`
	raw := []struct {
		name   string
		req    awsdouble.Raw
		status int
	}{
		{"unsigned", awsdouble.Raw{Target: "AmazonSQS.ReceiveMessage", ContentType: awsdouble.JSON10, Body: body}, 403},
		{"get", awsdouble.Raw{Method: "GET", Target: "AmazonSQS.ReceiveMessage", Authorization: "AWS4-HMAC-SHA256 x", ContentType: awsdouble.JSON10, Body: body}, 400},
		{"unknown operation", awsdouble.Raw{Target: "AmazonSQS.PurgeQueue", Authorization: "AWS4-HMAC-SHA256 x", ContentType: awsdouble.JSON10, Body: body}, 400},
		{"query protocol", awsdouble.Raw{Authorization: "AWS4-HMAC-SHA256 x", ContentType: "application/x-www-form-urlencoded", Body: body}, 400},
	}
	for _, tt := range raw {
		status, answer, err := tt.req.Do(http.DefaultClient, d.URL())
		if err != nil || status != tt.status {
			t.Errorf("%s: expected status %d, got %d %s (%v)", tt.name, tt.status, status, answer, err)
		}
	}
	if d.Len() != 0 {
		t.Errorf("expected nothing queued, got %d", d.Len())
	}
}

// waitUntil polls cond for up to 5s.
func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("expected the condition within 5s, it never held")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
