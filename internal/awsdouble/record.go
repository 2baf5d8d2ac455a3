package awsdouble

import (
	"fmt"
	"sync"
	"time"
)

// Record is what a double accepted, oldest first, for a test to read and to wait for. The
// zero Record is empty. Its methods are safe for concurrent use.
type Record[T any] struct {
	mu      sync.Mutex
	items   []T
	changed chan struct{} // closed at the next Add; nil while nobody waits
}

// Add appends v and wakes whoever waits.
func (r *Record[T]) Add(v T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.items = append(r.items, v)
	if r.changed != nil {
		close(r.changed)
		r.changed = nil
	}
}

// Len is how many items the record holds.
func (r *Record[T]) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.items)
}

// Items returns a copy of the items, oldest first. The items themselves are not copied: a
// double copies the maps and slices in them before it hands them out.
func (r *Record[T]) Items() []T {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]T(nil), r.items...)
}

// Any reports whether an item matches.
func (r *Record[T]) Any(match func(T) bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, v := range r.items {
		if match(v) {
			return true
		}
	}
	return false
}

// Reset forgets every item.
func (r *Record[T]) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.items = nil
}

// WaitFor waits until the record holds at least n items. It returns an error naming the
// count reached (of what, such as "publishes") if timeout passes first, or if closing
// closes.
func (r *Record[T]) WaitFor(n int, what string, timeout time.Duration, closing <-chan struct{}) error {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		r.mu.Lock()
		count := len(r.items)
		if r.changed == nil {
			r.changed = make(chan struct{})
		}
		changed := r.changed
		r.mu.Unlock()
		if count >= n {
			return nil
		}
		select {
		case <-changed:
		case <-timer.C:
			return fmt.Errorf("expected %d %s within %v, got %d", n, what, timeout, count)
		case <-closing:
			return fmt.Errorf("expected %d %s, got %d before the double closed", n, what, count)
		}
	}
}
