package awsx

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sms "github.com/aws/aws-sdk-go-v2/service/pinpointsmsvoicev2"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/internal/awsx/awsxtest"
	"github.com/caddyotp/caddyotp/internal/awsdouble"
	"github.com/caddyotp/caddyotp/internal/eumdouble"
	"github.com/caddyotp/caddyotp/internal/snsdouble"
)

// testConfig is the SDK configuration of a guest connected to url, in the offline
// environment.
func testConfig(t *testing.T, url string) (aws.Config, Connection) {
	t.Helper()
	awsdouble.OfflineAWS(t)
	c := Connection{Region: "eu-west-2", Endpoint: url}
	cfg, err := c.LoadConfig(context.Background())
	if err != nil {
		t.Fatalf("loading the config: %v", err)
	}
	t.Cleanup(func() { CloseIdle(cfg) })
	return cfg, c
}

// publishAttempt is one Attempt of an SNS Publish to url, as the sns sender makes it.
func publishAttempt(t *testing.T, url string) func(ctx context.Context, timeout time.Duration) error {
	cfg, c := testConfig(t, url)
	client := sns.NewFromConfig(cfg, func(o *sns.Options) { c.SetEndpoint(&o.BaseEndpoint) })
	return func(ctx context.Context, timeout time.Duration) error {
		_, err := Attempt(ctx, timeout, func(ctx context.Context) (*sns.PublishOutput, error) {
			return client.Publish(ctx, &sns.PublishInput{PhoneNumber: aws.String("+447400123456"), Message: aws.String("123456")})
		})
		return err
	}
}

// sendTextAttempt is one Attempt of an End User Messaging SendTextMessage to url, as the
// eum sender makes it.
func sendTextAttempt(t *testing.T, url, to string) func(ctx context.Context, timeout time.Duration) error {
	cfg, c := testConfig(t, url)
	client := sms.NewFromConfig(cfg, func(o *sms.Options) { c.SetEndpoint(&o.BaseEndpoint) })
	return func(ctx context.Context, timeout time.Duration) error {
		_, err := Attempt(ctx, timeout, func(ctx context.Context) (*sms.SendTextMessageOutput, error) {
			return client.SendTextMessage(ctx, &sms.SendTextMessageInput{DestinationPhoneNumber: aws.String(to), MessageBody: aws.String("123456")})
		})
		return err
	}
}

// TestAttemptQueryErrors: SNS's error answers (the Query protocol's XML), each after one
// attempt, and none billed: AWS answered.
func TestAttemptQueryErrors(t *testing.T) {
	tests := []struct {
		fault     snsdouble.Fault
		code      string
		retryable bool
	}{
		{snsdouble.Throttled, "Throttled", true},
		{snsdouble.ThrottlingException, "ThrottlingException", true},
		{snsdouble.ErrorFault("Throttling", 400, "Rate exceeded"), "Throttling", true},
		{snsdouble.ErrorFault("TooManyRequestsException", 429, "slow down"), "TooManyRequestsException", true},
		{snsdouble.ErrorFault("RequestLimitExceeded", 400, "slow down"), "RequestLimitExceeded", true},
		{snsdouble.InternalError, "InternalError", true},
		{snsdouble.ErrorFault("ServiceUnavailable", 503, "busy"), "ServiceUnavailable", true},
		{snsdouble.InvalidParameter, "InvalidParameter", false},
		{snsdouble.ErrorFault("AuthorizationError", 403, "not allowed"), "AuthorizationError", false},
		{snsdouble.ErrorFault("OptedOut", 400, "opted out"), "OptedOut", false},
		{snsdouble.ErrorFault("KMSThrottling", 400, "kms"), "KMSThrottling", false},
	}
	d := snsdouble.New(t)
	publish := publishAttempt(t, d.URL())
	for _, tt := range tests {
		t.Run(tt.fault.Code, func(t *testing.T) {
			d.Reset()
			d.SetFault(tt.fault)
			awsxtest.CheckSendError(t, publish(context.Background(), 5*time.Second), tt.code, tt.retryable, false)
			if d.Attempts() != 1 {
				t.Errorf("expected 1 attempt, got %d", d.Attempts())
			}
		})
	}
}

// TestAttemptJSONErrors: End User Messaging's error answers (AWS JSON 1.0), and bare
// statuses without an error document, each after one attempt, and none billed.
func TestAttemptJSONErrors(t *testing.T) {
	tests := []struct {
		name      string
		fault     eumdouble.Fault
		code      string
		retryable bool
	}{
		{"validation", eumdouble.Validation, "ValidationException", false},
		{"access denied", eumdouble.AccessDenied, "AccessDeniedException", false},
		{"quota", eumdouble.ServiceQuotaExceeded, "ServiceQuotaExceededException", false},
		{"not found", eumdouble.ErrorFault("ResourceNotFoundException", 400, "Configuration set otp not found"), "ResourceNotFoundException", false},
		{"conflict", eumdouble.ErrorFault("ConflictException", 400, "conflict"), "ConflictException", false},
		{"unmodelled 4xx", eumdouble.ErrorFault("SomeNewException", 409, "new"), "SomeNewException", false},
		{"throttling", eumdouble.Throttling, "ThrottlingException", true},
		{"internal", eumdouble.InternalServer, "InternalServerException", true},
		{"unavailable", eumdouble.ErrorFault("ServiceUnavailableException", 503, "busy"), "ServiceUnavailableException", true},
		{"bare 502", eumdouble.BadGateway, "HTTP502", true},
		{"bare 403", eumdouble.Fault{Kind: eumdouble.KindStatus, Status: 403}, "HTTP403", false},
	}
	d := eumdouble.New(t)
	send := sendTextAttempt(t, d.URL(), "+447400123456")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d.Reset()
			d.SetFault(tt.fault)
			awsxtest.CheckSendError(t, send(context.Background(), 5*time.Second), tt.code, tt.retryable, false)
			if d.Attempts() != 1 {
				t.Errorf("expected 1 attempt, got %d", d.Attempts())
			}
		})
	}

	t.Run("refused by the double's own rules", func(t *testing.T) {
		d.Reset()
		refused := sendTextAttempt(t, d.URL(), "447400123456x")
		awsxtest.CheckSendError(t, refused(context.Background(), 5*time.Second), "ValidationException", false, false)
	})
}

// TestAttemptWithoutAnswer: an attempt that ends without an answer may have been billed,
// unless the request provably never left.
func TestAttemptWithoutAnswer(t *testing.T) {
	t.Run("caller deadline", func(t *testing.T) {
		d := eumdouble.New(t)
		send := sendTextAttempt(t, d.URL(), "+447400123456")
		d.SetFault(eumdouble.Hang)
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := send(ctx, 5*time.Second)
		awsxtest.CheckSendError(t, err, "DeadlineExceeded", false, true)
		if elapsed := time.Since(start); elapsed > 3*time.Second {
			t.Errorf("expected the deadline to cut the attempt off in about 300ms, got %v", elapsed)
		}
	})
	t.Run("attempt timeout", func(t *testing.T) {
		d := eumdouble.New(t)
		send := sendTextAttempt(t, d.URL(), "+447400123456")
		d.SetFault(eumdouble.Hang)
		start := time.Now()
		awsxtest.CheckSendError(t, send(context.Background(), 200*time.Millisecond), "Timeout", true, true)
		if elapsed := time.Since(start); elapsed > 3*time.Second {
			t.Errorf("expected the timeout to cut the attempt off in about 200ms, got %v", elapsed)
		}
		if d.Count() != 0 || d.Attempts() != 1 {
			t.Errorf("expected no message recorded in 1 attempt, got %d in %d", d.Count(), d.Attempts())
		}
	})
	t.Run("caller canceled before", func(t *testing.T) {
		d := eumdouble.New(t)
		send := sendTextAttempt(t, d.URL(), "+447400123456")
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		var se *caddyotp.SendError
		if err := send(ctx, 5*time.Second); !errors.As(err, &se) || se.Code != "Canceled" || se.Retryable {
			t.Errorf("expected Canceled, not retryable, got %v", err)
		}
		if d.Attempts() != 0 {
			t.Errorf("expected no request, got %d", d.Attempts())
		}
	})
	t.Run("reply lost", func(t *testing.T) {
		d := snsdouble.New(t)
		publish := publishAttempt(t, d.URL())
		d.FailNext(1, snsdouble.LoseReply)
		awsxtest.CheckSendError(t, publish(context.Background(), 5*time.Second), "ConnectionError", true, true)
		if d.Count() != 1 || d.Attempts() != 1 {
			t.Errorf("expected 1 publish recorded in 1 attempt, got %d in %d", d.Count(), d.Attempts())
		}
	})
	t.Run("connection refused", func(t *testing.T) {
		publish := publishAttempt(t, awsdouble.RefusedURL(t))
		// refused: the request never left, so nothing was billed
		awsxtest.CheckSendError(t, publish(context.Background(), 5*time.Second), "ConnectionError", true, false)
	})
}

func TestAttemptSuccess(t *testing.T) {
	d := snsdouble.New(t)
	publish := publishAttempt(t, d.URL())
	if err := publish(context.Background(), 5*time.Second); err != nil {
		t.Fatalf("expected a publish, got %v", err)
	}
	if d.Count() != 1 {
		t.Errorf("expected 1 publish, got %d", d.Count())
	}
}

func TestSendErrorWithoutRequest(t *testing.T) {
	err := SendError(context.Background(), context.Background(), errors.New("no credentials"))
	if err.Code != "ClientError" || err.Retryable || err.MaybeDelivered {
		t.Errorf("expected ClientError, definite, got %s, %v, %v", err.Code, err.Retryable, err.MaybeDelivered)
	}
}
