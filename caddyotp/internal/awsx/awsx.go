// Package awsx holds what the AWS guests (the sns and eum senders, the sqs and
// cloudwatch_logs report readers) share: where they connect (Connection: region, endpoint,
// profile, in JSON and in the Caddyfile), loading the SDK's configuration without touching
// the network, the pool of clients that a config reload reuses, and what a failed send
// means for an SMS that may have been billed.
package awsx

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
)

// LoadConfig is the SDK configuration for c, from the environment and shared files only:
// credentials are fetched lazily at the first call. The SDK makes one attempt per call
// (callers own their retries: AWS_MAX_ATTEMPTS does not apply), and the HTTP client is the
// config's own, so CloseIdle can let it go.
func (c Connection) LoadConfig(ctx context.Context) (aws.Config, error) {
	opts := []func(*config.LoadOptions) error{
		// "auto" defaults mode would ask the instance metadata service at load; legacy never does
		config.WithDefaultsMode(aws.DefaultsModeLegacy),
		config.WithRetryer(func() aws.Retryer { return aws.NopRetryer{} }),
	}
	if c.Region != "" {
		opts = append(opts, config.WithRegion(c.Region))
	}
	if c.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(c.Profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("loading aws config: %w", err)
	}
	if cfg.Region == "" {
		return aws.Config{}, errors.New("region is required: set region or AWS_REGION")
	}
	// every client made from cfg: one attempt per call, whatever the environment says
	cfg.RetryMaxAttempts = 1
	// an HTTP client of its own (AWS_CA_BUNDLE applied), whose idle connections can be closed
	if bc, ok := cfg.HTTPClient.(*awshttp.BuildableClient); ok {
		cfg.HTTPClient = bc.Freeze()
	}
	return cfg, nil
}

// CloseIdle closes the idle connections of cfg's HTTP client.
func CloseIdle(cfg aws.Config) {
	if h, ok := cfg.HTTPClient.(interface{ CloseIdleConnections() }); ok {
		h.CloseIdleConnections()
	}
}
