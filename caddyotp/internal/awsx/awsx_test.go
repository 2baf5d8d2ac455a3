package awsx

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/caddyotp/caddyotp/internal/awsdouble"
)

func TestLoadConfig(t *testing.T) {
	t.Run("region set", func(t *testing.T) {
		awsdouble.OfflineAWS(t)
		cfg, err := Connection{Region: "eu-west-2"}.LoadConfig(context.Background())
		if err != nil || cfg.Region != "eu-west-2" {
			t.Fatalf("expected region eu-west-2, got %q (%v)", cfg.Region, err)
		}
	})
	t.Run("region from the environment", func(t *testing.T) {
		awsdouble.OfflineAWS(t)
		t.Setenv("AWS_REGION", "us-east-1")
		cfg, err := Connection{}.LoadConfig(context.Background())
		if err != nil || cfg.Region != "us-east-1" {
			t.Fatalf("expected region us-east-1, got %q (%v)", cfg.Region, err)
		}
	})
	t.Run("profile from the shared config", func(t *testing.T) {
		awsdouble.OfflineAWS(t)
		awsdouble.SharedConfig(t, "[profile otp]\nregion = ap-southeast-2\n")
		cfg, err := Connection{Profile: "otp"}.LoadConfig(context.Background())
		if err != nil || cfg.Region != "ap-southeast-2" {
			t.Fatalf("expected region ap-southeast-2, got %q (%v)", cfg.Region, err)
		}
	})
	t.Run("one attempt per call, whatever the environment says", func(t *testing.T) {
		awsdouble.OfflineAWS(t)
		t.Setenv("AWS_MAX_ATTEMPTS", "3")
		t.Setenv("AWS_RETRY_MODE", "adaptive")
		cfg, err := Connection{Region: "eu-west-2"}.LoadConfig(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if o := sqs.NewFromConfig(cfg).Options(); o.Retryer.MaxAttempts() != 1 {
			t.Errorf("expected a client of 1 attempt per call, got %d", o.Retryer.MaxAttempts())
		}
	})

	bad := []struct {
		name string
		c    Connection
		want string
	}{
		{"no region", Connection{}, "region is required"},
		{"unknown profile", Connection{Region: "eu-west-2", Profile: "nope"}, "nope"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			awsdouble.OfflineAWS(t)
			_, err := tt.c.LoadConfig(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("expected an error naming %q, got %v", tt.want, err)
			}
		})
	}
}

func TestCloseIdle(t *testing.T) {
	awsdouble.OfflineAWS(t)
	cfg, err := Connection{Region: "eu-west-2"}.LoadConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cfg.HTTPClient.(interface{ CloseIdleConnections() }); !ok {
		t.Fatalf("expected an HTTP client whose idle connections can be closed, got %T", cfg.HTTPClient)
	}
	closer := &closeCounter{}
	cfg.HTTPClient = closer
	CloseIdle(cfg)
	if closer.closed != 1 {
		t.Errorf("expected the idle connections closed once, got %d", closer.closed)
	}
	cfg.HTTPClient = nil
	CloseIdle(cfg) // a client without idle connections to close is let be
}
