package caddyotp

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/caddyotp/caddyotp/caddyotp/internal/session"
)

// Session limits (NIST SP 800-63B AAL2) and the challenge's lifetime.
const (
	defaultSessionLife = 8 * time.Hour
	maxSessionLife     = 12 * time.Hour
	defaultIdle        = 30 * time.Minute
	maxIdle            = 30 * time.Minute
	challengeLife      = 15 * time.Minute
	// seenRefresh is how stale a token's last-seen time may get before the gate sends a
	// fresh cookie; the idle limit is therefore enforced to within this much.
	seenRefresh = time.Minute
)

// sessionClaims is what a session token says. Realm is the template's name: a session is
// good for the gates that use the same template.
type sessionClaims struct {
	ID      [16]byte
	Issued  int64 // unix seconds
	Seen    int64 // last activity, unix seconds
	Expires int64 // absolute end, unix seconds
	Realm   string
	User    string // the first factor's user, in identity-bound mode
	Mobile  string
}

// challengeClaims is the state of a challenge in progress, kept in a signed cookie.
type challengeClaims struct {
	ID      [16]byte // also the anti-CSRF token of the forms
	Created int64
	SentAt  int64 // 0 until a code was asked for
	Fails   byte  // wrong codes shown for a mobile that gets no SMS
	Realm   string
	Mobile  string // E.164, once entered
}

// sessionManager mints and checks tokens and keeps the revocations of every instance.
type sessionManager struct {
	keys    *session.Keyring
	mu      sync.RWMutex
	revoked map[[16]byte]int64 // session id → unix seconds until which it is revoked
	healthy atomic.Bool        // the revocation feed is complete
	cancel  context.CancelFunc
	done    chan struct{}
}

var errSessionInvalid = errors.New("no valid session")

func newSessionManager(secrets [][]byte) *sessionManager {
	return &sessionManager{keys: session.NewKeyring(secrets...), revoked: make(map[[16]byte]int64)}
}

// start follows the store's revocations until stop.
func (sm *sessionManager) start(store Store, logger *zap.Logger) {
	ctx, cancel := context.WithCancel(context.Background())
	sm.cancel, sm.done = cancel, make(chan struct{})
	go func() {
		defer close(sm.done)
		store.WatchRevocations(ctx, sm.revoke, func(ok bool) {
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
	if len(sm.revoked)%256 == 0 {
		for k, v := range sm.revoked {
			if v < now {
				delete(sm.revoked, k)
			}
		}
	}
}

func (sm *sessionManager) isRevoked(id [16]byte) bool {
	sm.mu.RLock()
	_, ok := sm.revoked[id]
	sm.mu.RUnlock()
	return ok
}

// mintSession makes a new session with a fresh random id.
func (sm *sessionManager) mintSession(realm, user, mobile string, now time.Time, life time.Duration) (string, sessionClaims) {
	c := sessionClaims{Issued: now.Unix(), Seen: now.Unix(), Expires: now.Add(life).Unix(), Realm: realm, User: user, Mobile: mobile}
	rand.Read(c.ID[:])
	return sm.sealSession(c), c
}

func (sm *sessionManager) sealSession(c sessionClaims) string {
	var w session.Writer
	w.Fixed(c.ID[:])
	w.Uint64(uint64(c.Issued))
	w.Uint64(uint64(c.Seen))
	w.Uint64(uint64(c.Expires))
	w.String(c.Realm)
	w.String(c.User)
	w.String(c.Mobile)
	return sm.keys.Seal(session.KindSession, w.Bytes())
}

// checkSession verifies token for realm at now with the idle limit. It costs no store
// round trip: the MAC, the times and the in-memory revocation set decide.
func (sm *sessionManager) checkSession(token, realm string, now int64, idle int64) (sessionClaims, error) {
	var c sessionClaims
	err := sm.keys.Open(session.KindSession, token, func(body []byte) error {
		r := session.NewReader(body)
		r.Fixed(c.ID[:])
		c.Issued = int64(r.Uint64())
		c.Seen = int64(r.Uint64())
		c.Expires = int64(r.Uint64())
		rlm := r.String()
		user := r.String()
		mobile := r.String()
		if err := r.Err(); err != nil {
			return err
		}
		if string(rlm) != realm {
			return errSessionInvalid
		}
		c.Realm = realm
		if len(user) > 0 {
			c.User = string(user)
		}
		c.Mobile = string(mobile)
		return nil
	})
	if err != nil {
		return sessionClaims{}, err
	}
	// Compared as c.Seen < now-idle, not now-c.Seen > idle: a far-past Seen must not wrap.
	if now >= c.Expires || c.Seen < now-idle || c.Seen > now+60 || c.Issued > c.Seen {
		return sessionClaims{}, errSessionInvalid
	}
	if sm.isRevoked(c.ID) {
		return sessionClaims{}, errSessionInvalid
	}
	return c, nil
}

// logoutToken is the sign-out form's anti-CSRF token for a session.
func logoutToken(id [16]byte) string {
	sum := sha256.Sum256(append([]byte("caddyotp logout "), id[:]...))
	return hex.EncodeToString(sum[:16])
}

func (sm *sessionManager) newChallenge(realm string, now time.Time) challengeClaims {
	c := challengeClaims{Created: now.Unix(), Realm: realm}
	rand.Read(c.ID[:])
	return c
}

func (sm *sessionManager) sealChallenge(c challengeClaims) string {
	var w session.Writer
	w.Fixed(c.ID[:])
	w.Uint64(uint64(c.Created))
	w.Uint64(uint64(c.SentAt))
	w.Byte(c.Fails)
	w.String(c.Realm)
	w.String(c.Mobile)
	return sm.keys.Seal(session.KindChallenge, w.Bytes())
}

func (sm *sessionManager) openChallenge(token, realm string, now time.Time) (challengeClaims, error) {
	var c challengeClaims
	err := sm.keys.Open(session.KindChallenge, token, func(body []byte) error {
		r := session.NewReader(body)
		r.Fixed(c.ID[:])
		c.Created = int64(r.Uint64())
		c.SentAt = int64(r.Uint64())
		c.Fails = r.Byte()
		c.Realm = string(r.String())
		c.Mobile = string(r.String())
		return r.Err()
	})
	if err != nil {
		return challengeClaims{}, err
	}
	age := now.Unix() - c.Created
	if c.Realm != realm || age < -60 || age > int64(challengeLife/time.Second) {
		return challengeClaims{}, errSessionInvalid
	}
	return c, nil
}

func (c challengeClaims) csrf() string { return hex.EncodeToString(c.ID[:]) }

func (c sessionClaims) idHex() string { return hex.EncodeToString(c.ID[:]) }
