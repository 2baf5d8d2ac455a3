package caddyotp

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/caddyotp/caddyotp/caddyotp/session"
)

// Session limits (NIST SP 800-63B AAL2) and the challenge's lifetime.
const (
	DefaultSessionLife = 8 * time.Hour
	MaxSessionLife     = 24 * time.Hour // NIST SP 800-63B-4, AAL2
	DefaultIdle        = 30 * time.Minute
	MaxIdle            = time.Hour
	ChallengeLife      = 15 * time.Minute
	// SeenRefresh is how stale a token's last-seen time may get before the gate sends a
	// fresh cookie; the idle limit is therefore enforced to within this much.
	SeenRefresh = time.Minute
)

// sessionClaims and challengeClaims are the gate's two tokens (the format lives in the
// session package, so that tools and tests make tokens the same way).
type (
	sessionClaims   = session.Session
	challengeClaims = session.Challenge
)

// sessionManager mints and checks tokens and keeps the revocations of every instance.
type sessionManager struct {
	keys    *session.Keyring
	mu      sync.RWMutex
	revoked map[[16]byte]int64 // session id or mobile key → unix seconds until which it is revoked
	// mobileKeys counts the mobile keys among revoked (never decremented); while it is 0 a
	// session check skips hashing its realm and mobile.
	mobileKeys atomic.Int64
	healthy    atomic.Bool // the revocation feed is complete
	// reported is closed when the feed first reports its health after start, and
	// startedAt is when start was called: see healthyAt.
	reported  chan struct{}
	startedAt atomic.Int64 // unix nanoseconds; 0 before start
	cancel    context.CancelFunc
	done      chan struct{}
}

// FeedStartWait is how long after its app started a session check waits for the revocation
// feed's first report, rather than answer 503 at once. Caddy starts its apps in no set order
// and serves a reloaded config's requests as soon as its HTTP app is up, so without the wait
// the first requests after each start or reload could meet "unavailable" while the feed is
// still reading the revocations in force.
const FeedStartWait = 3 * time.Second

var errSessionInvalid = errors.New("no valid session")

func newSessionManager(secrets [][]byte) *sessionManager {
	return &sessionManager{keys: session.NewKeyring(secrets...), revoked: make(map[[16]byte]int64),
		reported: make(chan struct{})}
}

// start follows the store's revocations until stop.
func (sm *sessionManager) start(store Store, logger *zap.Logger) {
	ctx, cancel := context.WithCancel(context.Background())
	sm.cancel, sm.done = cancel, make(chan struct{})
	sm.startedAt.Store(time.Now().UnixNano())
	var first sync.Once
	go func() {
		defer close(sm.done)
		store.WatchRevocations(ctx, sm.revoke, func(ok bool) {
			defer first.Do(func() { close(sm.reported) })
			if sm.healthy.Swap(ok) != ok {
				if ok {
					logger.Info("session revocation feed is up")
				} else {
					logger.Error("session revocation feed is down: gated requests with a session answer 503 until it is back")
				}
			}
		})
	}()
}

func (sm *sessionManager) stop() {
	if sm.cancel != nil {
		sm.cancel()
		<-sm.done
	}
}

// revoke records a revocation; it also drops the ones whose time has passed.
func (sm *sessionManager) revoke(id string, until time.Time) {
	var sid [16]byte
	if b, err := hex.DecodeString(id); err != nil || len(b) != 16 {
		return
	} else {
		copy(sid[:], b)
	}
	now := time.Now().Unix()
	sm.mu.Lock()
	defer sm.mu.Unlock()
	sm.revoked[sid] = until.Unix()
	if isMobileKey(sid) {
		sm.mobileKeys.Add(1)
	}
	if len(sm.revoked)%256 == 0 {
		for k, v := range sm.revoked {
			if v < now {
				delete(sm.revoked, k)
			}
		}
	}
}

// isRevoked reports whether c was revoked by its id, or by a sign-out everywhere of its
// realm and mobile made after it was issued.
func (sm *sessionManager) isRevoked(c *sessionClaims) bool {
	sm.mu.RLock()
	_, revoked := sm.revoked[c.ID]
	sm.mu.RUnlock()
	if revoked || sm.mobileKeys.Load() == 0 {
		return revoked
	}
	key := mobileKey(c.Realm, c.Mobile) // hashed outside the lock
	sm.mu.RLock()
	until, ok := sm.revoked[key]
	sm.mu.RUnlock()
	return ok && c.Issued <= until-int64(MaxSessionLife/time.Second)
}

// mintSession makes a new session with a fresh random id; verified is when its code was
// verified (unix seconds), 0 for a session a remembered device renews.
func (sm *sessionManager) mintSession(realm, user, mobile string, now time.Time, life time.Duration, verified int64) (string, sessionClaims, error) {
	c := sessionClaims{Issued: now.Unix(), Seen: now.Unix(), Expires: now.Add(life).Unix(), Realm: realm, User: user,
		Mobile: mobile, Verified: verified}
	rand.Read(c.ID[:])
	c.ID[0] &^= 0x80 // session ids have the top bit clear, mobile keys set
	tok, err := sm.sealSession(c)
	return tok, c, err
}

// A sign-out everywhere is a revocation, on the same feed as a session's, of the mobile key
// of a realm and mobile, lasting MaxSessionLife: every session of them issued up to
// MaxSessionLife before its end (that is, up to when it was made) is refused. A mobile
// key has its top bit set; session ids have it clear, so a check hashes its realm and
// mobile only when some mobile key is known.
func mobileKey(realm, mobile string) [16]byte {
	sum := sha256.Sum256([]byte("caddyotp everywhere\x00" + realm + "\x00" + mobile))
	var k [16]byte
	copy(k[:], sum[:16])
	k[0] |= 0x80
	return k
}

func isMobileKey(id [16]byte) bool { return id[0]&0x80 != 0 }

// sealSession seals c. It fails only for a field over 255 bytes, which the gate's settings
// rule out (template names, E.164 mobiles, `mobiles` user names are all checked at
// provision); the gate still answers 500 rather than trusting that.
func (sm *sessionManager) sealSession(c sessionClaims) (string, error) {
	tok, err := sm.keys.SealSession(c)
	if err != nil {
		return "", fmt.Errorf("sealing a session: %w", err)
	}
	return tok, nil
}

// checkSession verifies token for realm at now with the idle limit and the gate's absolute
// limit life (all in unix seconds). The token's own expiry is the limit of the gate that
// issued it; a gate with a shorter life still counts from when the session was issued. It
// costs no store round trip: the token's tag, the times and the in-memory revocation set decide.
func (sm *sessionManager) checkSession(token, realm string, now, idle, life int64) (sessionClaims, error) {
	c, err := sm.keys.OpenSession(token, realm)
	if err != nil {
		return sessionClaims{}, err
	}
	// Compared as c.Seen < now-idle, not now-c.Seen > idle: a far-past Seen must not wrap.
	if now >= c.Expires || c.Issued <= now-life || c.Seen < now-idle || c.Seen > now+60 || c.Issued > c.Seen {
		return sessionClaims{}, errSessionInvalid
	}
	if sm.isRevoked(&c) {
		return sessionClaims{}, errSessionInvalid
	}
	return c, nil
}

func (sm *sessionManager) newChallenge(realm string, now time.Time) challengeClaims {
	c := challengeClaims{Created: now.Unix(), Realm: realm}
	rand.Read(c.ID[:])
	return c
}

// sealChallenge signs c; like sealSession it fails only for a field over 255 bytes.
func (sm *sessionManager) sealChallenge(c challengeClaims) (string, error) {
	tok, err := sm.keys.SealChallenge(c)
	if err != nil {
		return "", fmt.Errorf("sealing a challenge: %w", err)
	}
	return tok, nil
}

func (sm *sessionManager) openChallenge(token, realm string, now time.Time) (challengeClaims, error) {
	c, err := sm.keys.OpenChallenge(token)
	if err != nil {
		return challengeClaims{}, err
	}
	age := now.Unix() - c.Created
	if c.Realm != realm || age < -60 || age > int64(ChallengeLife/time.Second) {
		return challengeClaims{}, errSessionInvalid
	}
	return c, nil
}

// healthyAt reports whether the feed is complete. Within FeedStartWait of start, before the
// feed's first report, it waits for that report (or for ctx to end).
func (sm *sessionManager) healthyAt(ctx context.Context) bool {
	select {
	case <-sm.reported:
		return sm.healthy.Load()
	default:
	}
	started := sm.startedAt.Load()
	if started == 0 {
		return false // never started
	}
	wait := time.Until(time.Unix(0, started).Add(FeedStartWait))
	if wait <= 0 {
		return sm.healthy.Load()
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-sm.reported:
	case <-t.C:
	case <-ctx.Done():
	}
	return sm.healthy.Load()
}

// SessionsHealthy reports whether the store's revocation feed is complete, so that a
// session check can trust it; while it is not, a gate answers 503 to requests with a
// session. In the first moments after the app started (at most FeedStartWait), before the
// feed's first report, it waits for that report, so that a start or a reload shows no one
// "unavailable"; it waits no longer than ctx.
func (a *App) SessionsHealthy(ctx context.Context) bool { return a.sessions.healthyAt(ctx) }

// MintSession makes a new session for realm (a template's name), user ("" without a first
// factor) and mobile, good for life from now, and returns its token. A code was verified
// for it now.
func (a *App) MintSession(realm, user, mobile string, now time.Time, life time.Duration) (string, session.Session, error) {
	return a.sessions.mintSession(realm, user, mobile, now, life, now.Unix())
}

// RenewSession makes a new session from a remembered device d, good for life from now. No
// code was verified for it: no step-up (max_age) accepts it.
func (a *App) RenewSession(d session.Device, now time.Time, life time.Duration) (string, session.Session, error) {
	return a.sessions.mintSession(d.Realm, d.User, d.Mobile, now, life, 0)
}

// SealSession returns the token of s, such as s with a fresher Seen time. It fails only
// for a field over 255 bytes.
func (a *App) SealSession(s session.Session) (string, error) { return a.sessions.sealSession(s) }

// CheckSession opens token as a session of realm and checks it at now against the idle
// limit and the absolute limit life (both counted in whole seconds), and against the
// revocations of every instance. It costs no store round trip.
func (a *App) CheckSession(token, realm string, now time.Time, idle, life time.Duration) (session.Session, error) {
	return a.sessions.checkSession(token, realm, now.Unix(), int64(idle/time.Second), int64(life/time.Second))
}

// RevokeSession ends s on every instance that shares the store: it records the revocation
// in the store, then in this instance's set at once.
func (a *App) RevokeSession(ctx context.Context, s session.Session) error {
	until := time.Unix(s.Expires, 0)
	if err := a.store.RevokeSession(ctx, s.IDHex(), until); err != nil {
		return err
	}
	a.sessions.revoke(s.IDHex(), until)
	return nil
}

// NewChallenge starts a sign-in challenge for realm at now, with a fresh random id.
func (a *App) NewChallenge(realm string, now time.Time) session.Challenge {
	return a.sessions.newChallenge(realm, now)
}

// SealChallenge returns the token of c. It fails only for a field over 255 bytes.
func (a *App) SealChallenge(c session.Challenge) (string, error) { return a.sessions.sealChallenge(c) }

// OpenChallenge opens token as a challenge of realm that is still good at now.
func (a *App) OpenChallenge(token, realm string, now time.Time) (session.Challenge, error) {
	return a.sessions.openChallenge(token, realm, now)
}
