// The gate's remembered devices.

package redisstore

import (
	"cmp"
	"context"
	_ "embed"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/caddyotp/caddyotp/caddyotp"
)

var (
	//go:embed scripts/put_device.lua
	putDeviceLua    string
	putDeviceScript = redis.NewScript(putDeviceLua)

	//go:embed scripts/forget_devices.lua
	forgetDevicesLua    string
	forgetDevicesScript = redis.NewScript(forgetDevicesLua)
)

// PutDevice implements caddyotp.DeviceStore: one script over the realm and mobile's hash.
// Expiry is judged by this instance's clock, as the service's own now is; no field TTLs
// (Redis 7.4) are needed.
func (s *RedisStore) PutDevice(ctx context.Context, d caddyotp.Device) error {
	now := time.Now()
	if err := caddyotp.CheckDevice(d, now); err != nil {
		return err
	}
	n, err := s.runInt(ctx, "put_device", putDeviceScript, []string{s.keys.devices(d.Realm, d.Mobile)},
		d.ID, deviceValue(d), now.UnixMilli(), caddyotp.MaxDevices)
	if err != nil {
		return err
	}
	if n < 0 {
		return badReply("put_device")
	}
	return nil
}

// Device implements caddyotp.DeviceStore.
func (s *RedisStore) Device(ctx context.Context, realm, mobile, id string, now time.Time) (caddyotp.Device, bool, error) {
	v, err := s.client.HGet(ctx, s.keys.devices(realm, mobile), id).Result()
	if errors.Is(err, redis.Nil) {
		return caddyotp.Device{}, false, nil
	}
	if err != nil {
		return caddyotp.Device{}, false, unavailable("reading device", err)
	}
	d, ok := parseDevice(realm, mobile, id, v)
	if !ok {
		return caddyotp.Device{}, false, badReply("reading device")
	}
	if !d.Expires.After(now) {
		return caddyotp.Device{}, false, nil
	}
	return d, true, nil
}

// Devices implements caddyotp.DeviceStore.
func (s *RedisStore) Devices(ctx context.Context, realm, mobile string, now time.Time) ([]caddyotp.Device, error) {
	all, err := s.client.HGetAll(ctx, s.keys.devices(realm, mobile)).Result()
	if err != nil {
		return nil, unavailable("reading devices", err)
	}
	out := make([]caddyotp.Device, 0, len(all))
	for id, v := range all {
		d, ok := parseDevice(realm, mobile, id, v)
		if !ok {
			return nil, badReply("reading devices")
		}
		if d.Expires.After(now) {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, newestFirst)
	return out, nil
}

// ForgetDevice implements caddyotp.DeviceStore.
func (s *RedisStore) ForgetDevice(ctx context.Context, realm, mobile, id string) error {
	if err := s.client.HDel(ctx, s.keys.devices(realm, mobile), id).Err(); err != nil {
		return unavailable("forgetting device", err)
	}
	return nil
}

// ForgetDevices implements caddyotp.DeviceStore.
func (s *RedisStore) ForgetDevices(ctx context.Context, realm, mobile string, now time.Time) (int, error) {
	n, err := s.runInt(ctx, "forget_devices", forgetDevicesScript, []string{s.keys.devices(realm, mobile)}, now.UnixMilli())
	if err != nil {
		return 0, err
	}
	if n < 0 || n > 1<<20 {
		return 0, badReply("forget_devices")
	}
	return int(n), nil
}

// deviceValue is what the devices' hash keeps of d under its id:
// "<created>:<expires>:<user>", the times in Unix ms. The user comes last, so that it may
// hold any byte.
func deviceValue(d caddyotp.Device) string {
	return strconv.FormatInt(d.Created.UnixMilli(), 10) + ":" + strconv.FormatInt(d.Expires.UnixMilli(), 10) + ":" + d.User
}

// parseDevice reads a value of deviceValue back into the device id of realm and mobile.
func parseDevice(realm, mobile, id, v string) (caddyotp.Device, bool) {
	created, rest, ok1 := strings.Cut(v, ":")
	expires, user, ok2 := strings.Cut(rest, ":")
	c, err1 := strconv.ParseInt(created, 10, 64)
	e, err2 := strconv.ParseInt(expires, 10, 64)
	if !ok1 || !ok2 || err1 != nil || err2 != nil {
		return caddyotp.Device{}, false
	}
	return caddyotp.Device{ID: id, Realm: realm, Mobile: mobile, User: user,
		Created: time.UnixMilli(c), Expires: time.UnixMilli(e)}, true
}

// newestFirst orders devices as Devices lists them: newest Created first, then the one
// that expires last, then by id (as the memory store does).
func newestFirst(a, b caddyotp.Device) int {
	return cmp.Or(b.Created.Compare(a.Created), b.Expires.Compare(a.Expires), cmp.Compare(a.ID, b.ID))
}
