package logsreports

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"go.uber.org/zap"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/internal/awsx"
)

const (
	// leaseGrace is how much longer than two intervals the lease lasts: a reader that misses
	// one round keeps it, one that is gone loses it soon after.
	leaseGrace = 30 * time.Second
	// maxBackoff is the longest wait between failed rounds, unless the interval is longer.
	maxBackoff = 15 * time.Minute
	// leasePrefix and cursorPrefix name the reader's lease and cursors in the store.
	leasePrefix  = "cloudwatch_logs:"
	cursorPrefix = "cloudwatch_logs:"
)

// Run reads the log groups at once and then every interval, while this run holds the lease,
// until ctx ends. It makes its own AWS client and lets it go when it returns, so a config
// reload that keeps the reader (and cleans up the old module) never stops it.
func (r *Reader) Run(ctx context.Context, sink caddyotp.ReportSink) {
	logger := r.logger
	if logger == nil {
		logger = zap.NewNop()
	}
	logger = logger.With(zap.String("log_group", r.LogGroup))
	every := time.Duration(r.Interval)
	if every <= 0 {
		every = defaultInterval
	}

	cfg, ok := r.loadConfig(ctx, logger, every)
	if !ok {
		return
	}
	defer awsx.CloseIdle(cfg)
	rd := &reading{
		client:   r.newClient(cfg),
		sink:     sink,
		logger:   logger,
		group:    r.LogGroup,
		holder:   newHolder(),
		leaseTTL: 2*every + leaseGrace,
	}
	defer rd.release()

	failures := 0
	for {
		if err := rd.round(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			logger.Warn("reading sms delivery logs failed", zap.Int("failures_in_a_row", failures),
				zap.Duration("retry_in", retryWait(every, failures)), zap.Error(err))
		} else {
			failures = 0
		}
		if !sleep(ctx, retryWait(every, failures)) {
			return
		}
	}
}

// loadConfig loads the AWS configuration, trying again after a wait while it fails (a
// missing region or a broken profile is logged, and may be fixed in the files). It reports
// false when ctx ended first.
func (r *Reader) loadConfig(ctx context.Context, logger *zap.Logger, every time.Duration) (aws.Config, bool) {
	for failures := 1; ; failures++ {
		cfg, err := r.Connection.LoadConfig(ctx)
		if err == nil {
			return cfg, true
		}
		logger.Error("cannot read sms delivery logs", zap.Duration("retry_in", retryWait(every, failures)), zap.Error(err))
		if !sleep(ctx, retryWait(every, failures)) {
			return aws.Config{}, false
		}
	}
}

// newClient is a CloudWatch Logs client for cfg at the reader's endpoint. It makes one
// attempt per call: the reader's own rounds are its retries.
func (r *Reader) newClient(cfg aws.Config) *cloudwatchlogs.Client {
	return cloudwatchlogs.NewFromConfig(cfg, func(o *cloudwatchlogs.Options) { r.Connection.SetEndpoint(&o.BaseEndpoint) })
}

// release lets the lease lapse at once if this run holds it, so that an instance that stops
// (or a reload that starts a new run) is followed by the next reader within an interval,
// not a lease's length: a renewal of 1ms is a release that no other holder can make.
func (rd *reading) release() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := rd.sink.TakeLease(ctx, leasePrefix+rd.group, rd.holder, time.Millisecond); err != nil {
		rd.logger.Debug("releasing the lease", zap.Error(err))
	}
}

// round reads both log groups once, if this run holds the lease (taking or renewing it).
func (rd *reading) round(ctx context.Context) error {
	held, err := rd.sink.TakeLease(ctx, leasePrefix+rd.group, rd.holder, rd.leaseTTL)
	if err != nil {
		return fmt.Errorf("taking the lease: %w", err)
	}
	if !held {
		rd.logger.Debug("another instance reads the sms delivery logs")
		return nil
	}
	for _, group := range []string{rd.group, rd.group + failureSuffix} {
		if err := rd.readGroup(ctx, group); err != nil {
			return err
		}
	}
	return nil
}

// retryWait is how long to wait before the next round after failures failed rounds in a
// row: the interval, doubled for each failure after the first, at most maxBackoff (or the
// interval, when it is longer).
func retryWait(every time.Duration, failures int) time.Duration {
	limit := max(every, maxBackoff)
	wait := every
	for i := 1; i < failures && wait < limit; i++ {
		wait *= 2
	}
	return min(wait, limit)
}

// sleep waits for d, and reports false if ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// newHolder is a random name for one run in the lease.
func newHolder() string {
	b := make([]byte, 12)
	rand.Read(b) //nolint:errcheck // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}
