package redisstore

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/storetest"
	"github.com/caddyotp/caddyotp/internal/redistest"
)

// TestRedisStoreDeviceHash: a realm and mobile's devices are one hash of compact values,
// which lives until its last device expires; a put drops the expired ones and what cannot
// be a device.
func TestRedisStoreDeviceHash(t *testing.T) {
	srv := redistest.Start(t)
	s := newTestRedisStore(t, srv.Addr(), "otp:")
	c, ctx := srv.Client(), context.Background()
	key := s.keys.devices("login", storetest.Mobile)

	now := time.Now()
	d := storetest.NewDevice("login", storetest.Mobile, 1, now, 2*time.Hour)
	d.User = "alice:ops"
	storetest.PutDevice(t, s, d)
	want := strconv.FormatInt(d.Created.UnixMilli(), 10) + ":" + strconv.FormatInt(d.Expires.UnixMilli(), 10) + ":alice:ops"
	if got := c.HGet(ctx, key, d.ID).Val(); got != want {
		t.Fatalf("expected the value %q, got %q", want, got)
	}
	expectPTTL(t, srv, key, 2*time.Hour)

	// A shorter-lived device leaves the hash's ttl at the longest; a longer one moves it.
	storetest.PutDevice(t, s, storetest.NewDevice("login", storetest.Mobile, 2, now, time.Hour))
	expectPTTL(t, srv, key, 2*time.Hour)
	storetest.PutDevice(t, s, storetest.NewDevice("login", storetest.Mobile, 3, now, 3*time.Hour))
	expectPTTL(t, srv, key, 3*time.Hour)

	// An expired field and one of another form go with the next put.
	past := strconv.FormatInt(now.Add(-2*time.Hour).UnixMilli(), 10) + ":" + strconv.FormatInt(now.Add(-time.Hour).UnixMilli(), 10) + ":"
	if err := c.HSet(ctx, key, storetest.DeviceID(8), past, storetest.DeviceID(9), "nonsense").Err(); err != nil {
		t.Fatalf("HSET: expected no error, got %v", err)
	}
	storetest.PutDevice(t, s, storetest.NewDevice("login", storetest.Mobile, 4, now, time.Hour))
	if fields := c.HKeys(ctx, key).Val(); len(fields) != 4 {
		t.Fatalf("expected devices 1 to 4 in the hash, got %v", fields)
	}

	// The last device forgotten, the hash is gone.
	storetest.ForgetDevices(t, s, "login", storetest.Mobile, now)
	if n := c.Exists(ctx, key).Val(); n != 0 {
		t.Fatalf("expected no hash once every device is forgotten, got %d", n)
	}
	for i := 1; i <= 2; i++ {
		storetest.PutDevice(t, s, storetest.NewDevice("login", storetest.Mobile, i, now, time.Hour))
	}
	storetest.ForgetDevice(t, s, "login", storetest.Mobile, storetest.DeviceID(1))
	storetest.ForgetDevice(t, s, "login", storetest.Mobile, storetest.DeviceID(2))
	if n := c.Exists(ctx, key).Val(); n != 0 {
		t.Fatalf("expected no hash once its last device is forgotten, got %d", n)
	}
}

// expectPTTL checks that key expires in about d: at most d, and less than a minute sooner.
func expectPTTL(t *testing.T, srv *redistest.Server, key string, d time.Duration) {
	t.Helper()
	if ttl := srv.Client().PTTL(context.Background(), key).Val(); ttl > d || ttl < d-time.Minute {
		t.Fatalf("expected %s to expire in about %s, got %s", key, d, ttl)
	}
}

// TestRedisStoreDeviceNonsense: a device value that makes no sense is never a device on
// record (the store does not answer sensibly), and forgetting every device still clears it.
func TestRedisStoreDeviceNonsense(t *testing.T) {
	srv := redistest.Start(t)
	s := newTestRedisStore(t, srv.Addr(), "otp:")
	c, ctx := srv.Client(), context.Background()
	key := s.keys.devices("login", storetest.Mobile)
	id := storetest.DeviceID(1)
	for _, v := range []string{"nonsense", "1:2", "x:2:", "1:y:"} {
		if err := c.HSet(ctx, key, id, v).Err(); err != nil {
			t.Fatalf("HSET: expected no error, got %v", err)
		}
		if _, _, err := s.Device(ctx, "login", storetest.Mobile, id, time.Now()); !errors.Is(err, caddyotp.ErrStoreUnavailable) {
			t.Fatalf("Device of %q: expected ErrStoreUnavailable, got %v", v, err)
		}
		if _, err := s.Devices(ctx, "login", storetest.Mobile, time.Now()); !errors.Is(err, caddyotp.ErrStoreUnavailable) {
			t.Fatalf("Devices with %q: expected ErrStoreUnavailable, got %v", v, err)
		}
	}
	if n := storetest.ForgetDevices(t, s, "login", storetest.Mobile, time.Now()); n != 0 {
		t.Fatalf("expected no live device counted, got %d", n)
	}
	if n := c.Exists(ctx, key).Val(); n != 0 {
		t.Fatalf("expected the hash gone, got %d", n)
	}
	if err := c.Set(ctx, key, "a string", time.Minute).Err(); err != nil {
		t.Fatalf("SET: expected no error, got %v", err)
	}
	if err := s.PutDevice(ctx, storetest.NewDevice("login", storetest.Mobile, 1, time.Now(), time.Hour)); !errors.Is(err, caddyotp.ErrStoreUnavailable) {
		t.Fatalf("PutDevice over a string: expected ErrStoreUnavailable, got %v", err)
	}
}
