package caddyotp

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
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
//
// Revoked gate sessions are a sorted set that every instance loads, plus a Pub/Sub channel
// that announces each new revocation. A Redis that lost its data (a restart without
// persistence, a failover to a replica that had not caught up) has lost its revocations
// too: sessions revoked before then are ended only by their absolute expiry (at most 12h).
type RedisStore struct {
	// Addresses of Redis as host:port, which also choose the mode:
	//   - one address: a single Redis server (or a primary with no failover);
	//   - two or more addresses without master_name: Redis Cluster, the addresses being
	//     seed nodes (any few of its masters or replicas; the client learns the rest);
	//   - with master_name: the Sentinels, which name the current primary.
	// Each entry may hold several addresses separated by spaces or commas (handy with
	// {env.*}).
	// Default: 127.0.0.1:6379
	Addresses []string `json:"addresses,omitempty"`

	// Cluster chooses Redis Cluster with a single address, such as a cloud provider's
	// cluster configuration endpoint. Several addresses choose it anyway; it cannot be
	// combined with master_name.
	// Default: false
	Cluster bool `json:"cluster,omitempty"`

	// Username for Redis ACLs (AUTH <username> <password>). Never logged.
	// Default: none (the default user)
	Username string `json:"username,omitempty"`

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

	// SentinelUsername is the ACL user for the Sentinels, when they have their own
	// (Sentinel mode only). Never logged.
	// Default: none (the default user)
	SentinelUsername string `json:"sentinel_username,omitempty"`

	// SentinelPassword authenticates to the Sentinels (Sentinel mode only); the
	// primary and replicas take password. Never logged.
	// Default: none
	SentinelPassword string `json:"sentinel_password,omitempty"`

	// TLS, when present (even empty: {}), encrypts every connection, to the Sentinels
	// and the Cluster nodes too.
	// Default: none (plain TCP)
	TLS *RedisTLS `json:"tls,omitempty"`

	// PoolSize is the most connections kept to each Redis server (per Cluster node).
	// Default: 10 per CPU
	PoolSize int `json:"pool_size,omitempty"`

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
	tlsID   string // a digest of the TLS files' contents, so a changed file means a new client
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
	s.Username = repl.ReplaceKnown(s.Username, "")
	s.Password = repl.ReplaceKnown(s.Password, "")
	s.MasterName = repl.ReplaceKnown(s.MasterName, "")
	s.SentinelUsername = repl.ReplaceKnown(s.SentinelUsername, "")
	s.SentinelPassword = repl.ReplaceKnown(s.SentinelPassword, "")
	if s.TLS != nil {
		t := *s.TLS
		t.CAFile = repl.ReplaceKnown(t.CAFile, "")
		t.ServerName = repl.ReplaceKnown(t.ServerName, "")
		t.CertFile = repl.ReplaceKnown(t.CertFile, "")
		t.KeyFile = repl.ReplaceKnown(t.KeyFile, "")
		s.TLS = &t
	}
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
	s.mode = s.chooseMode()
	s.keys = redisKeys{prefix: s.KeyPrefix}

	if err := s.Validate(); err != nil {
		return err
	}
	var tlsConfig *tls.Config
	if s.TLS != nil {
		var err error
		if tlsConfig, s.tlsID, err = s.TLS.config(); err != nil {
			return fmt.Errorf("redis store: tls: %w", err)
		}
	}

	opts := &redis.UniversalOptions{
		Addrs:            s.Addresses,
		Username:         s.Username,
		Password:         s.Password,
		DB:               s.DB,
		MasterName:       s.MasterName,
		SentinelUsername: s.SentinelUsername,
		SentinelPassword: s.SentinelPassword,
		// A single address with cluster: true; several addresses choose it anyway.
		IsClusterMode: s.mode == "cluster",
		TLSConfig:     tlsConfig,
		PoolSize:      s.PoolSize,
		DialTimeout:   time.Duration(s.DialTimeout),
		ReadTimeout:   time.Duration(s.ReadTimeout),
		WriteTimeout:  time.Duration(s.WriteTimeout),
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
		zap.Bool("tls", s.TLS != nil),
	)
	return nil
}

// chooseMode tells single, cluster or sentinel from the settings.
func (s *RedisStore) chooseMode() string {
	switch {
	case s.MasterName != "":
		return "sentinel"
	case s.Cluster || len(s.Addresses) > 1:
		return "cluster"
	default:
		return "single"
	}
}

// connectionIdentity names everything that makes a client different from another one.
func (s *RedisStore) connectionIdentity() string {
	// The credentials are hashed together, lengths first, so that no two sets collide
	// and none is kept in clear in the pool's keys.
	creds := sha256.New()
	for _, c := range []string{s.Username, s.Password, s.SentinelUsername, s.SentinelPassword} {
		fmt.Fprintf(creds, "%d:%s", len(c), c)
	}
	tlsID := "plain"
	if s.TLS != nil {
		tlsID = strings.Join([]string{"tls", s.TLS.CAFile, s.TLS.ServerName, s.TLS.CertFile, s.TLS.KeyFile, s.tlsID}, ",")
	}
	return strings.Join([]string{
		s.mode,
		strings.Join(s.Addresses, ","),
		strconv.Itoa(s.DB),
		s.MasterName,
		hex.EncodeToString(creds.Sum(nil)),
		tlsID,
		strconv.Itoa(s.PoolSize),
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
	mode := s.chooseMode()
	switch {
	case s.Cluster && s.MasterName != "":
		return errors.New("redis store: cluster and master_name exclude each other")
	case s.MasterName == "" && s.SentinelUsername != "":
		return errors.New("redis store: sentinel_username needs master_name (Sentinel mode)")
	case s.MasterName == "" && s.SentinelPassword != "":
		return errors.New("redis store: sentinel_password needs master_name (Sentinel mode)")
	case s.DB < 0:
		return fmt.Errorf("redis store: db %d is negative", s.DB)
	case s.DB != 0 && mode == "cluster":
		return fmt.Errorf("redis store: db must be 0 with Redis Cluster (several addresses or cluster), got %d", s.DB)
	case s.PoolSize < 0:
		return fmt.Errorf("redis store: pool_size %d is negative", s.PoolSize)
	case strings.ContainsAny(s.KeyPrefix, "{}"):
		return fmt.Errorf("redis store: key_prefix %q must not contain { or }", s.KeyPrefix)
	case s.DialTimeout < 0:
		return errors.New("redis store: dial_timeout is negative")
	case s.ReadTimeout < 0:
		return errors.New("redis store: read_timeout is negative")
	case s.WriteTimeout < 0:
		return errors.New("redis store: write_timeout is negative")
	case s.TLS != nil && (s.TLS.CertFile == "") != (s.TLS.KeyFile == ""):
		return errors.New("redis store: tls: cert_file and key_file go together")
	}
	return nil
}

// RedisTLS configures TLS to Redis. The files are read at Provision, so a config reload
// picks up renewed ones.
type RedisTLS struct {
	// CAFile is a PEM file of the certificate authorities that sign the servers'
	// certificates, used instead of the system's roots (for a private CA).
	// Default: none (the system's roots)
	CAFile string `json:"ca_file,omitempty"`

	// ServerName is the name the servers' certificates must be valid for, when it is
	// not the host of the address dialled (an IP address, or Cluster nodes and replicas
	// that announce IPs).
	// Default: the host of each address
	ServerName string `json:"server_name,omitempty"`

	// CertFile and KeyFile are a PEM client certificate and its key, for servers that
	// require one (tls-auth-clients); both or neither.
	// Default: none
	CertFile string `json:"cert_file,omitempty"`

	// KeyFile is the key of CertFile (PEM).
	// Default: none
	KeyFile string `json:"key_file,omitempty"`
}

// config reads the files and builds the client's TLS configuration; id is a digest of
// the files' contents.
func (t *RedisTLS) config() (c *tls.Config, id string, err error) {
	c = &tls.Config{ServerName: t.ServerName, MinVersion: tls.VersionTLS12}
	digest := sha256.New()
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, "", fmt.Errorf("ca_file: %w", err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, "", fmt.Errorf("ca_file %s: no PEM certificate", t.CAFile)
		}
		digest.Write(pem)
	}
	if t.CertFile != "" {
		certPEM, err := os.ReadFile(t.CertFile)
		if err != nil {
			return nil, "", fmt.Errorf("cert_file: %w", err)
		}
		keyPEM, err := os.ReadFile(t.KeyFile)
		if err != nil {
			return nil, "", fmt.Errorf("key_file: %w", err)
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, "", fmt.Errorf("cert_file and key_file: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
		digest.Write(certPEM)
		digest.Write(keyPEM)
	}
	return c, hex.EncodeToString(digest.Sum(nil)), nil
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
//		address     <host:port...>  # may repeat; two or more: Cluster, or the Sentinels
//		cluster                     # Cluster with a single address
//		username    <name>
//		password    <password>
//		db          <number>
//		key_prefix  <prefix>
//		master_name <name>          # Sentinel
//		sentinel_username <name>
//		sentinel_password <password>
//		tls [{
//			ca_file     <file>
//			server_name <name>
//			cert_file   <file>
//			key_file    <file>
//		}]
//		pool_size     <number>
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
		case "cluster":
			if d.NextArg() {
				return d.ArgErr()
			}
			s.Cluster = true
		case "username", "password", "key_prefix", "master_name", "sentinel_username", "sentinel_password":
			field := map[string]*string{
				"username":          &s.Username,
				"password":          &s.Password,
				"key_prefix":        &s.KeyPrefix,
				"master_name":       &s.MasterName,
				"sentinel_username": &s.SentinelUsername,
				"sentinel_password": &s.SentinelPassword,
			}[word]
			if !d.AllArgs(field) {
				return d.ArgErr()
			}
		case "db", "pool_size":
			var v string
			if !d.AllArgs(&v) {
				return d.ArgErr()
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return d.Errf("%s must be a number 0 or above, got '%s'", word, v)
			}
			if word == "db" {
				s.DB = n
			} else {
				s.PoolSize = n
			}
		case "tls":
			if d.NextArg() {
				return d.ArgErr()
			}
			s.TLS = new(RedisTLS)
			if err := s.TLS.unmarshalCaddyfile(d); err != nil {
				return err
			}
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

// unmarshalCaddyfile reads the optional block after tls.
func (t *RedisTLS) unmarshalCaddyfile(d *caddyfile.Dispenser) error {
	seen := make(map[string]bool)
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		word := d.Val()
		if seen[word] {
			return d.Errf("tls %s specified more than once", word)
		}
		seen[word] = true
		field, ok := map[string]*string{
			"ca_file":     &t.CAFile,
			"server_name": &t.ServerName,
			"cert_file":   &t.CertFile,
			"key_file":    &t.KeyFile,
		}[word]
		if !ok {
			return d.Errf("unrecognized tls subdirective '%s'", word)
		}
		if !d.AllArgs(field) {
			return d.ArgErr()
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

	//go:embed scripts/revoke_session.lua
	revokeSessionLua    string
	revokeSessionScript = redis.NewScript(revokeSessionLua)
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
	if err := checkRevocation(id, until, time.Now()); err != nil {
		return err
	}
	_, err := s.runInt(ctx, "revoke_session", revokeSessionScript, []string{s.keys.revokedSessions()},
		id, revocationEnd(until).UnixMilli(), s.keys.revocations(), millis(revocationSkew))
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
		if !ok || !isSessionID(id) {
			return nil, badReply("loading revocations")
		}
		out = append(out, revocation{id: id, until: time.UnixMilli(int64(z.Score))})
	}
	return out, nil
}

// parseRevocation reads an announcement: "<id> <until in Unix ms>".
func parseRevocation(payload string) (revocation, bool) {
	id, ms, ok := strings.Cut(payload, " ")
	if !ok || !isSessionID(id) {
		return revocation{}, false
	}
	n, err := strconv.ParseInt(ms, 10, 64)
	if err != nil || n <= 0 {
		return revocation{}, false
	}
	return revocation{id: id, until: time.UnixMilli(n)}, true
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
