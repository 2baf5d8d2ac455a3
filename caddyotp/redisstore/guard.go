// The pumping guard's counts and blocks.

package redisstore

import (
	"context"
	_ "embed"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/caddyotp/caddyotp/caddyotp"
)

var (
	//go:embed scripts/guard_count.lua
	guardCountLua    string
	guardCountScript = redis.NewScript(guardCountLua)

	//go:embed scripts/guard_blocked.lua
	guardBlockedLua    string
	guardBlockedScript = redis.NewScript(guardBlockedLua)

	//go:embed scripts/guard_blocks.lua
	guardBlocksLua    string
	guardBlocksScript = redis.NewScript(guardBlocksLua)
)

// GuardBlocked implements caddyotp.GuardStore.
func (s *RedisStore) GuardBlocked(ctx context.Context, template string, keys []string) (time.Duration, error) {
	if len(keys) == 0 {
		return 0, fmt.Errorf("%w: guard without keys", caddyotp.ErrInvalidArgument)
	}
	args := make([]any, len(keys))
	for i, key := range keys {
		args[i] = key
	}
	ms, err := s.runInt(ctx, "guard_blocked", guardBlockedScript, []string{s.keys.guardBlocks(template)}, args...)
	if err != nil {
		return 0, err
	}
	if ms < 0 {
		return 0, badReply("guard_blocked")
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// GuardBlocks implements caddyotp.GuardStore.
func (s *RedisStore) GuardBlocks(ctx context.Context, template string) (map[string]time.Duration, error) {
	if template == "" {
		return nil, fmt.Errorf("%w: guard without a template", caddyotp.ErrInvalidArgument)
	}
	v, err := guardBlocksScript.Run(ctx, s.client, []string{s.keys.guardBlocks(template)}).Result()
	if err != nil {
		return nil, unavailable("guard_blocks", err)
	}
	arr, ok := v.([]any)
	if !ok || len(arr)%2 != 0 {
		return nil, badReply("guard_blocks")
	}
	out := make(map[string]time.Duration, len(arr)/2)
	for i := 0; i < len(arr); i += 2 {
		key, ok1 := arr[i].(string)
		ms, ok2 := arr[i+1].(int64)
		if !ok1 || !ok2 || ms <= 0 {
			return nil, badReply("guard_blocks")
		}
		out[key] = time.Duration(ms) * time.Millisecond
	}
	return out, nil
}

// GuardCount implements caddyotp.GuardStore: one script over the template's guard keys,
// which share a slot. The windows are those of at; the blocks run on Redis TIME.
func (s *RedisStore) GuardCount(ctx context.Context, template string, keys []string, verified bool, p caddyotp.GuardPolicy, at time.Time) ([]string, error) {
	if err := caddyotp.CheckGuardArgs(keys, p); err != nil {
		return nil, err
	}
	current := caddyotp.GuardWindowIndex(at, p.Window)
	// GuardWindowCounts of one in the previous window and none in the current is the share
	// of the previous window that counts; the script weighs the previous counts by it.
	share := caddyotp.GuardWindowCounts(1, 0, p.Window, at)
	counter := 0
	if verified {
		counter = 1
	}
	args := make([]any, 0, 6+len(keys))
	args = append(args, counter, millis(2*p.Window), strconv.FormatFloat(share, 'g', -1, 64),
		p.MinSends, strconv.FormatFloat(p.MinConversion, 'g', -1, 64), millis(p.Block))
	for _, key := range keys {
		args = append(args, key)
	}
	redisKeys := []string{s.keys.guardWindow(template, current), s.keys.guardWindow(template, current-1), s.keys.guardBlocks(template)}
	v, err := guardCountScript.Run(ctx, s.client, redisKeys, args...).Result()
	if err != nil {
		return nil, unavailable("guard_count", err)
	}
	arr, ok := v.([]any)
	if !ok {
		return nil, badReply("guard_count")
	}
	var hits []string
	for _, x := range arr {
		key, ok := x.(string)
		if !ok {
			return nil, badReply("guard_count")
		}
		hits = append(hits, key)
	}
	return hits, nil
}
