package caddyotp

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/caddyotp/caddyotp/caddyotp/session"
)

// Remembered devices and signing out everywhere: what the gate's `remember` and its
// sign-out page use. A device cookie is a sealed token (session.Device); it renews a
// session only while the store has its id on record, so forgetting a device is a store
// write that every instance sees at once.

var errDeviceInvalid = errors.New("no valid device")

// RememberDevice records a new device for realm, user and mobile, good for life (at most
// MaxRemember) from now, and returns its token for the device cookie.
func (a *App) RememberDevice(ctx context.Context, realm, user, mobile string, now time.Time, life time.Duration) (string, session.Device, error) {
	d := session.Device{Issued: now.Unix(), Expires: now.Add(life).Unix(), Realm: realm, User: user, Mobile: mobile}
	rand.Read(d.ID[:])
	rec := Device{ID: d.IDHex(), Realm: realm, Mobile: mobile, User: user, Created: now, Expires: time.Unix(d.Expires, 0)}
	if err := CheckDevice(rec, now); err != nil {
		return "", session.Device{}, err
	}
	tok, err := a.sessions.keys.SealDevice(d)
	if err != nil {
		return "", session.Device{}, fmt.Errorf("sealing a device: %w", err)
	}
	if err := a.store.PutDevice(ctx, rec); err != nil {
		return "", session.Device{}, err
	}
	return tok, d, nil
}

// OpenDevice opens token as a device of realm that has not expired at now. It does not ask
// the store: DeviceOnRecord does.
func (a *App) OpenDevice(token, realm string, now time.Time) (session.Device, error) {
	d, err := a.sessions.keys.OpenDevice(token, realm)
	if err != nil {
		return session.Device{}, err
	}
	if now.Unix() >= d.Expires || d.Issued > now.Unix()+60 {
		return session.Device{}, errDeviceInvalid
	}
	return d, nil
}

// DeviceOnRecord reports whether the store still has d, live at now, for the same user.
func (a *App) DeviceOnRecord(ctx context.Context, d session.Device, now time.Time) (bool, error) {
	rec, ok, err := a.store.Device(ctx, d.Realm, d.Mobile, d.IDHex(), now)
	if err != nil || !ok {
		return false, err
	}
	return rec.User == d.User, nil
}

// ForgetDevice removes d from the store: its cookie renews nothing from then on.
func (a *App) ForgetDevice(ctx context.Context, d session.Device) error {
	return a.store.ForgetDevice(ctx, d.Realm, d.Mobile, d.IDHex())
}

// SignOutEverywhere ends every session of realm and mobile issued up to now, on every
// instance that shares the store (within a second), and forgets every device of them. It
// returns how many devices were forgotten.
func (a *App) SignOutEverywhere(ctx context.Context, realm, mobile string, now time.Time) (int, error) {
	n, err := a.store.ForgetDevices(ctx, realm, mobile, now)
	if err != nil {
		return 0, err
	}
	key := mobileKey(realm, mobile)
	until := now.Add(MaxSessionLife)
	if err := a.store.RevokeSession(ctx, fmt.Sprintf("%x", key), until); err != nil {
		return n, err
	}
	a.sessions.revoke(fmt.Sprintf("%x", key), until)
	return n, nil
}

// Devices lists the live devices of realm and mobile.
func (a *App) Devices(ctx context.Context, realm, mobile string, now time.Time) ([]Device, error) {
	return a.store.Devices(ctx, realm, mobile, now)
}
