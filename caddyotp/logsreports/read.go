package logsreports

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"go.uber.org/zap"

	"github.com/caddyotp/caddyotp/caddyotp"
)

const (
	// overlap is how far before its cursor a read starts again: CloudWatch Logs may ingest
	// an event after later ones were read, and the store applies each report once.
	overlap = 5 * time.Minute
	// firstLookback is how far back the first read of a group (no cursor yet) starts.
	firstLookback = time.Hour
	// callTimeout bounds one FilterLogEvents call, so a connection that hangs ends a round.
	callTimeout = 30 * time.Second
)

// logsClient is the part of the CloudWatch Logs client the reader uses.
type logsClient interface {
	FilterLogEvents(ctx context.Context, in *cloudwatchlogs.FilterLogEventsInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.FilterLogEventsOutput, error)
}

// reading is one run of a reader: its client, where its reports go, and who it is in the
// lease.
type reading struct {
	client   logsClient
	sink     caddyotp.ReportSink
	logger   *zap.Logger
	group    string // the configured log group; its /Failure sibling is read too
	holder   string
	leaseTTL time.Duration
}

// cursor is a group's read position as saved in the store: every event with a timestamp
// before TS (milliseconds since the epoch) was read.
type cursor struct {
	TS int64 `json:"ts"`
}

// readCounts counts what one read of a group did.
type readCounts struct {
	events, applied, duplicate, unknown, skipped int
}

// readGroup reads group from its cursor (less the overlap) to now, page by page, applies
// every final report and then saves now as the cursor. A missing group is read as empty.
// On an AWS or store error it stops and saves nothing, so the next round reads it again.
func (rd *reading) readGroup(ctx context.Context, group string) error {
	name := cursorPrefix + group
	end := time.Now().UnixMilli()
	start, err := rd.start(ctx, name, end)
	if err != nil {
		return err
	}
	in := &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(group), StartTime: aws.Int64(start), EndTime: aws.Int64(end)}
	var counts readCounts
	for {
		callCtx, cancel := context.WithTimeout(ctx, callTimeout)
		out, err := rd.client.FilterLogEvents(callCtx, in)
		cancel()
		var notFound *types.ResourceNotFoundException
		if errors.As(err, &notFound) {
			rd.logger.Debug("no such log group yet", zap.String("group", group))
			break
		}
		if err != nil {
			return fmt.Errorf("reading log group %s: %w", group, err)
		}
		for _, e := range out.Events {
			if err := rd.apply(ctx, group, e, &counts); err != nil {
				return err
			}
		}
		if aws.ToString(out.NextToken) == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	value, _ := json.Marshal(cursor{TS: end})
	if err := rd.sink.SetCursor(ctx, name, string(value)); err != nil {
		return fmt.Errorf("saving the cursor of log group %s: %w", group, err)
	}
	if counts.events > 0 {
		rd.logger.Debug("read sms delivery logs", zap.String("group", group), zap.Int("events", counts.events),
			zap.Int("applied", counts.applied), zap.Int("duplicate", counts.duplicate),
			zap.Int("unknown", counts.unknown), zap.Int("skipped", counts.skipped))
	}
	return nil
}

// start is the time (milliseconds) a read of the group whose cursor is name starts from: the
// overlap before the saved position, or firstLookback before end without one. A cursor
// ahead of end (another instance's clock) counts as end.
func (rd *reading) start(ctx context.Context, name string, end int64) (int64, error) {
	raw, err := rd.sink.Cursor(ctx, name)
	if err != nil {
		return 0, fmt.Errorf("reading the cursor %s: %w", name, err)
	}
	if raw == "" {
		return end - firstLookback.Milliseconds(), nil
	}
	var c cursor
	if err := json.Unmarshal([]byte(raw), &c); err != nil || c.TS <= 0 {
		rd.logger.Warn("ignoring a cursor that makes no sense", zap.String("cursor", name), zap.String("value", raw))
		return end - firstLookback.Milliseconds(), nil
	}
	return min(c.TS, end) - overlap.Milliseconds(), nil
}

// apply hands the report in one log event to the sink. A message that is no delivery log,
// or a report the sink refuses as invalid, is logged and skipped; any other error from the
// sink (the store did not answer) is returned.
func (rd *reading) apply(ctx context.Context, group string, e types.FilteredLogEvent, counts *readCounts) error {
	counts.events++
	r, final, err := parseDeliveryLog(aws.ToString(e.Message), aws.ToInt64(e.Timestamp))
	if err != nil {
		counts.skipped++
		// the message is not logged: it holds a phone number
		rd.logger.Warn("skipping a log event that is no sms delivery log", zap.String("group", group),
			zap.String("event_id", aws.ToString(e.EventId)), zap.Error(err))
		return nil
	}
	if !final {
		counts.skipped++
		rd.logger.Debug("skipping a delivery log without a final status", zap.String("message_id", r.MessageID))
		return nil
	}
	out, err := rd.sink.ApplyReport(ctx, r)
	if errors.Is(err, caddyotp.ErrInvalidArgument) {
		counts.skipped++
		rd.logger.Warn("skipping a delivery report that makes no sense", zap.String("message_id", r.MessageID), zap.Error(err))
		return nil
	}
	if err != nil {
		return fmt.Errorf("applying the report of message %s: %w", r.MessageID, err)
	}
	switch out {
	case caddyotp.ReportApplied:
		counts.applied++
	case caddyotp.ReportDuplicate:
		counts.duplicate++
	default:
		counts.unknown++
	}
	return nil
}
