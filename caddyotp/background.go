package caddyotp

import (
	"context"
	"sync"
	"time"
)

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

// SendInBackground sends req on its own, after the caller has answered its request, with
// the send timeout and five seconds more, and then calls done (when not nil) with the
// outcome. Stop waits for it. It reports whether the send was started: not once the app
// is stopping.
func (a *App) SendInBackground(req SendRequest, done func(SendResult, error)) bool {
	return a.bg.run(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(a.SendTimeout)+5*time.Second)
		defer cancel()
		res, err := a.Send(ctx, req)
		if done != nil {
			done(res, err)
		}
	})
}
