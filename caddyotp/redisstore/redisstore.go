// Package redisstore is the otp.stores.redis guest: the store shared by every Caddy instance
// on one Redis (single server, Sentinel or Cluster), each step one Lua script.
package redisstore

import (
	"crypto/sha256"
	"crypto/tls"
	_ "embed"
	"encoding/hex"
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

	"github.com/caddyotp/caddyotp/caddyotp"
)

func init() {
	caddy.RegisterModule(RedisStore{})
}

// RedisStore keeps codes, failure runs, locks, limits, the budget, the SMS ledger, the
// daily counts, the pumping guard and the gate's remembered devices in Redis, so that any
// number of Caddy instances share them. Each step is one Lua script (see the scripts
// directory) or a single command; every key has a TTL, and the keys of one mobile share a
// hash tag so that the scripts run on Redis Cluster. When Redis cannot answer, every
// method fails with ErrStoreUnavailable and the service fails closed.
//
// Revoked gate sessions are a sorted set that every instance loads, plus a Pub/Sub channel
// that announces each new revocation. A Redis that lost its data (a restart without
// persistence, a failover to a replica that had not caught up) has lost its revocations
// too: sessions revoked before then are ended only by their absolute expiry (at most 24h).
// Remembered devices are lost with it as well: they then renew nothing, and their owners
// get the code step again.
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

// Interface guards
var (
	_ caddyotp.Store        = (*RedisStore)(nil)
	_ caddyotp.GuardStore   = (*RedisStore)(nil)
	_ caddyotp.DeviceStore  = (*RedisStore)(nil)
	_ caddy.Provisioner     = (*RedisStore)(nil)
	_ caddy.Validator       = (*RedisStore)(nil)
	_ caddy.CleanerUpper    = (*RedisStore)(nil)
	_ caddyfile.Unmarshaler = (*RedisStore)(nil)
)
