package awsdouble

import "sync"

// Faults is a double's plan of faults (F is the double's own Fault type) and its count of
// requests: FailNext faults meet the next requests they apply to, in order, before the one
// fault of Set, which meets every request it applies to. The zero F is no fault, and the
// zero Faults plans none. Its methods are safe for concurrent use.
type Faults[F any] struct {
	mu       sync.Mutex
	next     []F
	always   F
	requests map[string]int // operation → requests, faulted or not
	attempts int
}

// FailNext makes the next n requests that f applies to meet f, before the fault of Set.
func (q *Faults[F]) FailNext(n int, f F) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for range n {
		q.next = append(q.next, f)
	}
}

// Set makes every request that f applies to meet f, until changed; the zero F turns it off.
func (q *Faults[F]) Set(f F) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.always = f
}

// Clear drops every planned fault, of FailNext and of Set.
func (q *Faults[F]) Clear() {
	q.mu.Lock()
	defer q.mu.Unlock()
	var zero F
	q.next, q.always = nil, zero
}

// Reset drops every planned fault and forgets the requests counted.
func (q *Faults[F]) Reset() {
	q.mu.Lock()
	defer q.mu.Unlock()
	var zero F
	q.next, q.always = nil, zero
	q.requests, q.attempts = nil, 0
}

// Take counts a request for the operation op and picks its fault: the first FailNext fault
// that applies to op, else the fault of Set if it applies, else the zero F. A nil applies
// lets every fault apply to every operation.
func (q *Faults[F]) Take(op string, applies func(f F, op string) bool) F {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.requests == nil {
		q.requests = map[string]int{}
	}
	q.requests[op]++
	q.attempts++
	for i, f := range q.next {
		if applies == nil || applies(f, op) {
			q.next = append(q.next[:i], q.next[i+1:]...)
			return f
		}
	}
	if applies == nil || applies(q.always, op) {
		return q.always
	}
	var zero F
	return zero
}

// Requests is how many requests for op were counted, faulted or not.
func (q *Faults[F]) Requests(op string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.requests[op]
}

// Attempts is how many requests were counted, of every operation, faulted or not.
func (q *Faults[F]) Attempts() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.attempts
}
