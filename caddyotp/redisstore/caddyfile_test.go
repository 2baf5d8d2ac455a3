package redisstore

import (
	"reflect"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/internal/testcaddy"
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestCaddyfile_StoreRedis(t *testing.T) {
	cases := []struct {
		name  string
		input string
		want  RedisStore
		err   string // a part of the error; empty for none
	}{
		{
			name:  "bare",
			input: `redis`,
		},
		{
			name: "every option",
			input: `redis {
				address 10.0.0.1:6379 10.0.0.2:6379
				address 10.0.0.3:6379
				password {env.REDIS_PASSWORD}
				db 0
				key_prefix acme:otp:
				master_name mymaster
				dial_timeout 3s
				read_timeout 500ms
				write_timeout 2s
			}`,
			want: RedisStore{
				Addresses:    []string{"10.0.0.1:6379", "10.0.0.2:6379", "10.0.0.3:6379"},
				Password:     "{env.REDIS_PASSWORD}",
				KeyPrefix:    "acme:otp:",
				MasterName:   "mymaster",
				DialTimeout:  caddy.Duration(3 * time.Second),
				ReadTimeout:  caddy.Duration(500 * time.Millisecond),
				WriteTimeout: caddy.Duration(2 * time.Second),
			},
		},
		{
			name:  "db",
			input: "redis {\n db 3\n}",
			want:  RedisStore{DB: 3},
		},
		{
			name: "sentinel with tls",
			input: `redis {
				address sentinel-1:26379 sentinel-2:26379
				master_name mymaster
				username otp
				password {env.REDIS_PASSWORD}
				sentinel_username watcher
				sentinel_password {env.SENTINEL_PASSWORD}
				tls {
					ca_file /etc/redis/ca.pem
					server_name redis.internal
					cert_file /etc/redis/client.pem
					key_file /etc/redis/client.key
				}
				pool_size 20
			}`,
			want: RedisStore{
				Addresses:        []string{"sentinel-1:26379", "sentinel-2:26379"},
				MasterName:       "mymaster",
				Username:         "otp",
				Password:         "{env.REDIS_PASSWORD}",
				SentinelUsername: "watcher",
				SentinelPassword: "{env.SENTINEL_PASSWORD}",
				TLS: &RedisTLS{
					CAFile:     "/etc/redis/ca.pem",
					ServerName: "redis.internal",
					CertFile:   "/etc/redis/client.pem",
					KeyFile:    "/etc/redis/client.key",
				},
				PoolSize: 20,
			},
		},
		{
			name:  "cluster endpoint with bare tls",
			input: "redis {\n address clustercfg.example:6379\n cluster\n tls\n}",
			want:  RedisStore{Addresses: []string{"clustercfg.example:6379"}, Cluster: true, TLS: &RedisTLS{}},
		},
		{
			name:  "empty tls block",
			input: "redis {\n tls {\n }\n key_prefix x:\n}",
			want:  RedisStore{TLS: &RedisTLS{}, KeyPrefix: "x:"},
		},
		{name: "inline argument", input: `redis 127.0.0.1:6379`, err: "wrong argument count"},
		{name: "unknown", input: "redis {\n adress 127.0.0.1:6379\n}", err: "unrecognized subdirective 'adress'"},
		{name: "address without value", input: "redis {\n address\n}", err: "wrong argument count"},
		{name: "password without value", input: "redis {\n password\n}", err: "wrong argument count"},
		{name: "two passwords", input: "redis {\n password a b\n}", err: "wrong argument count"},
		{name: "password twice", input: "redis {\n password a\n password b\n}", err: "password specified more than once"},
		{name: "db twice", input: "redis {\n db 1\n db 2\n}", err: "db specified more than once"},
		{name: "db not a number", input: "redis {\n db one\n}", err: "db must be a number"},
		{name: "negative db", input: "redis {\n db -1\n}", err: "db must be a number"},
		{name: "bad duration", input: "redis {\n read_timeout soon\n}", err: "read_timeout must be a positive duration"},
		{name: "zero duration", input: "redis {\n dial_timeout 0s\n}", err: "dial_timeout must be a positive duration"},
		{name: "timeout twice", input: "redis {\n write_timeout 1s\n write_timeout 2s\n}", err: "write_timeout specified more than once"},
		{name: "cluster with argument", input: "redis {\n cluster yes\n}", err: "wrong argument count"},
		{name: "cluster twice", input: "redis {\n cluster\n cluster\n}", err: "cluster specified more than once"},
		{name: "username without value", input: "redis {\n username\n}", err: "wrong argument count"},
		{name: "sentinel_password twice", input: "redis {\n sentinel_password a\n sentinel_password b\n}", err: "sentinel_password specified more than once"},
		{name: "pool_size not a number", input: "redis {\n pool_size many\n}", err: "pool_size must be a number"},
		{name: "negative pool_size", input: "redis {\n pool_size -5\n}", err: "pool_size must be a number"},
		{name: "tls with argument", input: "redis {\n tls on\n}", err: "wrong argument count"},
		{name: "tls twice", input: "redis {\n tls\n tls\n}", err: "tls specified more than once"},
		{name: "tls unknown", input: "redis {\n tls {\n insecure_skip_verify\n }\n}", err: "unrecognized tls subdirective 'insecure_skip_verify'"},
		{name: "tls ca_file twice", input: "redis {\n tls {\n ca_file a\n ca_file b\n }\n}", err: "tls ca_file specified more than once"},
		{name: "tls ca_file without value", input: "redis {\n tls {\n ca_file\n }\n}", err: "wrong argument count"},
		{name: "tls server_name with two values", input: "redis {\n tls {\n server_name a b\n }\n}", err: "wrong argument count"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got RedisStore
			err := got.UnmarshalCaddyfile(caddyfile.NewTestDispenser(c.input))
			testcaddy.CheckErr(t, err, c.err)
			if c.err == "" && !reflect.DeepEqual(got, c.want) {
				t.Fatalf("expected %+v, got %+v", c.want, got)
			}
		})
	}
}
