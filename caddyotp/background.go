package caddyotp

import "sync"

// background runs the gate's sends after the page has been answered, and lets the app
// wait for them when it stops, so that none outlives the store it writes to.
type background struct {
	mu      sync.Mutex
	wg      sync.WaitGroup
	stopped bool
}

// run starts f unless the app is stopping; it reports whether f was started.
func (b *background) run(f func()) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopped {
		return false
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		f()
	}()
	return true
}

// stop refuses new work and waits for what runs (each bounded by the send timeout).
func (b *background) stop() {
	b.mu.Lock()
	b.stopped = true
	b.mu.Unlock()
	b.wg.Wait()
}
