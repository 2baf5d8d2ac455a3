package failoversender

import (
	"sync"
	"time"
)

// circuit is the failover's memory of its routes: per route, the definite failures in a
// row and, once there were openAfter of them, until when the route is open (skipped). It
// lives in this process only: every Caddy instance, and every config load, starts with
// all routes closed. It is safe for concurrent use.
type circuit struct {
	openAfter int
	openFor   time.Duration

	mu     sync.Mutex
	routes []breaker
}

// breaker is one route's state: closed while openUntil is zero, open until openUntil,
// half-open after it (tried again; one definite failure opens it again at once, since
// failures is still at least openAfter; a success closes it). Half-open lets every send
// of the moment try the route, not just one.
type breaker struct {
	failures  int
	openUntil time.Time
}

// outcome is how an attempt at a route went, as the circuit counts it.
type outcome int

const (
	sent      outcome = iota // the SMS was sent
	definite                 // a definite failure: nothing was sent or billed
	maybeSent                // a failure that may have been sent: neither counts nor resets
)

// change is what recording an outcome did to a route.
type change int

const (
	unchanged change = iota
	opened
	closed
)

func newCircuit(routes, openAfter int, openFor time.Duration) *circuit {
	return &circuit{openAfter: openAfter, openFor: openFor, routes: make([]breaker, routes)}
}

// usable returns the indexes of the routes not open at now, in order. When every route is
// open it returns them all, in order, with allOpen true: trying a sender that failed is
// better than sending nothing.
func (c *circuit) usable(now time.Time) (idx []int, allOpen bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	idx = make([]int, 0, len(c.routes))
	for i, b := range c.routes {
		if !now.Before(b.openUntil) {
			idx = append(idx, i)
		}
	}
	if len(idx) > 0 {
		return idx, false
	}
	for i := range c.routes {
		idx = append(idx, i)
	}
	return idx, true
}

// record notes how an attempt at route i went at now.
func (c *circuit) record(i int, o outcome, now time.Time) change {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := &c.routes[i]
	switch o {
	case sent:
		wasOpen := !b.openUntil.IsZero()
		b.failures, b.openUntil = 0, time.Time{}
		if wasOpen {
			return closed
		}
	case definite:
		b.failures++
		// closed or half-open (a failure while open, from a send that got its routes
		// before the route opened, does not push the end further)
		if b.failures >= c.openAfter && !now.Before(b.openUntil) {
			b.openUntil = now.Add(c.openFor)
			return opened
		}
	}
	return unchanged
}
