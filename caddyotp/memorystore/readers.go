// The state of the report readers: leases and cursors.

package memorystore

import (
	"context"
	"time"

	"github.com/caddyotp/caddyotp/caddyotp"
)

// TakeLease implements Store. A lease counts against max_entries; its renewal never fails.
func (s *MemoryStore) TakeLease(_ context.Context, name, holder string, ttl time.Duration) (bool, error) {
	if err := caddyotp.CheckLease(name, holder, ttl); err != nil {
		return false, err
	}
	st, now := s.enter()
	defer st.mu.Unlock()
	if cur, ok := st.leases.Get(name, now); ok && cur != holder {
		return false, nil
	}
	if err := st.leases.Set(name, holder, now.Add(ttl), now); err != nil {
		return false, s.full(st, now)
	}
	return true, nil
}

// Cursor implements Store.
func (s *MemoryStore) Cursor(_ context.Context, name string) (string, error) {
	if err := caddyotp.CheckCursorName(name); err != nil {
		return "", err
	}
	st, now := s.enter()
	defer st.mu.Unlock()
	v, _ := st.cursors.Get(name, now)
	return v, nil
}

// SetCursor implements Store. A cursor counts against max_entries; saving a kept one never
// fails.
func (s *MemoryStore) SetCursor(_ context.Context, name, value string) error {
	if err := caddyotp.CheckCursorName(name); err != nil {
		return err
	}
	st, now := s.enter()
	defer st.mu.Unlock()
	if err := st.cursors.Set(name, value, now.Add(caddyotp.ReaderStateTTL), now); err != nil {
		return s.full(st, now)
	}
	return nil
}
