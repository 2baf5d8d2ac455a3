package awsdouble

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go/logging"
)

func TestOfflineAWS(t *testing.T) {
	t.Setenv("AWS_REGION", "eu-west-2")
	t.Setenv("AWS_ENDPOINT_URL_SQS", "https://sqs.example")
	OfflineAWS(t)
	for _, k := range []string{"AWS_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SNS", "AWS_ENDPOINT_URL_PINPOINT_SMS_VOICE_V2",
		"AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", "AWS_PROFILE"} {
		if v := os.Getenv(k); v != "" {
			t.Errorf("expected %s empty, got %q", k, v)
		}
	}
	if os.Getenv("AWS_EC2_METADATA_DISABLED") != "true" {
		t.Error("expected instance metadata off, it is on")
	}
	for _, k := range []string{"AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"} {
		if b, err := os.ReadFile(os.Getenv(k)); err != nil || len(b) != 0 {
			t.Errorf("expected %s an empty file, got %q (%v)", k, b, err)
		}
	}
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatalf("expected the offline config to load, got %v", err)
	}
	if cfg.Region != "" {
		t.Errorf("expected no region, got %q", cfg.Region)
	}
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil || creds.AccessKeyID != "test" {
		t.Errorf("expected the fixed test credentials, got %v (%v)", creds.AccessKeyID, err)
	}

	env := OfflineAWSEnv(t)
	if len(env) != len(offlineVars) || !strings.HasPrefix(env[0], "AWS_ACCESS_KEY_ID=") {
		t.Errorf("expected %d sorted KEY=value lines, got %v", len(offlineVars), env)
	}
}

func TestOnlyInstanceMetadata(t *testing.T) {
	hits := OnlyInstanceMetadata(t)
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion("eu-west-2"),
		config.WithRetryer(func() aws.Retryer { return aws.NopRetryer{} }), config.WithLogger(logging.Nop{}))
	if err != nil {
		t.Fatalf("expected the config to load, got %v", err)
	}
	if _, err := cfg.Credentials.Retrieve(context.Background()); err == nil {
		t.Error("expected no credentials anywhere, got some")
	}
	if hits.Load() == 0 {
		t.Error("expected the credential chain to ask the instance metadata stand-in, got no request")
	}
}

func TestSharedConfig(t *testing.T) {
	OfflineAWS(t)
	SharedConfig(t, "[profile otp]\nregion = ap-southeast-2\n")
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithSharedConfigProfile("otp"))
	if err != nil {
		t.Fatalf("expected the profile to load, got %v", err)
	}
	if cfg.Region != "ap-southeast-2" {
		t.Errorf("expected region ap-southeast-2 from the profile, got %q", cfg.Region)
	}
}
