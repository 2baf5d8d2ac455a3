package sqsdouble

import (
	"fmt"
	"net/http"
	"slices"
	"time"
	"unicode/utf8"
)

// request holds the members of the three operations' inputs that the double reads, as
// SQS's JSON protocol names them (aws-sdk-go-v2 service/sqs schemas).
type request struct {
	QueueURL string `json:"QueueUrl"`

	// SendMessage
	MessageBody  *string `json:"MessageBody"`
	DelaySeconds *int    `json:"DelaySeconds"`

	// ReceiveMessage; AttributeNames is the deprecated spelling of MessageSystemAttributeNames
	AttributeNames              []string `json:"AttributeNames"`
	MessageSystemAttributeNames []string `json:"MessageSystemAttributeNames"`
	MaxNumberOfMessages         *int     `json:"MaxNumberOfMessages"`
	VisibilityTimeout           *int     `json:"VisibilityTimeout"`
	WaitTimeSeconds             *int     `json:"WaitTimeSeconds"`

	// DeleteMessage
	ReceiptHandle *string `json:"ReceiptHandle"`
}

// maxBodyBytes is SQS's largest message: 256 KiB.
const maxBodyBytes = 256 << 10

type sendMessageResult struct {
	MD5OfMessageBody string `json:"MD5OfMessageBody"`
	MessageID        string `json:"MessageId"`
}

func (d *Double) sendMessage(req request) (any, *Fault) {
	if req.MessageBody == nil || *req.MessageBody == "" {
		f := invalidParameter("The request must contain the parameter MessageBody.")
		return nil, &f
	}
	body := *req.MessageBody
	if len(body) > maxBodyBytes {
		f := invalidParameter(fmt.Sprintf("One or more parameters are invalid. Reason: Message must be shorter than %d bytes.", maxBodyBytes))
		return nil, &f
	}
	if !utf8.ValidString(body) {
		f := invalidParameter("Invalid binary character in the message body.")
		return nil, &f
	}
	delay := 0
	if req.DelaySeconds != nil {
		delay = *req.DelaySeconds
	}
	if delay < 0 || delay > 900 {
		f := invalidParameter(fmt.Sprintf("Value %d for parameter DelaySeconds is invalid. Reason: must be between 0 and 900.", delay))
		return nil, &f
	}
	d.mu.Lock()
	id := d.put(body, time.Duration(delay)*time.Second)
	sum := d.queue[len(d.queue)-1].md5
	d.mu.Unlock()
	return sendMessageResult{MD5OfMessageBody: sum, MessageID: id}, nil
}

type receiveMessageResult struct {
	Messages []messageJSON `json:"Messages,omitempty"`
}

type messageJSON struct {
	MessageID     string            `json:"MessageId"`
	ReceiptHandle string            `json:"ReceiptHandle"`
	MD5OfBody     string            `json:"MD5OfBody"`
	Body          string            `json:"Body"`
	Attributes    map[string]string `json:"Attributes,omitempty"`
}

// receiveMessage hands out up to MaxNumberOfMessages visible messages. With
// WaitTimeSeconds it long-polls: it waits until a message is visible, the wait is over, or
// the client goes away.
func (d *Double) receiveMessage(r *http.Request, req request) (any, *Fault) {
	max, wait := 1, 0
	if req.MaxNumberOfMessages != nil {
		max = *req.MaxNumberOfMessages
	}
	if req.WaitTimeSeconds != nil {
		wait = *req.WaitTimeSeconds
	}
	if max < 1 || max > 10 {
		f := invalidParameter(fmt.Sprintf("Value %d for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.", max))
		return nil, &f
	}
	if wait < 0 || wait > 20 {
		f := invalidParameter(fmt.Sprintf("Value %d for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.", wait))
		return nil, &f
	}
	if req.VisibilityTimeout != nil && (*req.VisibilityTimeout < 0 || *req.VisibilityTimeout > 43200) {
		f := invalidParameter(fmt.Sprintf("Value %d for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200.", *req.VisibilityTimeout))
		return nil, &f
	}
	names := append(slices.Clone(req.AttributeNames), req.MessageSystemAttributeNames...)

	deadline := time.Now().Add(time.Duration(wait) * time.Second)
	for {
		d.mu.Lock()
		visibility := d.visibility
		if req.VisibilityTimeout != nil {
			visibility = time.Duration(*req.VisibilityTimeout) * time.Second
		}
		got, next := d.takeVisible(max, visibility)
		changed := d.changed
		if len(got) > 0 || !time.Now().Before(deadline) {
			d.mu.Unlock()
			return receiveMessageResult{Messages: messagesJSON(got, names)}, nil
		}
		d.waiting++
		d.mu.Unlock()

		timeout := time.Until(deadline)
		if !next.IsZero() && time.Until(next) < timeout {
			timeout = time.Until(next)
		}
		timer := time.NewTimer(timeout)
		var gone bool
		select {
		case <-changed:
		case <-timer.C:
		case <-r.Context().Done():
			gone = true
		case <-d.Server.Closing():
			gone = true
		}
		timer.Stop()
		d.mu.Lock()
		d.waiting--
		d.mu.Unlock()
		if gone {
			return receiveMessageResult{}, nil
		}
	}
}

// messagesJSON writes the messages with the system attributes asked for ("All" for all).
func messagesJSON(got []received, names []string) []messageJSON {
	want := func(name string) bool { return slices.Contains(names, name) || slices.Contains(names, "All") }
	out := make([]messageJSON, len(got))
	for i, m := range got {
		attrs := map[string]string{}
		if want("ApproximateReceiveCount") {
			attrs["ApproximateReceiveCount"] = fmt.Sprint(m.receives)
		}
		if want("SentTimestamp") {
			attrs["SentTimestamp"] = millis(m.sent)
		}
		if want("ApproximateFirstReceiveTimestamp") {
			attrs["ApproximateFirstReceiveTimestamp"] = millis(m.firstReceive)
		}
		out[i] = messageJSON{MessageID: m.id, ReceiptHandle: m.handle, MD5OfBody: m.md5, Body: m.body, Attributes: attrs}
	}
	return out
}

func (d *Double) deleteMessage(req request) (any, *Fault) {
	if req.ReceiptHandle == nil || *req.ReceiptHandle == "" {
		f := invalidParameter("The request must contain the parameter ReceiptHandle.")
		return nil, &f
	}
	d.mu.Lock()
	res := d.delete(*req.ReceiptHandle)
	d.mu.Unlock()
	if res == invalidHandle {
		return nil, &receiptHandleIsInvalid
	}
	return struct{}{}, nil
}
