package caddyotp

import (
	"reflect"
	"strings"
	"testing"
	"time"

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
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got RedisStore
			err := got.UnmarshalCaddyfile(caddyfile.NewTestDispenser(c.input))
			checkCaddyfileErr(t, err, c.err)
			if c.err == "" && !reflect.DeepEqual(got, c.want) {
				t.Fatalf("expected %+v, got %+v", c.want, got)
			}
		})
	}
}

func TestCaddyfile_StoreMemory(t *testing.T) {
	cases := []struct {
		name  string
		input string
		err   string
	}{
		{name: "bare", input: `memory`},
		{name: "empty block", input: "memory {\n}"},
		{name: "argument", input: `memory big`, err: "wrong argument count"},
		{name: "option", input: "memory {\n size 10\n}", err: "unrecognized subdirective 'size'"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var s MemoryStore
			checkCaddyfileErr(t, s.UnmarshalCaddyfile(caddyfile.NewTestDispenser(c.input)), c.err)
		})
	}
}

func checkCaddyfileErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("expected no error, got %v", err)
	case want != "" && err == nil:
		t.Fatalf("expected an error with %q, got none", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Fatalf("expected an error with %q, got %v", want, err)
	}
}
