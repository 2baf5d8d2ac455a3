package memorystore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/storetest"
)

// TestMemoryStoreDevicesClock: PutDevice judges a device by the store's clock, the
// entry of a realm and mobile lives until its last device expires, and then a write's
// sweep drops it.
func TestMemoryStoreDevicesClock(t *testing.T) {
	clock := &fakeClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := newTestMemoryStore(t, clock.now)
	start := clock.now()
	short := storetest.NewDevice("login", storetest.Mobile, 1, start, time.Hour)
	long := storetest.NewDevice("login", storetest.Mobile, 2, start, 3*time.Hour)
	storetest.PutDevice(t, s, short)
	storetest.PutDevice(t, s, long)

	clock.add(2 * time.Hour)
	// Expired by the store's clock, although live by the device's own Created.
	late := storetest.NewDevice("login", storetest.Mobile, 3, start, 90*time.Minute)
	if err := s.PutDevice(context.Background(), late); !errors.Is(err, caddyotp.ErrInvalidArgument) {
		t.Fatalf("expected a device expired by the store's clock refused, got %v", err)
	}
	if n := s.devices(t); n != 1 {
		t.Fatalf("expected the realm and mobile's entry held while a device lives, got %d entries", n)
	}
	if _, ok := storetest.Device(t, s, "login", storetest.Mobile, short.ID, clock.now()); ok {
		t.Fatal("expected the expired device not returned")
	}
	// A put drops the expired device from the entry; the live one stays.
	other := storetest.NewDevice("login", storetest.Mobile, 4, clock.now(), time.Hour)
	storetest.PutDevice(t, s, other)
	if got := s.deviceIDs("login", storetest.Mobile); len(got) != 2 || got[0] != long.ID || got[1] != other.ID {
		t.Fatalf("expected devices %s and %s held, got %v", long.ID, other.ID, got)
	}

	clock.add(2 * time.Hour)
	if _, ok := storetest.Device(t, s, "login", storetest.Mobile, other.ID, clock.now()); ok {
		t.Fatal("expected the last device expired")
	}
	// Another realm's put sweeps the small map whole: the expired entry goes.
	storetest.PutDevice(t, s, storetest.NewDevice("admin", storetest.Mobile, 1, clock.now(), time.Hour))
	if n := s.devices(t); n != 1 {
		t.Fatalf("expected only the new realm's entry after the sweep, got %d", n)
	}
}

// TestMemoryStoreDevicesForgetEmpties: forgetting the last device of a realm and mobile
// gives its entry back to max_entries.
func TestMemoryStoreDevicesForgetEmpties(t *testing.T) {
	s := newTestMemoryStore(t, nil)
	now := time.Now()
	a := storetest.NewDevice("login", storetest.Mobile, 1, now, time.Hour)
	b := storetest.NewDevice("login", storetest.Mobile, 2, now, time.Hour)
	storetest.PutDevice(t, s, a)
	storetest.PutDevice(t, s, b)
	storetest.ForgetDevice(t, s, "login", storetest.Mobile, a.ID)
	if n := s.devices(t); n != 1 {
		t.Fatalf("expected the entry kept for the other device, got %d", n)
	}
	storetest.ForgetDevice(t, s, "login", storetest.Mobile, b.ID)
	if n := s.entries(t); n != 0 {
		t.Fatalf("expected no entry once the last device is forgotten, got %d", n)
	}
	storetest.PutDevice(t, s, a)
	storetest.ForgetDevices(t, s, "login", storetest.Mobile, now)
	if n := s.entries(t); n != 0 {
		t.Fatalf("expected no entry once every device is forgotten, got %d", n)
	}
}

// devices is how many realm and mobile entries the store holds, checking the bound.
func (s *MemoryStore) devices(t *testing.T) int {
	t.Helper()
	s.entries(t)
	s.state.mu.Lock()
	defer s.state.mu.Unlock()
	return s.state.devices.Len()
}

// deviceIDs is the ids a realm and mobile's entry holds, expired ones included, in the
// order the entry keeps them.
func (s *MemoryStore) deviceIDs(realm, mobile string) []string {
	s.state.mu.Lock()
	defer s.state.mu.Unlock()
	var ids []string
	for k, ds := range s.state.devices.All(time.Time{}) {
		if k == (deviceKey{realm: realm, mobile: mobile}) {
			for _, d := range ds {
				ids = append(ids, d.ID)
			}
		}
	}
	return ids
}
