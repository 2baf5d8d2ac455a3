package caddyotp

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"go.uber.org/zap"
)

func init() {
	caddy.RegisterModule(RedisStore{})
}

// RedisStore keeps codes, failure runs, locks, limits, the budget and the SMS ledger in
// Redis, so that any number of Caddy instances share them. Each step is one Lua script
// (see the scripts directory); every key has a TTL, and the keys of one mobile share a
// hash tag so that the scripts run on Redis Cluster. When Redis cannot answer, every
// method fails with ErrStoreUnavailable and the service fails closed.
type RedisStore struct {
	// Addresses of Redis as host:port. One address: a single Redis server. Several:
	// the seed nodes of a Redis Cluster. With master_name: the Sentinels. Each entry may
	// hold several addresses separated by spaces or commas (handy with {env.*}).
	// Default: 127.0.0.1:6379
	Addresses []string `json:"addresses,omitempty"`

	// Password for Redis (AUTH), usually {env.REDIS_PASSWORD}. Never logged.
	// Default: none
	Password string `json:"password,omitempty"`

	// DB is the logical database number; it must be 0 with Redis Cluster.
	// Default: 0
	DB int `json:"db,omitempty"`

	// KeyPrefix starts every key this store writes, so that several users can share one
	// Redis. It must not contain { or }, which Redis Cluster reads as a hash tag.
	// Default: otp:
	KeyPrefix string `json:"key_prefix,omitempty"`

	// MasterName is the name of the master monitored by the Sentinels at Addresses;
	// setting it chooses Sentinel mode.
	// Default: none (no Sentinel)
	MasterName string `json:"master_name,omitempty"`

	// DialTimeout bounds opening a connection.
	// Default: 2s
	DialTimeout caddy.Duration `json:"dial_timeout,omitempty"`

	// ReadTimeout bounds waiting for each reply; past it the request fails closed.
	// Default: 1s
	ReadTimeout caddy.Duration `json:"read_timeout,omitempty"`

	// WriteTimeout bounds sending each command.
	// Default: 1s
	WriteTimeout caddy.Duration `json:"write_timeout,omitempty"`

	mode    string // "single", "cluster" or "sentinel"
	keys    redisKeys
	client  redis.UniversalClient
	poolKey string // set once the client is taken from redisClients
	logger  *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (RedisStore) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "otp.stores.redis",
		New: func() caddy.Module { return new(RedisStore) },
	}
}

// redisClients shares one client per connection identity, so that a config reload reuses
// the connections; the last user's Cleanup closes it.
var redisClients = caddy.NewUsagePool()

// pooledRedisClient lets redisClients close a client.
type pooledRedisClient struct {
	redis.UniversalClient
}

func (c pooledRedisClient) Destruct() error {
	return c.Close()
}

// Provision resolves placeholders, applies defaults and takes a client. It does not
// connect: Caddy must start (and `caddy validate` run) while Redis is down.
func (s *RedisStore) Provision(ctx caddy.Context) error {
	s.logger = ctx.Logger()
	repl := caddy.NewReplacer()

	var addrs []string
	for _, a := range s.Addresses {
		addrs = append(addrs, strings.FieldsFunc(repl.ReplaceKnown(a, ""), func(r rune) bool {
			return r == ',' || r == ' ' || r == '\t'
		})...)
	}
	if len(addrs) == 0 {
		addrs = []string{"127.0.0.1:6379"}
	}
	s.Addresses = addrs
	s.Password = repl.ReplaceKnown(s.Password, "")
	s.MasterName = repl.ReplaceKnown(s.MasterName, "")
	s.KeyPrefix = repl.ReplaceKnown(s.KeyPrefix, "")
	if s.KeyPrefix == "" {
		s.KeyPrefix = "otp:"
	}
	if s.DialTimeout == 0 {
		s.DialTimeout = caddy.Duration(2 * time.Second)
	}
	if s.ReadTimeout == 0 {
		s.ReadTimeout = caddy.Duration(time.Second)
	}
	if s.WriteTimeout == 0 {
		s.WriteTimeout = caddy.Duration(time.Second)
	}
	switch {
	case s.MasterName != "":
		s.mode = "sentinel"
	case len(s.Addresses) > 1:
		s.mode = "cluster"
	default:
		s.mode = "single"
	}
	s.keys = redisKeys{prefix: s.KeyPrefix}

	if err := s.Validate(); err != nil {
		return err
	}

	opts := &redis.UniversalOptions{
		Addrs:        s.Addresses,
		Password:     s.Password,
		DB:           s.DB,
		MasterName:   s.MasterName,
		DialTimeout:  time.Duration(s.DialTimeout),
		ReadTimeout:  time.Duration(s.ReadTimeout),
		WriteTimeout: time.Duration(s.WriteTimeout),
		// A context deadline shorter than the timeouts above ends the wait too.
		ContextTimeoutEnabled: true,
		// go-redis may send a command again after a network error, and a script that
		// already ran would then run twice (a failure counted twice, a send claimed as
		// too soon by itself). Retries are off; the service fails closed instead.
		MaxRetries: -1,
		// One dial per command: by default go-redis dials five times with pauses, which
		// would hold a request for far longer than the timeouts above when Redis is down.
		DialerRetries: 1,
		// Not used; it would cost a command on every new connection.
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	}
	key := s.connectionIdentity()
	v, _, err := redisClients.LoadOrNew(key, func() (caddy.Destructor, error) {
		return pooledRedisClient{redis.NewUniversalClient(opts)}, nil
	})
	if err != nil {
		return fmt.Errorf("creating redis client: %w", err)
	}
	s.poolKey = key
	s.client = v.(pooledRedisClient).UniversalClient

	s.logger.Info("redis store",
		zap.String("mode", s.mode),
		zap.Strings("addresses", s.Addresses),
		zap.Int("db", s.DB),
		zap.String("key_prefix", s.KeyPrefix),
	)
	return nil
}

// connectionIdentity names everything that makes a client different from another one.
func (s *RedisStore) connectionIdentity() string {
	pw := sha256.Sum256([]byte(s.Password))
	return strings.Join([]string{
		s.mode,
		strings.Join(s.Addresses, ","),
		strconv.Itoa(s.DB),
		s.MasterName,
		hex.EncodeToString(pw[:]),
		time.Duration(s.DialTimeout).String(),
		time.Duration(s.ReadTimeout).String(),
		time.Duration(s.WriteTimeout).String(),
	}, "|")
}

// Validate checks the settings; it does no I/O.
func (s *RedisStore) Validate() error {
	for _, a := range s.Addresses {
		if a == "" {
			return errors.New("redis store: empty address")
		}
	}
	switch {
	case s.DB < 0:
		return fmt.Errorf("redis store: db %d is negative", s.DB)
	case s.DB != 0 && s.mode == "cluster":
		return fmt.Errorf("redis store: db must be 0 with several addresses (Redis Cluster), got %d", s.DB)
	case strings.ContainsAny(s.KeyPrefix, "{}"):
		return fmt.Errorf("redis store: key_prefix %q must not contain { or }", s.KeyPrefix)
	case s.DialTimeout < 0:
		return errors.New("redis store: dial_timeout is negative")
	case s.ReadTimeout < 0:
		return errors.New("redis store: read_timeout is negative")
	case s.WriteTimeout < 0:
		return errors.New("redis store: write_timeout is negative")
	}
	return nil
}

// Cleanup releases the client; the last user closes it. It is safe after a half-done
// Provision.
func (s *RedisStore) Cleanup() error {
	if s.poolKey == "" {
		return nil
	}
	key := s.poolKey
	s.poolKey, s.client = "", nil
	_, err := redisClients.Delete(key)
	return err
}

// UnmarshalCaddyfile sets up the store from Caddyfile tokens. Syntax:
//
//	store redis {
//		address     <host:port...>  # may repeat; several: Cluster, or the Sentinels
//		password    <password>
//		db          <number>
//		key_prefix  <prefix>
//		master_name <name>          # Sentinel
//		dial_timeout  <duration>
//		read_timeout  <duration>
//		write_timeout <duration>
//	}
func (s *RedisStore) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the module name
	if d.NextArg() {
		return d.ArgErr()
	}
	seen := make(map[string]bool)
	for d.NextBlock(0) {
		word := d.Val()
		if seen[word] && word != "address" {
			return d.Errf("%s specified more than once", word)
		}
		seen[word] = true
		switch word {
		case "address":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			s.Addresses = append(s.Addresses, args...)
		case "password", "key_prefix", "master_name":
			var v string
			if !d.AllArgs(&v) {
				return d.ArgErr()
			}
			switch word {
			case "password":
				s.Password = v
			case "key_prefix":
				s.KeyPrefix = v
			default:
				s.MasterName = v
			}
		case "db":
			var v string
			if !d.AllArgs(&v) {
				return d.ArgErr()
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return d.Errf("db must be a number 0 or above, got '%s'", v)
			}
			s.DB = n
		case "dial_timeout", "read_timeout", "write_timeout":
			var v string
			if !d.AllArgs(&v) {
				return d.ArgErr()
			}
			dur, err := caddy.ParseDuration(v)
			if err != nil || dur <= 0 {
				return d.Errf("%s must be a positive duration, got '%s'", word, v)
			}
			switch word {
			case "dial_timeout":
				s.DialTimeout = caddy.Duration(dur)
			case "read_timeout":
				s.ReadTimeout = caddy.Duration(dur)
			default:
				s.WriteTimeout = caddy.Duration(dur)
			}
		default:
			return d.Errf("unrecognized subdirective '%s'", word)
		}
	}
	return nil
}

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
)

// ClaimSend implements Store.
func (s *RedisStore) ClaimSend(ctx context.Context, k CodeKey, nonce string, resend time.Duration) (Decision, error) {
	if resend > 0 {
		resend = max(resend, minResend)
	}
	r, err := s.runInts(ctx, "claim_send", claimSendScript, 2,
		[]string{s.keys.lock(k.Mobile), s.keys.cooldown(k)}, nonce, millis(resend))
	if err != nil {
		return Decision{}, err
	}
	switch r[0] {
	case 0:
		return Decision{Allowed: true}, nil
	case 1:
		return Decision{Reason: ReasonLocked, RetryAfter: time.Duration(r[1]) * time.Millisecond}, nil
	case 2:
		return Decision{Reason: ReasonTooSoon, RetryAfter: time.Duration(r[1]) * time.Millisecond}, nil
	}
	return Decision{}, badReply("claim_send")
}

// ReleaseSend implements Store.
func (s *RedisStore) ReleaseSend(ctx context.Context, k CodeKey, nonce string) error {
	_, err := s.runInt(ctx, "release_send", releaseSendScript, []string{s.keys.cooldown(k)}, nonce)
	return err
}

// PutCode implements Store.
func (s *RedisStore) PutCode(ctx context.Context, k CodeKey, hash []byte, attempts int, ttl time.Duration) error {
	if err := checkCodeArgs(hash, attempts, ttl); err != nil {
		return err
	}
	_, err := s.runInt(ctx, "put_code", putCodeScript, []string{s.keys.code(k)}, hash, attempts, millis(ttl))
	return err
}

// DropCode implements Store.
func (s *RedisStore) DropCode(ctx context.Context, k CodeKey, hash []byte) error {
	_, err := s.runInt(ctx, "drop_code", dropCodeScript, []string{s.keys.code(k)}, hash)
	return err
}

// CheckCode implements Store.
func (s *RedisStore) CheckCode(ctx context.Context, k CodeKey, hash []byte, p LockPolicy) (CheckResult, error) {
	p, err := normalizeLockPolicy(p)
	if err != nil {
		return CheckResult{}, err
	}
	keys := []string{s.keys.code(k), s.keys.failures(k.Mobile), s.keys.lock(k.Mobile), s.keys.locks(k.Mobile)}
	r, err := s.runInts(ctx, "check_code", checkCodeScript, 4, keys,
		hash, p.After, millis(p.Base), millis(p.Max), millis(p.Window))
	if err != nil {
		return CheckResult{}, err
	}
	res := CheckResult{
		AttemptsLeft: int(r[1]),
		RetryAfter:   time.Duration(r[2]) * time.Millisecond,
		LockedNow:    r[3] == 1,
	}
	switch r[0] {
	case 0:
		res.Outcome = OutcomeVerified
	case 1:
		res.Outcome = OutcomeIncorrect
	case 2:
		res.Outcome = OutcomeBurned
	case 3:
		res.Outcome = OutcomeExpired
	case 4:
		res.Outcome = OutcomeLocked
	default:
		return CheckResult{}, badReply("check_code")
	}
	return res, nil
}

// Allow implements Store.
func (s *RedisStore) Allow(ctx context.Context, key string, l Limit) (Decision, error) {
	if err := checkLimit(l); err != nil {
		return Decision{}, err
	}
	r, err := s.runInts(ctx, "allow", allowScript, 2, []string{s.keys.limit(key)}, millis(l.Window), l.Count)
	if err != nil {
		return Decision{}, err
	}
	if r[0] == 1 {
		return Decision{Allowed: true}, nil
	}
	return Decision{Reason: ReasonLimited, RetryAfter: time.Duration(r[1]) * time.Millisecond}, nil
}

// ReserveBudget implements Store.
func (s *RedisStore) ReserveBudget(ctx context.Context, at time.Time, microUSD int64, caps BudgetCaps) (Decision, error) {
	if err := checkBudgetArgs(microUSD, caps); err != nil {
		return Decision{}, err
	}
	r, err := s.runInt(ctx, "reserve_budget", reserveBudgetScript,
		[]string{s.keys.budgetDay(at), s.keys.budgetMonth(at)},
		microUSD, caps.DailyMicroUSD, caps.MonthlyMicroUSD, millis(budgetDayTTL), millis(budgetMonthTTL))
	if err != nil {
		return Decision{}, err
	}
	switch r {
	case 0:
		return Decision{Allowed: true}, nil
	case 1:
		return Decision{Reason: ReasonBudget, RetryAfter: budgetRetryAfter(at, false)}, nil
	case 2:
		return Decision{Reason: ReasonBudget, RetryAfter: budgetRetryAfter(at, true)}, nil
	}
	return Decision{}, badReply("reserve_budget")
}

// ReleaseBudget implements Store.
func (s *RedisStore) ReleaseBudget(ctx context.Context, at time.Time, microUSD int64) error {
	if microUSD < 0 {
		return fmt.Errorf("%w: budget release of %d micro-USD", errInvalidArgument, microUSD)
	}
	_, err := s.runInt(ctx, "release_budget", releaseBudgetScript,
		[]string{s.keys.budgetDay(at), s.keys.budgetMonth(at)}, microUSD)
	return err
}

// AppendLedger implements Store.
func (s *RedisStore) AppendLedger(ctx context.Context, e LedgerEntry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encoding ledger entry: %w", err)
	}
	err = appendLedgerScript.Run(ctx, s.client, []string{s.keys.ledger(e.Template)},
		b, ledgerKeep, millis(ledgerTTL)).Err()
	if err != nil {
		return unavailable("append_ledger", err)
	}
	return nil
}

// RecentLedger implements Store.
func (s *RedisStore) RecentLedger(ctx context.Context, template string, n int) ([]LedgerEntry, error) {
	out := []LedgerEntry{}
	if n <= 0 {
		return out, nil
	}
	msgs, err := s.client.XRevRangeN(ctx, s.keys.ledger(template), "+", "-", int64(n)).Result()
	if err != nil {
		return nil, unavailable("reading ledger", err)
	}
	for _, m := range msgs {
		raw, ok := m.Values["e"].(string)
		if !ok {
			return nil, badReply("reading ledger")
		}
		var e LedgerEntry
		if err := json.Unmarshal([]byte(raw), &e); err != nil {
			return nil, unavailable("decoding ledger entry", err)
		}
		out = append(out, e)
	}
	return out, nil
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
	return fmt.Errorf("%w: %s: %w", ErrStoreUnavailable, what, err)
}

// badReply is a reply that makes no sense; the store is treated as unavailable.
func badReply(what string) error {
	return fmt.Errorf("%w: %s: unexpected reply", ErrStoreUnavailable, what)
}

// millis is d in whole milliseconds, rounded up so that a short wait is never zero.
func millis(d time.Duration) int64 {
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

// Interface guards
var (
	_ Store                 = (*RedisStore)(nil)
	_ caddy.Provisioner     = (*RedisStore)(nil)
	_ caddy.Validator       = (*RedisStore)(nil)
	_ caddy.CleanerUpper    = (*RedisStore)(nil)
	_ caddyfile.Unmarshaler = (*RedisStore)(nil)
)
