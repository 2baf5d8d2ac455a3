package redisstore

import (
	"context"
	_ "embed"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/caddyotp/caddyotp/caddyotp"
)

// The scripts; redis.Script sends EVALSHA and falls back to EVAL after a Redis restart
// or SCRIPT FLUSH.
var (
	//go:embed scripts/claim_send.lua
	claimSendLua    string
	claimSendScript = redis.NewScript(claimSendLua)

	//go:embed scripts/release_send.lua
	releaseSendLua    string
	releaseSendScript = redis.NewScript(releaseSendLua)

	//go:embed scripts/put_code.lua
	putCodeLua    string
	putCodeScript = redis.NewScript(putCodeLua)

	//go:embed scripts/drop_code.lua
	dropCodeLua    string
	dropCodeScript = redis.NewScript(dropCodeLua)

	//go:embed scripts/check_code.lua
	checkCodeLua    string
	checkCodeScript = redis.NewScript(checkCodeLua)

	//go:embed scripts/allow.lua
	allowLua    string
	allowScript = redis.NewScript(allowLua)

	//go:embed scripts/reserve_budget.lua
	reserveBudgetLua    string
	reserveBudgetScript = redis.NewScript(reserveBudgetLua)

	//go:embed scripts/release_budget.lua
	releaseBudgetLua    string
	releaseBudgetScript = redis.NewScript(releaseBudgetLua)

	//go:embed scripts/append_ledger.lua
	appendLedgerLua    string
	appendLedgerScript = redis.NewScript(appendLedgerLua)

	//go:embed scripts/read_ledger.lua
	readLedgerLua    string
	readLedgerScript = redis.NewScript(readLedgerLua)

	//go:embed scripts/apply_report.lua
	applyReportLua    string
	applyReportScript = redis.NewScript(applyReportLua)

	//go:embed scripts/correct_budget.lua
	correctBudgetLua    string
	correctBudgetScript = redis.NewScript(correctBudgetLua)

	//go:embed scripts/set_code_message.lua
	setCodeMessageLua    string
	setCodeMessageScript = redis.NewScript(setCodeMessageLua)

	//go:embed scripts/take_lease.lua
	takeLeaseLua    string
	takeLeaseScript = redis.NewScript(takeLeaseLua)

	//go:embed scripts/revoke_session.lua
	revokeSessionLua    string
	revokeSessionScript = redis.NewScript(revokeSessionLua)
)

// ClaimSend implements Store.
func (s *RedisStore) ClaimSend(ctx context.Context, k caddyotp.CodeKey, lockGroup string, nonce string, resend time.Duration) (caddyotp.Decision, error) {
	if err := caddyotp.CheckLockGroup(lockGroup); err != nil {
		return caddyotp.Decision{}, err
	}
	if resend > 0 {
		resend = max(resend, caddyotp.MinResend)
	}
	r, err := s.runInts(ctx, "claim_send", claimSendScript, 2,
		[]string{s.keys.lock(lockGroup, k.Mobile), s.keys.cooldown(k)}, nonce, millis(resend))
	if err != nil {
		return caddyotp.Decision{}, err
	}
	switch r[0] {
	case 0:
		return caddyotp.Decision{Allowed: true}, nil
	case 1:
		return caddyotp.Decision{Reason: caddyotp.ReasonLocked, RetryAfter: time.Duration(r[1]) * time.Millisecond}, nil
	case 2:
		return caddyotp.Decision{Reason: caddyotp.ReasonTooSoon, RetryAfter: time.Duration(r[1]) * time.Millisecond}, nil
	}
	return caddyotp.Decision{}, badReply("claim_send")
}

// ReleaseSend implements Store.
func (s *RedisStore) ReleaseSend(ctx context.Context, k caddyotp.CodeKey, nonce string) error {
	_, err := s.runInt(ctx, "release_send", releaseSendScript, []string{s.keys.cooldown(k)}, nonce)
	return err
}

// PutCode implements Store.
func (s *RedisStore) PutCode(ctx context.Context, k caddyotp.CodeKey, hash []byte, attempts int, ttl time.Duration) error {
	if err := caddyotp.CheckCodeArgs(hash, attempts, ttl); err != nil {
		return err
	}
	_, err := s.runInt(ctx, "put_code", putCodeScript, []string{s.keys.code(k)}, hash, attempts, millis(ttl))
	return err
}

// DropCode implements Store.
func (s *RedisStore) DropCode(ctx context.Context, k caddyotp.CodeKey, hash []byte) error {
	_, err := s.runInt(ctx, "drop_code", dropCodeScript, []string{s.keys.code(k)}, hash)
	return err
}

// CheckCode implements Store.
func (s *RedisStore) CheckCode(ctx context.Context, k caddyotp.CodeKey, lockGroup string, hash []byte, p caddyotp.LockPolicy) (caddyotp.CheckResult, error) {
	p, err := caddyotp.NormalizeLockPolicy(p)
	if err != nil {
		return caddyotp.CheckResult{}, err
	}
	if err := caddyotp.CheckLockGroup(lockGroup); err != nil {
		return caddyotp.CheckResult{}, err
	}
	keys := []string{s.keys.code(k), s.keys.failures(lockGroup, k.Mobile), s.keys.lock(lockGroup, k.Mobile), s.keys.locks(lockGroup, k.Mobile)}
	v, err := checkCodeScript.Run(ctx, s.client, keys,
		hash, p.After, millis(p.Base), millis(p.Max), millis(p.Window), p.Ceiling).Result()
	if err != nil {
		return caddyotp.CheckResult{}, unavailable("check_code", err)
	}
	r, message, ok := checkCodeReply(v)
	if !ok {
		return caddyotp.CheckResult{}, badReply("check_code")
	}
	res := caddyotp.CheckResult{
		AttemptsLeft: int(r[1]),
		RetryAfter:   time.Duration(r[2]) * time.Millisecond,
		LockedNow:    r[3] == 1,
	}
	switch r[0] {
	case 0:
		res.Outcome, res.MessageID = caddyotp.OutcomeVerified, message
	case 1:
		res.Outcome = caddyotp.OutcomeIncorrect
	case 2:
		res.Outcome = caddyotp.OutcomeBurned
	case 3:
		res.Outcome = caddyotp.OutcomeExpired
	case 4:
		res.Outcome = caddyotp.OutcomeLocked
	default:
		return caddyotp.CheckResult{}, badReply("check_code")
	}
	return res, nil
}

// checkCodeReply reads check_code.lua's reply: four integers, and with a verified code
// (outcome 0) the message id as a fifth element.
func checkCodeReply(v any) (r [4]int64, message string, ok bool) {
	arr, ok := v.([]any)
	if !ok || len(arr) < 4 {
		return r, "", false
	}
	for i := range r {
		if r[i], ok = arr[i].(int64); !ok {
			return r, "", false
		}
	}
	switch {
	case len(arr) == 4 && r[0] != 0:
		return r, "", true
	case len(arr) == 5 && r[0] == 0:
		message, ok = arr[4].(string)
		return r, message, ok
	}
	return r, "", false
}

// SetCodeMessage implements Store.
func (s *RedisStore) SetCodeMessage(ctx context.Context, k caddyotp.CodeKey, hash []byte, messageID string) error {
	_, err := s.runInt(ctx, "set_code_message", setCodeMessageScript, []string{s.keys.code(k)}, hash, messageID)
	return err
}

// Allow implements Store: one script over the template's limit keys, which share a slot.
func (s *RedisStore) Allow(ctx context.Context, template string, takes []caddyotp.LimitTake) (caddyotp.Decision, error) {
	if len(takes) == 0 {
		return caddyotp.Decision{Allowed: true}, nil
	}
	keys := make([]string, len(takes))
	args := make([]any, 0, 2*len(takes))
	for i, tk := range takes {
		if err := caddyotp.CheckLimit(tk.Limit); err != nil {
			return caddyotp.Decision{}, err
		}
		keys[i] = s.keys.limit(template, tk)
		args = append(args, millis(tk.Limit.Window), tk.Limit.Count)
	}
	r, err := s.runInts(ctx, "allow", allowScript, 3, keys, args...)
	if err != nil {
		return caddyotp.Decision{}, err
	}
	if r[0] == 1 {
		return caddyotp.Decision{Allowed: true}, nil
	}
	if r[1] < 1 || int(r[1]) > len(takes) {
		return caddyotp.Decision{}, badReply("allow")
	}
	return caddyotp.Decision{Reason: caddyotp.ReasonLimited, Limit: takes[r[1]-1].Kind, RetryAfter: time.Duration(r[2]) * time.Millisecond}, nil
}

// ReserveBudget implements Store.
func (s *RedisStore) ReserveBudget(ctx context.Context, at time.Time, microUSD int64, caps caddyotp.BudgetCaps) (caddyotp.Decision, error) {
	if err := caddyotp.CheckBudgetArgs(microUSD, caps); err != nil {
		return caddyotp.Decision{}, err
	}
	r, err := s.runInt(ctx, "reserve_budget", reserveBudgetScript,
		[]string{s.keys.budgetDay(at), s.keys.budgetMonth(at)},
		microUSD, caps.DailyMicroUSD, caps.MonthlyMicroUSD, millis(caddyotp.BudgetDayTTL), millis(caddyotp.BudgetMonthTTL))
	if err != nil {
		return caddyotp.Decision{}, err
	}
	switch r {
	case 0:
		return caddyotp.Decision{Allowed: true}, nil
	case 1:
		return caddyotp.Decision{Reason: caddyotp.ReasonBudget, RetryAfter: caddyotp.BudgetRetryAfter(at, false)}, nil
	case 2:
		return caddyotp.Decision{Reason: caddyotp.ReasonBudget, RetryAfter: caddyotp.BudgetRetryAfter(at, true)}, nil
	}
	return caddyotp.Decision{}, badReply("reserve_budget")
}

// ReleaseBudget implements Store.
func (s *RedisStore) ReleaseBudget(ctx context.Context, at time.Time, microUSD int64) error {
	if microUSD < 0 {
		return fmt.Errorf("%w: budget release of %d micro-USD", caddyotp.ErrInvalidArgument, microUSD)
	}
	_, err := s.runInt(ctx, "release_budget", releaseBudgetScript,
		[]string{s.keys.budgetDay(at), s.keys.budgetMonth(at)}, microUSD)
	return err
}

// runInt runs a script that answers one integer.
func (s *RedisStore) runInt(ctx context.Context, name string, script *redis.Script, keys []string, args ...any) (int64, error) {
	v, err := script.Run(ctx, s.client, keys, args...).Result()
	if err != nil {
		return 0, unavailable(name, err)
	}
	n, ok := v.(int64)
	if !ok {
		return 0, badReply(name)
	}
	return n, nil
}

// runInts runs a script that answers an array of n integers.
func (s *RedisStore) runInts(ctx context.Context, name string, script *redis.Script, n int, keys []string, args ...any) ([]int64, error) {
	v, err := script.Run(ctx, s.client, keys, args...).Result()
	if err != nil {
		return nil, unavailable(name, err)
	}
	arr, ok := v.([]any)
	if !ok || len(arr) != n {
		return nil, badReply(name)
	}
	out := make([]int64, n)
	for i, x := range arr {
		if out[i], ok = x.(int64); !ok {
			return nil, badReply(name)
		}
	}
	return out, nil
}

// unavailable wraps an error from Redis (redis.Nil included: no script answers nil).
func unavailable(what string, err error) error {
	return fmt.Errorf("%w: %s: %w", caddyotp.ErrStoreUnavailable, what, err)
}

// badReply is a reply that makes no sense; the store is treated as unavailable.
func badReply(what string) error {
	return fmt.Errorf("%w: %s: unexpected reply", caddyotp.ErrStoreUnavailable, what)
}

// millis is d in whole milliseconds, rounded up so that a short wait is never zero.
func millis(d time.Duration) int64 {
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}
