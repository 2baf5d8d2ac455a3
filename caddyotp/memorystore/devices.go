// The gate's remembered devices.

package memorystore

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/caddyotp/caddyotp/caddyotp"
)

// deviceKey names the devices of one realm and mobile: one entry of the store, holding at
// most caddyotp.MaxDevices devices and living until the last of them expires.
type deviceKey struct {
	realm  string
	mobile string
}

// PutDevice implements caddyotp.DeviceStore. The realm and mobile's expired devices go,
// and, past MaxDevices, the live one that expires first other than d. A new realm and
// mobile counts against max_entries; an update of one held never fails.
func (s *MemoryStore) PutDevice(_ context.Context, d caddyotp.Device) error {
	st, now := s.enter()
	defer st.mu.Unlock()
	if err := caddyotp.CheckDevice(d, now); err != nil {
		return err
	}
	d = deviceRecord(d)
	k := deviceKey{realm: d.Realm, mobile: d.Mobile}
	old, _ := st.devices.Get(k, now)
	kept := make([]caddyotp.Device, 0, min(len(old)+1, caddyotp.MaxDevices))
	for _, o := range old {
		if o.ID != d.ID && o.Expires.After(now) {
			kept = append(kept, o)
		}
	}
	for len(kept) >= caddyotp.MaxDevices {
		i := firstToExpire(kept)
		kept = slices.Delete(kept, i, i+1)
	}
	kept = append(kept, d)
	if err := st.setDevices(k, kept, now); err != nil {
		return s.full(st, now)
	}
	return nil
}

// Device implements caddyotp.DeviceStore.
func (s *MemoryStore) Device(_ context.Context, realm, mobile, id string, now time.Time) (caddyotp.Device, bool, error) {
	st, _ := s.enter()
	defer st.mu.Unlock()
	ds, _ := st.devices.Get(deviceKey{realm: realm, mobile: mobile}, now)
	for _, d := range ds {
		if d.ID == id && d.Expires.After(now) {
			return d, true, nil
		}
	}
	return caddyotp.Device{}, false, nil
}

// Devices implements caddyotp.DeviceStore.
func (s *MemoryStore) Devices(_ context.Context, realm, mobile string, now time.Time) ([]caddyotp.Device, error) {
	st, _ := s.enter()
	defer st.mu.Unlock()
	ds, _ := st.devices.Get(deviceKey{realm: realm, mobile: mobile}, now)
	out := []caddyotp.Device{}
	for _, d := range ds {
		if d.Expires.After(now) {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, newestFirst)
	return out, nil
}

// ForgetDevice implements caddyotp.DeviceStore.
func (s *MemoryStore) ForgetDevice(_ context.Context, realm, mobile, id string) error {
	st, now := s.enter()
	defer st.mu.Unlock()
	k := deviceKey{realm: realm, mobile: mobile}
	ds, ok := st.devices.Get(k, now)
	if !ok {
		st.devices.Delete(k) // expired, if held at all
		return nil
	}
	rest := slices.DeleteFunc(slices.Clone(ds), func(d caddyotp.Device) bool { return d.ID == id })
	if len(rest) == len(ds) {
		return nil
	}
	// The key is held: the update is never refused.
	return st.setDevices(k, rest, now)
}

// ForgetDevices implements caddyotp.DeviceStore.
func (s *MemoryStore) ForgetDevices(_ context.Context, realm, mobile string, now time.Time) (int, error) {
	st, _ := s.enter()
	defer st.mu.Unlock()
	k := deviceKey{realm: realm, mobile: mobile}
	ds, _ := st.devices.Get(k, now)
	live := 0
	for _, d := range ds {
		if d.Expires.After(now) {
			live++
		}
	}
	st.devices.Delete(k)
	return live, nil
}

// setDevices keeps ds as the devices of k until the last of them expires, or drops k when
// none is left. The caller holds mu.
func (st *memoryState) setDevices(k deviceKey, ds []caddyotp.Device, now time.Time) error {
	var last time.Time
	for _, d := range ds {
		last = later(last, d.Expires)
	}
	if !last.After(now) {
		st.devices.Delete(k)
		return nil
	}
	return st.devices.Set(k, ds, last, now)
}

// deviceRecord is d with its times in Unix milliseconds, as the Redis store keeps them, so
// that both stores return the same device.
func deviceRecord(d caddyotp.Device) caddyotp.Device {
	d.Created = time.UnixMilli(d.Created.UnixMilli())
	d.Expires = time.UnixMilli(d.Expires.UnixMilli())
	return d
}

// firstToExpire is the index of the device in ds that the cap drops: the one that expires
// first, then the one created first, then the lowest id (put_device.lua picks the same).
func firstToExpire(ds []caddyotp.Device) int {
	first := 0
	for i, d := range ds {
		f := ds[first]
		if c := cmp.Or(d.Expires.Compare(f.Expires), d.Created.Compare(f.Created), cmp.Compare(d.ID, f.ID)); c < 0 {
			first = i
		}
	}
	return first
}

// newestFirst orders devices as Devices lists them: newest Created first, then the one
// that expires last, then by id.
func newestFirst(a, b caddyotp.Device) int {
	return cmp.Or(b.Created.Compare(a.Created), b.Expires.Compare(a.Expires), cmp.Compare(a.ID, b.ID))
}
