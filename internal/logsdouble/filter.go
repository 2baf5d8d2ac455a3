package logsdouble

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/caddyotp/caddyotp/internal/awsdouble"
)

// filterRequest is a FilterLogEvents request body, with the member names of the
// CloudWatch Logs API reference.
type filterRequest struct {
	LogGroupName        string   `json:"logGroupName"`
	LogGroupIdentifier  string   `json:"logGroupIdentifier"`
	LogStreamNames      []string `json:"logStreamNames"`
	LogStreamNamePrefix string   `json:"logStreamNamePrefix"`
	StartTime           *int64   `json:"startTime"`
	EndTime             *int64   `json:"endTime"`
	FilterPattern       string   `json:"filterPattern"`
	NextToken           string   `json:"nextToken"`
	Limit               *int32   `json:"limit"`
	Interleaved         *bool    `json:"interleaved"`
	StartFromHead       *bool    `json:"startFromHead"`
	Unmask              *bool    `json:"unmask"`
}

// filteredEvent is one event of a FilterLogEvents answer (the FilteredLogEvent shape).
type filteredEvent struct {
	LogStreamName string `json:"logStreamName"`
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime"`
	EventID       string `json:"eventId"`
}

// filterResponse is a FilterLogEvents answer. searchedLogStreams is deprecated and, as AWS
// documents, always an empty list.
type filterResponse struct {
	Events             []filteredEvent `json:"events"`
	SearchedLogStreams []struct{}      `json:"searchedLogStreams"`
	NextToken          string          `json:"nextToken,omitempty"`
}

// invalidParameter is CloudWatch Logs' answer to a request it will not run.
func invalidParameter(message string) Fault {
	return Fault{Code: "InvalidParameterException", Status: http.StatusBadRequest, Message: message}
}

// serveFilterLogEvents answers one FilterLogEvents request: the group's events from
// startTime to endTime (both included, milliseconds), oldest first, at most a page of them,
// with a nextToken when more follow.
func (d *Double) serveFilterLogEvents(w http.ResponseWriter, r *http.Request, requestID string) {
	var req filterRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		writeError(w, requestID, Fault{Code: "SerializationException", Status: http.StatusBadRequest, Message: err.Error()})
		return
	}
	group := groupName(req)
	d.mu.Lock()
	d.requests = append(d.requests, Request{LogGroup: group, StartTime: req.StartTime, EndTime: req.EndTime,
		Limit: req.Limit, NextToken: req.NextToken})
	d.mu.Unlock()

	if f := d.takeFault(); f != nil {
		writeError(w, requestID, *f)
		return
	}
	if f := checkFilterRequest(req); f != nil {
		writeError(w, requestID, *f)
		return
	}
	resp, f := d.page(group, req)
	if f != nil {
		writeError(w, requestID, *f)
		return
	}
	awsdouble.Answer(w, awsdouble.JSON11, requestID, http.StatusOK, resp)
}

// groupName is the group a request names, by name or by identifier (a name or an ARN).
func groupName(req filterRequest) string {
	if req.LogGroupName != "" {
		return req.LogGroupName
	}
	id := req.LogGroupIdentifier
	if strings.HasPrefix(id, "arn:") {
		if i := strings.Index(id, ":log-group:"); i >= 0 {
			id = strings.TrimSuffix(id[i+len(":log-group:"):], ":*")
		}
	}
	return id
}

// checkFilterRequest refuses what CloudWatch Logs refuses, and what the double does not do.
func checkFilterRequest(req filterRequest) *Fault {
	var f Fault
	switch {
	case req.LogGroupName == "" && req.LogGroupIdentifier == "":
		f = invalidParameter("You must include either logGroupIdentifier or logGroupName, but not both.")
	case req.LogGroupName != "" && req.LogGroupIdentifier != "":
		f = invalidParameter("LogGroupName and LogGroupIdentifier are mutually exclusive parameters.")
	case req.Limit != nil && (*req.Limit < 1 || *req.Limit > maxLimit):
		f = invalidParameter("1 validation error detected: Value '" + strconv.Itoa(int(*req.Limit)) +
			"' at 'limit' failed to satisfy constraint: Member must have value between 1 and 10000")
	case req.StartTime != nil && *req.StartTime < 0, req.EndTime != nil && *req.EndTime < 0:
		f = invalidParameter("startTime and endTime must not be negative")
	case len(req.LogStreamNames) > 0 || req.LogStreamNamePrefix != "" || req.FilterPattern != "":
		f = invalidParameter("the double does not filter by log stream or pattern")
	default:
		return nil
	}
	return &f
}

// page is one page of the answer to req about group.
func (d *Double) page(group string, req filterRequest) (filterResponse, *Fault) {
	d.mu.Lock()
	defer d.mu.Unlock()
	events, ok := d.groups[group]
	if !ok {
		return filterResponse{}, &Fault{Code: "ResourceNotFoundException", Status: http.StatusBadRequest,
			Message: "The specified log group does not exist."}
	}
	// the position after the previous page: before every event without a token
	posTS, posSeq := int64(-1<<63), int64(0)
	if req.NextToken != "" {
		var ok bool
		if posTS, posSeq, ok = parseToken(req.NextToken, group); !ok {
			f := invalidParameter("The specified nextToken is invalid.")
			return filterResponse{}, &f
		}
	}
	limit := d.pageSize
	if req.Limit != nil {
		limit = int(*req.Limit)
	}
	resp := filterResponse{Events: []filteredEvent{}, SearchedLogStreams: []struct{}{}}
	var lastTS, lastSeq int64
	for _, e := range events {
		if !after(e, posTS, posSeq) || (req.StartTime != nil && e.timestamp < *req.StartTime) ||
			(req.EndTime != nil && e.timestamp > *req.EndTime) {
			continue
		}
		if len(resp.Events) == limit {
			resp.NextToken = token(group, lastTS, lastSeq)
			break
		}
		resp.Events = append(resp.Events, filteredEvent{LogStreamName: e.stream, Timestamp: e.timestamp,
			Message: e.message, IngestionTime: e.ingested, EventID: e.id})
		lastTS, lastSeq = e.timestamp, e.seq
	}
	return resp, nil
}

// token is the opaque nextToken for the position after the event (ts, seq) of group.
func token(group string, ts, seq int64) string {
	raw := group + "\x00" + strconv.FormatInt(ts, 10) + "\x00" + strconv.FormatInt(seq, 10)
	return "v1/" + base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// parseToken reads a nextToken that token made for group.
func parseToken(tok, group string) (ts, seq int64, ok bool) {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(tok, "v1/"))
	if err != nil || !strings.HasPrefix(tok, "v1/") {
		return 0, 0, false
	}
	parts := strings.Split(string(raw), "\x00")
	if len(parts) != 3 || parts[0] != group {
		return 0, 0, false
	}
	ts, err1 := strconv.ParseInt(parts[1], 10, 64)
	seq, err2 := strconv.ParseInt(parts[2], 10, 64)
	return ts, seq, err1 == nil && err2 == nil
}

// writeError answers with an AWS JSON 1.1 error document.
func writeError(w http.ResponseWriter, requestID string, f Fault) {
	status := f.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	awsdouble.Answer(w, awsdouble.JSON11, requestID, status, map[string]string{"__type": f.Code, "message": f.Message})
}
