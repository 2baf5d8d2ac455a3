package sqsdouble

import (
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/caddyotp/caddyotp/internal/awsdouble"
)

// message is one message of the queue, from its send until its delete.
type message struct {
	id           string
	body         string
	md5          string
	sent         time.Time
	firstReceive time.Time
	receives     int
	visibleAt    time.Time // in flight until then
	handle       string    // the receipt handle of the latest receive; only it deletes
}

// received is a message as one ReceiveMessage hands it out.
type received struct {
	id, body, md5, handle string
	receives              int
	sent, firstReceive    time.Time
}

// put adds a message, visible after delay. The caller holds d.mu.
func (d *Double) put(body string, delay time.Duration) string {
	now := time.Now()
	sum := md5.Sum([]byte(body))
	m := &message{id: awsdouble.NewUUID(), body: body, md5: hex.EncodeToString(sum[:]), sent: now, visibleAt: now.Add(delay)}
	d.queue = append(d.queue, m)
	d.signal()
	return m.id
}

// takeVisible receives up to max visible messages, oldest first, hiding each for
// visibility. It also returns when the next hidden message becomes visible (zero when
// none is hidden). The caller holds d.mu.
func (d *Double) takeVisible(max int, visibility time.Duration) ([]received, time.Time) {
	now := time.Now()
	var out []received
	var next time.Time
	for _, m := range d.queue {
		if m.visibleAt.After(now) {
			if next.IsZero() || m.visibleAt.Before(next) {
				next = m.visibleAt
			}
			continue
		}
		if len(out) == max {
			continue
		}
		m.receives++
		if m.firstReceive.IsZero() {
			m.firstReceive = now
		}
		m.visibleAt = now.Add(visibility)
		m.handle = newReceiptHandle(m.id)
		d.handles[m.handle] = m.id
		out = append(out, received{id: m.id, body: m.body, md5: m.md5, handle: m.handle,
			receives: m.receives, sent: m.sent, firstReceive: m.firstReceive})
		if m.visibleAt.Before(next) || next.IsZero() {
			next = m.visibleAt
		}
	}
	return out, next
}

// deleteResult says what a DeleteMessage did.
type deleteResult int

const (
	deleted       deleteResult = iota // the message is gone
	deletedBefore                     // the handle's message was already gone: nothing to do
	staleHandle                       // the message was received again since: it stays
	invalidHandle                     // the double never issued this handle
)

// delete removes the message whose latest receipt handle is handle. As SQS documents, a
// handle from an earlier receive of a message that was received again succeeds but may
// leave the message in the queue; here it always does. The caller holds d.mu.
func (d *Double) delete(handle string) deleteResult {
	id, ok := d.handles[handle]
	if !ok {
		return invalidHandle
	}
	for i, m := range d.queue {
		if m.id != id {
			continue
		}
		if m.handle != handle {
			return staleHandle
		}
		d.queue = append(d.queue[:i], d.queue[i+1:]...)
		d.deletes++
		d.signal()
		return deleted
	}
	return deletedBefore
}

// signal wakes every waiting long poll. The caller holds d.mu.
func (d *Double) signal() {
	close(d.changed)
	d.changed = make(chan struct{})
}

// newReceiptHandle is an opaque handle, new at every receive, naming its message as SQS's
// own do (base64 of the message id and random bytes).
func newReceiptHandle(id string) string {
	b := make([]byte, 48)
	rand.Read(b) //nolint:errcheck // crypto/rand.Read never fails
	return base64.StdEncoding.EncodeToString(append([]byte(id+"#"), b...))
}

// millis is a time as SQS's timestamp attributes write it: Unix milliseconds, in a string.
func millis(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }
