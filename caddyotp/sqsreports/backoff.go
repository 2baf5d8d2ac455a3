package sqsreports

import (
	"context"
	"math/rand/v2"
	"time"
)

// The wait after a failed round (AWS unreachable or throttling, the store not answering):
// from about a second, doubling at each failure in a row, up to a minute.
const (
	defaultBackoffMin = time.Second
	defaultBackoffMax = time.Minute
)

// backoff is the wait after failures failed rounds in a row: lo doubled at each failure
// after the first, capped at hi, then a random point in its upper half, so that readers
// that failed together do not come back together.
func backoff(failures int, lo, hi time.Duration) time.Duration {
	d := lo
	for i := 1; i < failures && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	half := d / 2
	return half + rand.N(d-half+1)
}

// sleep waits for d or until ctx ends, and reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}
