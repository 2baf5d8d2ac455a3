package logsdouble

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/smithy-go"
)

func TestFilterLogEventsOrderAndTimes(t *testing.T) {
	d := New(t)
	c := clientFor(t, d)
	base := time.UnixMilli(1_750_000_000_000)
	d.Put(group, base.Add(2*time.Second), "c")
	d.Put(group, base, "a")
	d.Put(group, base.Add(3*time.Second), "d")
	d.Put(group, base.Add(time.Second), "b") // late: ingested after an event it precedes
	d.Put(group, base.Add(time.Second), "b2")
	d.Put(group+"/Failure", base, "other group")

	ms := func(d time.Duration) *int64 { return aws.Int64(base.Add(d).UnixMilli()) }
	tests := []struct {
		name       string
		start, end *int64
		want       string
	}{
		{"everything", nil, nil, "a b b2 c d"},
		{"from start, included", ms(time.Second), nil, "b b2 c d"},
		{"to end, included", nil, ms(2 * time.Second), "a b b2 c"},
		{"window", ms(time.Second), ms(2 * time.Second), "b b2 c"},
		{"empty window", ms(4 * time.Second), ms(5 * time.Second), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := filterAll(t, c, &cloudwatchlogs.FilterLogEventsInput{
				LogGroupName: aws.String(group), StartTime: tt.start, EndTime: tt.end})
			if strings.Join(got, " ") != tt.want {
				t.Errorf("expected %q, got %q", tt.want, strings.Join(got, " "))
			}
		})
	}
}

func TestFilterLogEventsEventFields(t *testing.T) {
	d := New(t)
	c := clientFor(t, d)
	ts := time.UnixMilli(1_750_000_000_123)
	before := time.Now().UnixMilli()
	id := d.Put(group, ts, SampleSuccess)
	out, err := c.FilterLogEvents(context.Background(), &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(group)})
	if err != nil {
		t.Fatalf("expected events, got %v", err)
	}
	if len(out.Events) != 1 {
		t.Fatalf("expected 1 event, got %d", len(out.Events))
	}
	e := out.Events[0]
	if aws.ToString(e.EventId) != id || aws.ToInt64(e.Timestamp) != ts.UnixMilli() || aws.ToString(e.Message) != SampleSuccess {
		t.Errorf("expected event %s at %d with the sample, got %s at %d: %q",
			id, ts.UnixMilli(), aws.ToString(e.EventId), aws.ToInt64(e.Timestamp), aws.ToString(e.Message))
	}
	if aws.ToInt64(e.IngestionTime) < before || aws.ToString(e.LogStreamName) == "" {
		t.Errorf("expected an ingestion time from %d and a stream, got %d and %q",
			before, aws.ToInt64(e.IngestionTime), aws.ToString(e.LogStreamName))
	}
	if out.NextToken != nil {
		t.Errorf("expected no next token on the last page, got %q", *out.NextToken)
	}
}

func TestFilterLogEventsPaging(t *testing.T) {
	d := New(t)
	c := clientFor(t, d)
	base := time.UnixMilli(1_750_000_000_000)
	var want []string
	for i := range 10 {
		msg := string(rune('a' + i))
		d.Put(group, base.Add(time.Duration(i/3)*time.Second), msg) // three events share a timestamp
		want = append(want, msg)
	}
	tests := []struct {
		name     string
		pageSize int
		limit    *int32
		pages    int
	}{
		{"default page", 0, nil, 3},
		{"limit", 0, aws.Int32(3), 4},
		{"limit of one", 0, aws.Int32(1), 10},
		{"exact pages", 5, nil, 2},
		{"one page", 100, nil, 1},
		{"limit below the page", 100, aws.Int32(7), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d.SetPageSize(DefaultPageSize)
			if tt.pageSize > 0 {
				d.SetPageSize(tt.pageSize)
			}
			got, pages := filterAll(t, c, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(group), Limit: tt.limit})
			if strings.Join(got, "") != strings.Join(want, "") {
				t.Errorf("expected %v, got %v", want, got)
			}
			if pages != tt.pages {
				t.Errorf("expected %d pages, got %d", tt.pages, pages)
			}
		})
	}
}

// TestFilterLogEventsLateEventDuringPaging: an event put with an old timestamp while a
// reader pages is not in that pass (its position is behind the token), as in CloudWatch
// Logs; a new pass from an earlier start finds it.
func TestFilterLogEventsLateEventDuringPaging(t *testing.T) {
	d := New(t)
	c := clientFor(t, d)
	base := time.UnixMilli(1_750_000_000_000)
	for i := range 6 {
		d.Put(group, base.Add(time.Duration(i)*time.Second), string(rune('a'+i)))
	}
	in := &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(group)}
	first, err := c.FilterLogEvents(context.Background(), in)
	if err != nil || first.NextToken == nil {
		t.Fatalf("expected a first page with a token, got %v", err)
	}
	d.Put(group, base.Add(500*time.Millisecond), "late")
	rest, _ := filterAll(t, c, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(group), NextToken: first.NextToken})
	if strings.Join(rest, " ") != "e f" {
		t.Errorf("expected the rest \"e f\", got %q", strings.Join(rest, " "))
	}
	again, _ := filterAll(t, c, in)
	if strings.Join(again, " ") != "a late b c d e f" {
		t.Errorf("expected a new pass to find the late event, got %q", strings.Join(again, " "))
	}
}

func TestFilterLogEventsErrors(t *testing.T) {
	d := New(t)
	c := clientFor(t, d)
	d.Put(group, time.Now(), "x")
	d.CreateGroup(group + "/Failure")
	tests := []struct {
		name   string
		in     cloudwatchlogs.FilterLogEventsInput
		code   string
		status int
	}{
		{"unknown group", cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("nope")}, "ResourceNotFoundException", 400},
		{"bad token", cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(group), NextToken: aws.String("v1/xyz")}, "InvalidParameterException", 400},
		{"token of another group", cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(group + "/Failure"),
			NextToken: aws.String(token(group, 1, 1))}, "InvalidParameterException", 400},
		{"limit too big", cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(group), Limit: aws.Int32(10001)}, "InvalidParameterException", 400},
		{"no group", cloudwatchlogs.FilterLogEventsInput{}, "InvalidParameterException", 400},
		{"pattern", cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(group), FilterPattern: aws.String("FAILURE")}, "InvalidParameterException", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.FilterLogEvents(context.Background(), &tt.in)
			checkAPIError(t, err, tt.code, tt.status)
		})
	}

	t.Run("not found is the modelled type", func(t *testing.T) {
		_, err := c.FilterLogEvents(context.Background(), &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("nope")})
		var nf *types.ResourceNotFoundException
		if !errors.As(err, &nf) {
			t.Errorf("expected a *types.ResourceNotFoundException, got %T: %v", err, err)
		}
	})
	t.Run("empty group", func(t *testing.T) {
		got, _ := filterAll(t, c, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(group + "/Failure")})
		if len(got) != 0 {
			t.Errorf("expected no events, got %v", got)
		}
	})
	t.Run("identifier as an arn", func(t *testing.T) {
		got, _ := filterAll(t, c, &cloudwatchlogs.FilterLogEventsInput{
			LogGroupIdentifier: aws.String("arn:aws:logs:eu-west-2:123456789012:log-group:" + group)})
		if strings.Join(got, " ") != "x" {
			t.Errorf("expected the event x, got %v", got)
		}
	})
}

// checkAPIError fails t unless err is an AWS error answer with code and HTTP status.
func checkAPIError(t *testing.T, err error, code string, status int) {
	t.Helper()
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("expected an API error %s, got %v", code, err)
	}
	if apiErr.ErrorCode() != code {
		t.Errorf("expected code %s, got %s (%v)", code, apiErr.ErrorCode(), err)
	}
	var re interface{ HTTPStatusCode() int }
	if !errors.As(err, &re) || re.HTTPStatusCode() != status {
		t.Errorf("expected status %d, got %v", status, err)
	}
}
