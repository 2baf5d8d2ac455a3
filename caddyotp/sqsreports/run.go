package sqsreports

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"go.uber.org/zap"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/internal/awsx"
)

// maxUnknownReceives is how many times a report for a message id that no ledger entry has
// is read (the queue's visibility timeout apart) before it is dropped: the send's own
// entry may be written after its first report arrives, but not minutes after.
const maxUnknownReceives = 5

const (
	// receiveSlack is how much longer than its long poll a receive may take before it is
	// given up, so that a connection that died without a word does not stop the reader.
	receiveSlack = 10 * time.Second
	// deleteTimeout bounds one DeleteMessage.
	deleteTimeout = 10 * time.Second
)

// Run reads the queue until ctx ends. Its SQS client is its own, made here and let go on
// return: a run may outlive the config that provisioned the reader.
func (r *Reader) Run(ctx context.Context, sink caddyotp.ReportSink) {
	lo, hi := r.backoffBounds()
	client, cfg, ok := r.newClient(ctx, lo, hi)
	if !ok {
		return
	}
	defer awsx.CloseIdle(cfg)

	failures := 0
	for ctx.Err() == nil {
		err := r.round(ctx, client, sink)
		if err == nil {
			failures = 0
			continue
		}
		if ctx.Err() != nil {
			return
		}
		failures++
		delay := backoff(failures, lo, hi)
		r.logger.Warn("reading sms reports failed", zap.String("queue_url", r.QueueURL),
			zap.Int("failures", failures), zap.Duration("retry_in", delay), zap.Error(err))
		if !sleep(ctx, delay) {
			return
		}
	}
}

// newClient makes the run's SQS client, trying again while the AWS configuration does not
// load (it did at provision; the environment or files may have changed since).
func (r *Reader) newClient(ctx context.Context, lo, hi time.Duration) (*sqs.Client, aws.Config, bool) {
	for failures := 1; ; failures++ {
		cfg, err := r.Connection.LoadConfig(ctx)
		if err == nil {
			// one attempt per call: the reader's own backoff decides when to try again
			client := sqs.NewFromConfig(cfg, func(o *sqs.Options) { r.Connection.SetEndpoint(&o.BaseEndpoint) })
			return client, cfg, true
		}
		delay := backoff(failures, lo, hi)
		r.logger.Error("loading the aws config for sms reports", zap.String("queue_url", r.QueueURL),
			zap.Duration("retry_in", delay), zap.Error(err))
		if !sleep(ctx, delay) {
			return nil, aws.Config{}, false
		}
	}
}

func (r *Reader) backoffBounds() (time.Duration, time.Duration) {
	lo, hi := r.backoffMin, r.backoffMax
	if lo == 0 {
		lo = defaultBackoffMin
	}
	if hi == 0 {
		hi = defaultBackoffMax
	}
	return lo, hi
}

// round receives one batch and handles it. An error means the round failed: SQS did not
// answer, or the store did not (then the rest of the batch is left in the queue, to come
// back after the visibility timeout).
func (r *Reader) round(ctx context.Context, client *sqs.Client, sink caddyotp.ReportSink) error {
	wait := time.Duration(r.Wait)
	callCtx, cancel := context.WithTimeout(ctx, wait+receiveSlack)
	out, err := client.ReceiveMessage(callCtx, &sqs.ReceiveMessageInput{
		QueueUrl:            aws.String(r.QueueURL),
		MaxNumberOfMessages: 10,
		WaitTimeSeconds:     int32(wait / time.Second),
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{
			types.MessageSystemAttributeNameApproximateReceiveCount,
		},
	})
	cancel()
	if err != nil {
		return fmt.Errorf("receiving: %w", err)
	}
	for i, m := range out.Messages {
		if ctx.Err() != nil {
			return nil // the rest come back after the visibility timeout
		}
		done, err := r.handle(ctx, sink, m)
		if err != nil {
			return fmt.Errorf("applying a report (%d messages left in the queue): %w", len(out.Messages)-i, err)
		}
		if done {
			r.delete(ctx, client, m)
		}
	}
	return nil
}

// handle applies the report a message carries, and says whether the message is done with:
// applied now or before, or not a final SMS report at all. An error is the store's: the
// message stays.
func (r *Reader) handle(ctx context.Context, sink caddyotp.ReportSink, m types.Message) (bool, error) {
	log := r.logger.With(zap.String("sqs_message_id", aws.ToString(m.MessageId)))
	ev, err := parseBody(aws.ToString(m.Body))
	if errors.Is(err, errNotSMSEvent) {
		log.Info("sqs message dropped", zap.Error(err))
		return true, nil
	}
	if err != nil {
		log.Warn("sqs message dropped: no sms report in it", zap.Error(err))
		return true, nil
	}
	log = log.With(zap.String("message_id", ev.MessageID), zap.String("event_type", ev.EventType))
	if !ev.Final {
		log.Debug("sms event dropped: not final")
		return true, nil
	}
	rep := ev.report()
	if err := caddyotp.CheckReport(rep); err != nil {
		log.Warn("sms report dropped", zap.Error(err))
		return true, nil
	}
	out, err := sink.ApplyReport(ctx, rep)
	switch {
	case errors.Is(err, caddyotp.ErrInvalidArgument):
		log.Warn("sms report dropped", zap.Error(err))
		return true, nil
	case err != nil:
		return false, err
	case out == caddyotp.ReportApplied || out == caddyotp.ReportDuplicate:
		log.Debug("sms report read", zap.String("outcome", string(out)))
		return true, nil
	}
	receives := receiveCount(m)
	if receives >= maxUnknownReceives {
		log.Warn("sms report dropped: no ledger entry has its message id", zap.Int("receives", receives))
		return true, nil
	}
	log.Debug("sms report left in the queue: no ledger entry has its message id yet", zap.Int("receives", receives))
	return false, nil
}

// receiveCount is the message's ApproximateReceiveCount; 0 when SQS did not give it.
func receiveCount(m types.Message) int {
	n, _ := strconv.Atoi(m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
	return n
}

// delete removes a message from the queue. A failure only costs a second read: the report
// comes back, and is then a duplicate.
func (r *Reader) delete(ctx context.Context, client *sqs.Client, m types.Message) {
	callCtx, cancel := context.WithTimeout(ctx, deleteTimeout)
	defer cancel()
	_, err := client.DeleteMessage(callCtx, &sqs.DeleteMessageInput{
		QueueUrl:      aws.String(r.QueueURL),
		ReceiptHandle: m.ReceiptHandle,
	})
	if err != nil && ctx.Err() == nil {
		r.logger.Warn("deleting an sqs message failed: it will be read again",
			zap.String("sqs_message_id", aws.ToString(m.MessageId)), zap.Error(err))
	}
}
