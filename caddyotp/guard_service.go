package caddyotp

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/caddyotp/caddyotp/caddyotp/internal/phone"
)

// checkGuard refuses a send to a destination the template's pumping guard has blocked.
// A guard in shadow mode refuses nothing (its blocks are only reported).
func (a *App) checkGuard(ctx context.Context, t *Template, num phone.Number) error {
	if t.Guard == nil || t.Guard.Shadow {
		return nil
	}
	wait, err := a.store.GuardBlocked(ctx, t.name, guardKeys(num))
	if err != nil {
		return StoreError(err)
	}
	if wait <= 0 {
		return nil
	}
	a.metrics.limitHits.WithLabelValues(t.name, "guard").Inc()
	return &Error{Code: CodeRateLimited, Message: "codes to this destination are paused: too few of them are used; try again later", RetryAfter: wait}
}

// countGuard counts one SMS sent (verified false) or one code used in the template's guard,
// and reports the destinations that this count blocked (or, in shadow mode, would have).
// A store failure is logged: the guard is a second step after the send or the check, and a
// lost count is not worth failing either.
func (a *App) countGuard(ctx context.Context, t *Template, num phone.Number, verified bool) {
	if t.Guard == nil {
		return
	}
	hits, err := a.store.GuardCount(context.WithoutCancel(ctx), t.name, guardKeys(num), verified, t.Guard.policy(), time.Now())
	if err != nil {
		a.logger.Warn("counting in the pumping guard", zap.String("template", t.name), zap.Error(err))
		return
	}
	mode := "block"
	if t.Guard.Shadow {
		mode = "shadow"
	}
	for _, key := range hits {
		a.metrics.guardBlocks.WithLabelValues(t.name, GuardScope(key), mode).Inc()
		a.logger.Warn("pumping guard: destination blocked", zap.String("template", t.name), zap.String("destination", key),
			zap.String("mode", mode), zap.Duration("for", time.Duration(t.Guard.Block)))
	}
}

// GuardBlocks returns the destinations the template's guard blocks now ("country:GB",
// "prefix:+4474001…") with how long each block still lasts; none without a guard.
func (a *App) GuardBlocks(ctx context.Context, t *Template) (map[string]time.Duration, error) {
	if t.Guard == nil {
		return map[string]time.Duration{}, nil
	}
	blocks, err := a.store.GuardBlocks(ctx, t.name)
	if err != nil {
		return nil, StoreError(err)
	}
	return blocks, nil
}
