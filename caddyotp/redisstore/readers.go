package redisstore

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/caddyotp/caddyotp/caddyotp"
)

// The state of the report readers: leases and cursors.

// TakeLease implements Store.
func (s *RedisStore) TakeLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	if err := caddyotp.CheckLease(name, holder, ttl); err != nil {
		return false, err
	}
	n, err := s.runInt(ctx, "take_lease", takeLeaseScript, []string{s.keys.lease(name)}, holder, millis(ttl))
	if err != nil {
		return false, err
	}
	switch n {
	case 0:
		return false, nil
	case 1:
		return true, nil
	}
	return false, badReply("take_lease")
}

// Cursor implements Store.
func (s *RedisStore) Cursor(ctx context.Context, name string) (string, error) {
	if err := caddyotp.CheckCursorName(name); err != nil {
		return "", err
	}
	v, err := s.client.Get(ctx, s.keys.cursor(name)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", unavailable("reading cursor", err)
	}
	return v, nil
}

// SetCursor implements Store.
func (s *RedisStore) SetCursor(ctx context.Context, name, value string) error {
	if err := caddyotp.CheckCursorName(name); err != nil {
		return err
	}
	if err := s.client.Set(ctx, s.keys.cursor(name), value, caddyotp.ReaderStateTTL).Err(); err != nil {
		return unavailable("saving cursor", err)
	}
	return nil
}
