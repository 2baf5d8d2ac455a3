// The pumping guard's counts and blocks.

package memorystore

import (
	"context"
	"fmt"
	"time"

	"github.com/caddyotp/caddyotp/caddyotp"
)

// guardWindowKey names the counts of one guard key of a template in one fixed window
// (caddyotp.GuardWindowIndex).
type guardWindowKey struct {
	template string
	key      string
	window   int64
}

// guardTally is what one window counted under one key. Its entry lives two windows after
// its last count (expires), by the store's clock.
type guardTally struct {
	sent     int64
	verified int64
	expires  time.Time
}

// guardBlockKey names one guard key of a template; its block entry holds the block's end
// and lives until then.
type guardBlockKey struct {
	template string
	key      string
}

// GuardBlocked implements caddyotp.GuardStore.
func (s *MemoryStore) GuardBlocked(_ context.Context, template string, keys []string) (time.Duration, error) {
	if len(keys) == 0 {
		return 0, fmt.Errorf("%w: guard without keys", caddyotp.ErrInvalidArgument)
	}
	st, now := s.enter()
	defer st.mu.Unlock()
	var longest time.Duration
	for _, key := range keys {
		if end, ok := st.guardBlocks.Get(guardBlockKey{template: template, key: key}, now); ok {
			longest = max(longest, end.Sub(now))
		}
	}
	return longest, nil
}

// GuardBlocks implements caddyotp.GuardStore. It looks at every block of every template:
// they are few, each needs MinSends sends to its destination first.
func (s *MemoryStore) GuardBlocks(_ context.Context, template string) (map[string]time.Duration, error) {
	if template == "" {
		return nil, fmt.Errorf("%w: guard without a template", caddyotp.ErrInvalidArgument)
	}
	st, now := s.enter()
	defer st.mu.Unlock()
	out := map[string]time.Duration{}
	for k, end := range st.guardBlocks.All(now) {
		if k.template == template {
			out[k.key] = end.Sub(now)
		}
	}
	return out, nil
}

// GuardCount implements caddyotp.GuardStore. The windows are those of at; the blocks run
// on the store's clock. All or nothing: when the bound refuses a new window or block, what
// the count changed is undone and it fails as a full store.
func (s *MemoryStore) GuardCount(_ context.Context, template string, keys []string, verified bool, p caddyotp.GuardPolicy, at time.Time) ([]string, error) {
	if err := caddyotp.CheckGuardArgs(keys, p); err != nil {
		return nil, err
	}
	st, now := s.enter()
	defer st.mu.Unlock()

	var undo []func()
	fail := func() ([]string, error) {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
		return nil, s.full(st, now)
	}
	current := caddyotp.GuardWindowIndex(at, p.Window)
	tallies := make([]guardTally, len(keys))
	for i, key := range keys {
		wk := guardWindowKey{template: template, key: key, window: current}
		old, held := st.guardCounts.Get(wk, now)
		tl := old
		if verified {
			tl.verified++
		} else {
			tl.sent++
		}
		tl.expires = now.Add(2 * p.Window)
		if err := st.guardCounts.Set(wk, tl, tl.expires, now); err != nil {
			return fail()
		}
		if held {
			undo = append(undo, func() { st.guardCounts.Set(wk, old, old.expires, now) }) // held: never refused
		} else {
			undo = append(undo, func() { st.guardCounts.Delete(wk) })
		}
		tallies[i] = tl
	}
	if verified {
		return nil, nil
	}

	var hits []string
	for i, key := range keys {
		bk := guardBlockKey{template: template, key: key}
		if _, blocked := st.guardBlocks.Get(bk, now); blocked {
			continue
		}
		prev, _ := st.guardCounts.Get(guardWindowKey{template: template, key: key, window: current - 1}, now)
		sent := caddyotp.GuardWindowCounts(float64(prev.sent), float64(tallies[i].sent), p.Window, at)
		used := caddyotp.GuardWindowCounts(float64(prev.verified), float64(tallies[i].verified), p.Window, at)
		if !caddyotp.GuardJudge(p, sent, used) {
			continue
		}
		end := now.Add(p.Block)
		if err := st.guardBlocks.Set(bk, end, end, now); err != nil {
			return fail()
		}
		undo = append(undo, func() { st.guardBlocks.Delete(bk) })
		hits = append(hits, key)
	}
	return hits, nil
}
