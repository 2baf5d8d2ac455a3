package redisstore

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/caddyotp/caddyotp/caddyotp"
)

// The revocation feed's timings. A feed that has been silent for revocationSilence (no
// pong, no message) is broken, so a dead connection is noticed within a second even when
// no RST or FIN ever arrives.
const (
	revocationPing       = 300 * time.Millisecond
	revocationSilence    = 700 * time.Millisecond
	revocationBackoffMin = 100 * time.Millisecond
	revocationBackoffMax = time.Second
	// revocationSkew is how far instances' clocks may disagree: a revocation's end comes
	// from the revoking instance's clock, and Redis keeps it that much longer.
	revocationSkew = time.Minute
)

// errFeedSilent is a revocation feed that stopped answering pings.
var errFeedSilent = errors.New("no pong within " + revocationSilence.String())

// RevokeSession implements Store. It writes the revocation and publishes it in one script.
func (s *RedisStore) RevokeSession(ctx context.Context, id string, until time.Time) error {
	if err := caddyotp.CheckRevocation(id, until, time.Now()); err != nil {
		return err
	}
	_, err := s.runInt(ctx, "revoke_session", revokeSessionScript, []string{s.keys.revokedSessions()},
		id, caddyotp.RevocationEnd(until).UnixMilli(), s.keys.revocations(), millis(revocationSkew))
	return err
}

// WatchRevocations implements Store. Each round subscribes to the channel, waits for the
// subscription to be confirmed, and only then loads the whole set, so that a revocation
// made in between arrives at least once (maybe twice). A round ends at any receive error
// or silence; health(false) is called at once, and the next round starts after a backoff
// of 100ms that doubles up to 1s. Once ctx ends, health is not called again.
func (s *RedisStore) WatchRevocations(ctx context.Context, fn func(id string, until time.Time), health func(ok bool)) {
	backoff := revocationBackoffMin
	for ctx.Err() == nil {
		live := false
		ps := s.client.Subscribe(ctx) // no channel yet: no I/O
		// Closing the PubSub ends a wait for Redis at once when ctx ends.
		closed := make(chan struct{})
		stopClosing := context.AfterFunc(ctx, func() {
			_ = ps.Close()
			close(closed)
		})
		err := s.subscribeRevocations(ctx, ps)
		if err == nil {
			err = s.followRevocations(ctx, ps, fn, func() {
				live = true
				health(true)
				s.logger.Debug("revocation feed live")
			})
		}
		if live && ctx.Err() == nil {
			health(false)
			backoff = revocationBackoffMin
		}
		if stopClosing() {
			_ = ps.Close()
		} else {
			<-closed
		}
		if ctx.Err() != nil {
			return
		}
		if live {
			s.logger.Warn("revocation feed broken, reconnecting", zap.Error(err))
		} else {
			s.logger.Debug("revocation feed not live", zap.Duration("retry_in", backoff), zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, revocationBackoffMax)
	}
}

// subscribeRevocations subscribes ps to the revocation channel and waits for Redis to
// confirm it.
func (s *RedisStore) subscribeRevocations(ctx context.Context, ps *redis.PubSub) error {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(s.DialTimeout)+time.Duration(s.ReadTimeout))
	defer cancel()
	if err := ps.Subscribe(ctx, s.keys.revocations()); err != nil {
		return fmt.Errorf("subscribing: %w", err)
	}
	for {
		wait := time.Duration(s.ReadTimeout)
		if d, ok := ctx.Deadline(); ok {
			wait = min(wait, time.Until(d))
		}
		if wait <= 0 {
			return errors.New("subscribing: no confirmation")
		}
		msg, err := ps.ReceiveTimeout(ctx, wait)
		if err != nil {
			return fmt.Errorf("subscribing: %w", err)
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" && m.Channel == s.keys.revocations() {
				return nil
			}
		case *redis.Pong:
		default:
			return fmt.Errorf("subscribing: unexpected %T", msg)
		}
	}
}

// followRevocations loads the revocations in force, delivers them, calls live, and then
// delivers each announced one until the feed breaks (the error says how) or ctx ends.
func (s *RedisStore) followRevocations(ctx context.Context, ps *redis.PubSub, fn func(string, time.Time), live func()) error {
	loaded, err := s.loadRevocations(ctx)
	if err != nil {
		return err
	}
	for _, r := range loaded {
		fn(r.id, r.until)
	}
	live()

	heard := time.Now() // anything from Redis, pongs included
	nextPing := heard.Add(revocationPing)
	for ctx.Err() == nil {
		now := time.Now()
		if now.Sub(heard) >= revocationSilence {
			return errFeedSilent
		}
		if !now.Before(nextPing) {
			if err := ps.Ping(ctx); err != nil {
				return fmt.Errorf("ping: %w", err)
			}
			nextPing = now.Add(revocationPing)
		}
		// Never 0, which would mean no timeout at all.
		wait := max(min(nextPing.Sub(now), heard.Add(revocationSilence).Sub(now)), time.Millisecond)
		msg, err := ps.ReceiveTimeout(ctx, wait)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("receiving: %w", err)
		}
		heard = time.Now()
		switch m := msg.(type) {
		case *redis.Message:
			r, ok := parseRevocation(m.Payload)
			if !ok {
				// Fail closed: the next round reloads the set, which is the truth.
				return errors.New("receiving: revocation that makes no sense")
			}
			if heard.Before(r.until) {
				fn(r.id, r.until)
			}
		case *redis.Pong:
		case *redis.Subscription:
			if m.Kind != "subscribe" {
				return fmt.Errorf("receiving: %s from %s", m.Kind, m.Channel)
			}
		default:
			return fmt.Errorf("receiving: unexpected %T", msg)
		}
	}
	return ctx.Err()
}

// loadRevocations reads every revocation still in force.
func (s *RedisStore) loadRevocations(ctx context.Context) ([]revocation, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(s.ReadTimeout))
	defer cancel()
	zs, err := s.client.ZRangeByScoreWithScores(ctx, s.keys.revokedSessions(), &redis.ZRangeBy{
		Min: "(" + strconv.FormatInt(time.Now().UnixMilli(), 10),
		Max: "+inf",
	}).Result()
	if err != nil {
		return nil, unavailable("loading revocations", err)
	}
	out := make([]revocation, 0, len(zs))
	for _, z := range zs {
		id, ok := z.Member.(string)
		if !ok || !caddyotp.IsSessionID(id) {
			return nil, badReply("loading revocations")
		}
		out = append(out, revocation{id: id, until: time.UnixMilli(int64(z.Score))})
	}
	return out, nil
}

// parseRevocation reads an announcement: "<id> <until in Unix ms>".
func parseRevocation(payload string) (revocation, bool) {
	id, ms, ok := strings.Cut(payload, " ")
	if !ok || !caddyotp.IsSessionID(id) {
		return revocation{}, false
	}
	n, err := strconv.ParseInt(ms, 10, 64)
	if err != nil || n <= 0 {
		return revocation{}, false
	}
	return revocation{id: id, until: time.UnixMilli(n)}, true
}

// revocation is one revoked gate session and the end of its revocation.
type revocation struct {
	id    string
	until time.Time
}
