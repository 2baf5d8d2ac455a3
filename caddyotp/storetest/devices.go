package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/caddyotp"
)

// The gate's remembered devices: PutDevice, Device, Devices, ForgetDevice and
// ForgetDevices. Run expects every store to keep them (caddyotp.DeviceStore, part of
// caddyotp.Store).

// deviceCases are Run's cases for remembered devices.
var deviceCases = []storeCase{
	{"device put then get", testDevicePutGet},
	{"devices are per realm, mobile and id", testDevicesApart},
	{"device expires", testDeviceExpires},
	{"devices newest first, only live ones", testDevicesOrder},
	{"device cap drops the one that expires first", testDeviceCap},
	{"device forgotten", testForgetDevice},
	{"devices forgotten together", testForgetDevices},
	{"device refused writes nothing", testDeviceInvalid},
	{"device cap holds in parallel", testDeviceParallel},
}

// DeviceID is a made-up device id: 32 lower-case hex digits.
func DeviceID(n int) string {
	return fmt.Sprintf("d%031x", n)
}

// NewDevice is device n of realm and mobile, remembered at created for life.
func NewDevice(realm, mobile string, n int, created time.Time, life time.Duration) caddyotp.Device {
	return caddyotp.Device{ID: DeviceID(n), Realm: realm, Mobile: mobile, Created: created, Expires: created.Add(life)}
}

// PutDevice records d and fails the test on an error.
func PutDevice(t *testing.T, s caddyotp.Store, d caddyotp.Device) {
	t.Helper()
	if err := s.PutDevice(context.Background(), d); err != nil {
		t.Fatalf("PutDevice: expected no error, got %v", err)
	}
}

// Device looks up a device and fails the test on an error.
func Device(t *testing.T, s caddyotp.Store, realm, mobile, id string, now time.Time) (caddyotp.Device, bool) {
	t.Helper()
	d, ok, err := s.Device(context.Background(), realm, mobile, id, now)
	if err != nil {
		t.Fatalf("Device: expected no error, got %v", err)
	}
	return d, ok
}

// Devices lists the live devices of realm and mobile and fails the test on an error.
func Devices(t *testing.T, s caddyotp.Store, realm, mobile string, now time.Time) []caddyotp.Device {
	t.Helper()
	ds, err := s.Devices(context.Background(), realm, mobile, now)
	if err != nil {
		t.Fatalf("Devices: expected no error, got %v", err)
	}
	return ds
}

// ForgetDevice removes a device and fails the test on an error.
func ForgetDevice(t *testing.T, s caddyotp.Store, realm, mobile, id string) {
	t.Helper()
	if err := s.ForgetDevice(context.Background(), realm, mobile, id); err != nil {
		t.Fatalf("ForgetDevice: expected no error, got %v", err)
	}
}

// ForgetDevices removes every device of realm and mobile, fails the test on an error and
// returns how many were live.
func ForgetDevices(t *testing.T, s caddyotp.Store, realm, mobile string, now time.Time) int {
	t.Helper()
	n, err := s.ForgetDevices(context.Background(), realm, mobile, now)
	if err != nil {
		t.Fatalf("ForgetDevices: expected no error, got %v", err)
	}
	return n
}

// sameInstant reports whether a store's time is want, kept to the millisecond at least:
// a store may drop what is below the millisecond (Redis keeps Unix ms), never more.
func sameInstant(got, want time.Time) bool {
	d := want.Sub(got)
	return d >= 0 && d < time.Millisecond
}

// expectDevice checks that the store returned want, its times to the millisecond.
func expectDevice(t *testing.T, got, want caddyotp.Device) {
	t.Helper()
	if got.ID != want.ID || got.Realm != want.Realm || got.Mobile != want.Mobile || got.User != want.User ||
		!sameInstant(got.Created, want.Created) || !sameInstant(got.Expires, want.Expires) {
		t.Fatalf("expected device %+v, got %+v", want, got)
	}
}

// expectOnRecord checks that Device finds d at now, as it was put.
func expectOnRecord(t *testing.T, s caddyotp.Store, d caddyotp.Device, now time.Time) {
	t.Helper()
	got, ok := Device(t, s, d.Realm, d.Mobile, d.ID, now)
	if !ok {
		t.Fatalf("expected device %s of %s and %s on record, got none", d.ID, d.Realm, d.Mobile)
	}
	expectDevice(t, got, d)
}

// expectNotOnRecord checks that Device finds no device id of realm and mobile at now.
func expectNotOnRecord(t *testing.T, s caddyotp.Store, realm, mobile, id string, now time.Time) {
	t.Helper()
	if got, ok := Device(t, s, realm, mobile, id, now); ok {
		t.Fatalf("expected no device %s of %s and %s, got %+v", id, realm, mobile, got)
	}
}

// expectDeviceIDs checks the ids Devices lists at now, in order.
func expectDeviceIDs(t *testing.T, s caddyotp.Store, realm, mobile string, now time.Time, want ...string) {
	t.Helper()
	var got []string
	for _, d := range Devices(t, s, realm, mobile, now) {
		got = append(got, d.ID)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("devices of %s and %s: expected %v, got %v", realm, mobile, want, got)
	}
}

// otherMobile is a second mobile of the suite's; its devices must never mix with Mobile's.
const otherMobile = "+12025550123"

func testDevicePutGet(t *testing.T, s caddyotp.Store) {
	now := time.Now()
	d := NewDevice("login", Mobile, 1, now, caddyotp.MaxRemember)
	d.User = "alice:ops|ünï cødé" // kept as it is, separators and all
	PutDevice(t, s, d)
	expectOnRecord(t, s, d, now)
	ds := Devices(t, s, "login", Mobile, now)
	if len(ds) != 1 {
		t.Fatalf("expected one device, got %+v", ds)
	}
	expectDevice(t, ds[0], d)

	// A user-less device, and the same id put again: the newer record replaces the older.
	plain := NewDevice("login", Mobile, 2, now, time.Hour)
	PutDevice(t, s, plain)
	expectOnRecord(t, s, plain, now)
	again := d
	again.User, again.Created, again.Expires = "bob", now.Add(time.Second), now.Add(2*time.Hour)
	PutDevice(t, s, again)
	expectOnRecord(t, s, again, now)
	if n := len(Devices(t, s, "login", Mobile, now)); n != 2 {
		t.Fatalf("expected 2 devices after putting one id twice, got %d", n)
	}
}

func testDevicesApart(t *testing.T, s caddyotp.Store) {
	now := time.Now()
	d := NewDevice("login", Mobile, 1, now, time.Hour)
	PutDevice(t, s, d)
	expectNotOnRecord(t, s, "admin", Mobile, d.ID, now)
	expectNotOnRecord(t, s, "login", otherMobile, d.ID, now)
	expectNotOnRecord(t, s, "login", Mobile, DeviceID(2), now)
	expectDeviceIDs(t, s, "admin", Mobile, now)
	expectDeviceIDs(t, s, "login", otherMobile, now)

	// Forgetting it elsewhere leaves it.
	ForgetDevice(t, s, "admin", Mobile, d.ID)
	ForgetDevice(t, s, "login", otherMobile, d.ID)
	expectOnRecord(t, s, d, now)

	// The same id in another realm is another device.
	other := NewDevice("admin", Mobile, 1, now, 2*time.Hour)
	other.User = "alice"
	PutDevice(t, s, other)
	expectOnRecord(t, s, d, now)
	expectOnRecord(t, s, other, now)
}

// Past its Expires a device is not returned, while the others of its realm and mobile
// still are: on the store's own clock once the time has come, and at a later now.
func testDeviceExpires(t *testing.T, s caddyotp.Store) {
	now := time.Now()
	d := NewDevice("login", Mobile, 1, now, time.Hour)
	short := NewDevice("login", Mobile, 2, now, 300*time.Millisecond)
	PutDevice(t, s, d)
	PutDevice(t, s, short)
	expectOnRecord(t, s, short, time.Now())
	time.Sleep(400 * time.Millisecond)
	expectNotOnRecord(t, s, "login", Mobile, short.ID, time.Now())
	expectDeviceIDs(t, s, "login", Mobile, time.Now(), d.ID)

	expectOnRecord(t, s, d, d.Expires.Add(-time.Millisecond))
	expectNotOnRecord(t, s, "login", Mobile, d.ID, d.Expires)
	expectDeviceIDs(t, s, "login", Mobile, d.Expires.Add(time.Minute))
	if n := ForgetDevices(t, s, "login", Mobile, d.Expires.Add(time.Minute)); n != 0 {
		t.Fatalf("expected no live device to forget, got %d", n)
	}
}

func testDevicesOrder(t *testing.T, s caddyotp.Store) {
	now := time.Now()
	// Created an hour, three and two hours ago, each for a day, and one created just now
	// that lives a minute.
	a := NewDevice("login", Mobile, 1, now.Add(-time.Hour), 24*time.Hour)
	b := NewDevice("login", Mobile, 2, now.Add(-3*time.Hour), 24*time.Hour)
	c := NewDevice("login", Mobile, 3, now.Add(-2*time.Hour), 24*time.Hour)
	brief := NewDevice("login", Mobile, 4, now, time.Minute)
	for _, d := range []caddyotp.Device{a, b, c, brief} {
		PutDevice(t, s, d)
	}
	expectDeviceIDs(t, s, "login", Mobile, now, brief.ID, a.ID, c.ID, b.ID)
	expectDeviceIDs(t, s, "login", Mobile, now.Add(2*time.Minute), a.ID, c.ID, b.ID)
	expectNotOnRecord(t, s, "login", Mobile, brief.ID, now.Add(2*time.Minute))
	expectOnRecord(t, s, a, now.Add(2*time.Minute))
	ds := Devices(t, s, "login", Mobile, now)
	for i, want := range []caddyotp.Device{brief, a, c, b} {
		expectDevice(t, ds[i], want)
	}
	expectDeviceIDs(t, s, "login", Mobile, a.Expires.Add(time.Hour))
}

// The cap: one more live device than MaxDevices drops the live one that expires first
// (the one just put is recorded, whatever its expiry), and expired ones take no place.
func testDeviceCap(t *testing.T, s caddyotp.Store) {
	now := time.Now()
	// Devices 1..MaxDevices, put in a jumbled order, device i expiring i hours from now.
	for i := range caddyotp.MaxDevices {
		n := (i*7)%caddyotp.MaxDevices + 1
		PutDevice(t, s, NewDevice("login", Mobile, n, now, time.Duration(n)*time.Hour))
	}
	PutDevice(t, s, NewDevice("login", otherMobile, 100, now, time.Hour)) // another mobile's cap
	if n := len(Devices(t, s, "login", Mobile, now)); n != caddyotp.MaxDevices {
		t.Fatalf("expected %d devices, got %d", caddyotp.MaxDevices, n)
	}

	// One more, expiring last: device 1 (the first to expire) goes.
	PutDevice(t, s, NewDevice("login", Mobile, 50, now, 100*time.Hour))
	expectNotOnRecord(t, s, "login", Mobile, DeviceID(1), now)
	for _, n := range []int{2, caddyotp.MaxDevices, 50} {
		if _, ok := Device(t, s, "login", Mobile, DeviceID(n), now); !ok {
			t.Fatalf("expected device %d kept, got none", n)
		}
	}
	// One more, expiring first of all: it is recorded, and device 2 goes.
	soon := NewDevice("login", Mobile, 51, now, 30*time.Minute)
	PutDevice(t, s, soon)
	expectOnRecord(t, s, soon, now)
	expectNotOnRecord(t, s, "login", Mobile, DeviceID(2), now)
	// An id on record put again replaces itself: nothing else goes.
	PutDevice(t, s, NewDevice("login", Mobile, 3, now, 3*time.Hour))
	if n := len(Devices(t, s, "login", Mobile, now)); n != caddyotp.MaxDevices {
		t.Fatalf("expected %d devices, got %d", caddyotp.MaxDevices, n)
	}
	expectDeviceIDs(t, s, "login", otherMobile, now, DeviceID(100))

	// Expired devices take no place: in a full realm and mobile where two have expired,
	// two more drop none of the live ones.
	start := time.Now()
	for i := range caddyotp.MaxDevices - 2 {
		PutDevice(t, s, NewDevice("admin", Mobile, i+1, start, 24*time.Hour))
	}
	for i := range 2 {
		PutDevice(t, s, NewDevice("admin", Mobile, 200+i, start, 300*time.Millisecond))
	}
	time.Sleep(400 * time.Millisecond)
	for i := range 2 {
		PutDevice(t, s, NewDevice("admin", Mobile, 300+i, time.Now(), time.Hour))
	}
	ds := Devices(t, s, "admin", Mobile, time.Now())
	if len(ds) != caddyotp.MaxDevices {
		t.Fatalf("expected %d live devices, got %d", caddyotp.MaxDevices, len(ds))
	}
	for _, d := range ds {
		if d.ID == DeviceID(200) || d.ID == DeviceID(201) {
			t.Fatalf("expected the expired devices gone, got %+v", d)
		}
	}
}

func testForgetDevice(t *testing.T, s caddyotp.Store) {
	now := time.Now()
	a, b := NewDevice("login", Mobile, 1, now, time.Hour), NewDevice("login", Mobile, 2, now, time.Hour)
	PutDevice(t, s, a)
	PutDevice(t, s, b)
	ForgetDevice(t, s, "login", Mobile, a.ID)
	expectNotOnRecord(t, s, "login", Mobile, a.ID, now)
	expectOnRecord(t, s, b, now)
	ForgetDevice(t, s, "login", Mobile, a.ID)         // again
	ForgetDevice(t, s, "login", Mobile, DeviceID(99)) // never put
	ForgetDevice(t, s, "nowhere", otherMobile, a.ID)  // no device of that realm and mobile
	ForgetDevice(t, s, "login", Mobile, b.ID)         // the last one
	expectDeviceIDs(t, s, "login", Mobile, now)
	PutDevice(t, s, a) // and put again after all were forgotten
	expectOnRecord(t, s, a, now)
}

func testForgetDevices(t *testing.T, s caddyotp.Store) {
	now := time.Now()
	PutDevice(t, s, NewDevice("login", Mobile, 1, now, 24*time.Hour))
	PutDevice(t, s, NewDevice("login", Mobile, 2, now, 24*time.Hour))
	PutDevice(t, s, NewDevice("login", Mobile, 3, now, time.Hour))
	keepMobile := NewDevice("login", otherMobile, 4, now, 24*time.Hour)
	keepRealm := NewDevice("admin", Mobile, 5, now, 24*time.Hour)
	PutDevice(t, s, keepMobile)
	PutDevice(t, s, keepRealm)

	// Two hours on, device 3 has expired: two were live.
	if n := ForgetDevices(t, s, "login", Mobile, now.Add(2*time.Hour)); n != 2 {
		t.Fatalf("expected 2 live devices forgotten, got %d", n)
	}
	expectDeviceIDs(t, s, "login", Mobile, now)
	expectNotOnRecord(t, s, "login", Mobile, DeviceID(3), now) // expired at that now, gone anyway
	expectOnRecord(t, s, keepMobile, now)
	expectOnRecord(t, s, keepRealm, now)
	if n := ForgetDevices(t, s, "login", Mobile, now); n != 0 {
		t.Fatalf("expected nothing left to forget, got %d", n)
	}
	if n := ForgetDevices(t, s, "nowhere", Mobile, now); n != 0 {
		t.Fatalf("expected nothing to forget in an unknown realm, got %d", n)
	}
}

// invalidDevices are devices CheckDevice refuses, each a change to a good device of the
// realm "login" and Mobile.
func invalidDevices(now time.Time) map[string]caddyotp.Device {
	good := NewDevice("login", Mobile, 1, now, time.Hour)
	change := func(f func(d *caddyotp.Device)) caddyotp.Device {
		d := good
		f(&d)
		return d
	}
	return map[string]caddyotp.Device{
		"device with a short id":         change(func(d *caddyotp.Device) { d.ID = d.ID[1:] }),
		"device with an upper-case id":   change(func(d *caddyotp.Device) { d.ID = strings.ToUpper(d.ID) }),
		"device without a realm":         change(func(d *caddyotp.Device) { d.Realm = "" }),
		"device with a 256-byte realm":   change(func(d *caddyotp.Device) { d.Realm = strings.Repeat("r", 256) }),
		"device without a mobile":        change(func(d *caddyotp.Device) { d.Mobile = "" }),
		"device with a 17-byte mobile":   change(func(d *caddyotp.Device) { d.Mobile = "+4474001234567890" }),
		"device with a 256-byte user":    change(func(d *caddyotp.Device) { d.User = strings.Repeat("u", 256) }),
		"device expired":                 change(func(d *caddyotp.Device) { d.Created, d.Expires = now.Add(-2*time.Hour), now.Add(-time.Hour) }),
		"device living past MaxRemember": change(func(d *caddyotp.Device) { d.Expires = now.Add(caddyotp.MaxRemember + time.Second) }),
	}
}

// deviceInvalidCalls calls PutDevice with devices it must refuse.
func deviceInvalidCalls(s caddyotp.DeviceStore) map[string]error {
	out := map[string]error{}
	for name, d := range invalidDevices(time.Now()) {
		out["put "+name] = s.PutDevice(context.Background(), d)
	}
	return out
}

func testDeviceInvalid(t *testing.T, s caddyotp.Store) {
	now := time.Now()
	for name, d := range invalidDevices(now) {
		err := s.PutDevice(context.Background(), d)
		if !errors.Is(err, caddyotp.ErrInvalidArgument) {
			t.Errorf("put %s: expected ErrInvalidArgument, got %v", name, err)
		}
		if err != nil && strings.Contains(strings.ToLower(err.Error()), strings.ToLower(d.ID)) {
			t.Errorf("put %s: expected the error not to echo the device id, got %v", name, err)
		}
	}
	// Nothing was written, not even the expired one.
	expectDeviceIDs(t, s, "login", Mobile, now)
	expectDeviceIDs(t, s, "login", Mobile, now.Add(-90*time.Minute))
	if n := ForgetDevices(t, s, "login", Mobile, now.Add(-90*time.Minute)); n != 0 {
		t.Fatalf("expected no device written, got %d", n)
	}
}

// Puts made at once are one atomic step each: twice MaxDevices of them, from 20
// goroutines, leave exactly MaxDevices.
func testDeviceParallel(t *testing.T, s caddyotp.Store) {
	now := time.Now()
	const workers = 20
	per := 2 * caddyotp.MaxDevices / workers
	errs := parallel(workers, func(w int) error {
		for i := range per {
			n := w*per + i + 1
			if err := s.PutDevice(context.Background(), NewDevice("login", Mobile, n, now, time.Hour+time.Duration(n)*time.Minute)); err != nil {
				return err
			}
		}
		return nil
	})
	for _, err := range errs {
		if err != nil {
			t.Fatalf("PutDevice: expected no error, got %v", err)
		}
	}
	ds := Devices(t, s, "login", Mobile, now)
	seen := map[string]bool{}
	for _, d := range ds {
		seen[d.ID] = true
	}
	if len(ds) != caddyotp.MaxDevices || len(seen) != caddyotp.MaxDevices {
		t.Fatalf("expected %d distinct devices, got %d", caddyotp.MaxDevices, len(ds))
	}
}
