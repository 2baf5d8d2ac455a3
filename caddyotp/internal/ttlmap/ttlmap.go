// Package ttlmap is a map whose entries expire, for the memory store: a bound on the
// entries that several maps of one store share, and expiry swept in small steps on writes,
// with no goroutine and no full scan. The caller passes the clock in and holds the lock.
//
// Expiry is sampled as Redis's active expiry does it: a write looks at up to SampleSize
// entries chosen at random and deletes the expired ones, again while more than a quarter
// of a sample had expired, for at most SweepRounds samples. So a write does bounded work
// however large the map, expired entries do not pile up where writes happen, and an entry
// that expired is never returned by Get although it may hold its place until sampled. The
// price: a large map at its bound may refuse a new key (ErrFull) while a few expired
// entries that no sample hit still hold places.
//
// The sample is drawn from a dense slice of the entries (the map holds each key's index in
// it), not from Go's randomized map iteration: a Go map never shrinks, and after a flood
// is swept away a range over it walks every empty slot to reach the few live entries (600
// µs for 20 entries of a map that once held a million); the slice stays dense, since a
// deletion moves the last entry into the hole.
package ttlmap

import (
	"errors"
	"iter"
	"math/rand/v2"
	"time"
)

// ErrFull is returned by Set for a new key when the shared bound is reached and a sweep
// step freed nothing.
var ErrFull = errors.New("ttlmap: entry bound reached")

// Sampling, after Redis's active expiry cycle (ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP and its
// 25% of stale keys).
const (
	SampleSize  = 20
	SweepRounds = 4
	// MaxWorkPerWrite is the most entries one Set looks at: a sweep step of its own map
	// and, when the bound is reached, one of a map that shares it.
	MaxWorkPerWrite = 2 * SampleSize * SweepRounds
)

// Budget is the bound on the entries of the maps that share it (one store's maps, so that
// the store has one max_entries). It is not safe for concurrent use: the maps that share it
// must be guarded by one lock.
type Budget struct {
	max     int
	used    int
	members []sweeper
	next    int // the member that gives the next sweep step when the bound is reached
}

type sweeper interface {
	sweepStep(now int64, exclude int) (examined, removed int)
}

// NewBudget is a bound of max entries; max < 1 means no bound.
func NewBudget(max int) *Budget { return &Budget{max: max} }

// Used is the number of entries held, expired ones not yet swept included.
func (b *Budget) Used() int { return b.used }

// Max is the bound; 0 for none.
func (b *Budget) Max() int { return max(b.max, 0) }

// SetMax changes the bound; max < 1 means no bound. Lowering it below Used removes nothing:
// new keys are refused until enough entries are gone.
func (b *Budget) SetMax(max int) { b.max = max }

func (b *Budget) full() bool { return b.max > 0 && b.used >= b.max }

// Map is a map with per-entry expiry. Not safe for concurrent use.
type Map[K comparable, V any] struct {
	index     map[K]int // key → its position in items
	items     []item[K, V]
	budget    *Budget
	rng       *rand.Rand
	onExamine func() // tests count a sweep's work with it
}

type item[K comparable, V any] struct {
	key     K
	value   V
	expires int64 // unix nanoseconds
}

// New is an empty map whose entries count against budget (nil: a budget of its own with no
// bound).
func New[K comparable, V any](budget *Budget) *Map[K, V] {
	if budget == nil {
		budget = NewBudget(0)
	}
	m := &Map[K, V]{index: make(map[K]int), budget: budget,
		rng: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))}
	budget.members = append(budget.members, m)
	return m
}

// Len is the number of entries held, expired ones not yet swept included.
func (m *Map[K, V]) Len() int { return len(m.items) }

// Get returns key's value if it has not expired at now.
func (m *Map[K, V]) Get(key K, now time.Time) (V, bool) {
	if i, ok := m.index[key]; ok && m.items[i].expires > now.UnixNano() {
		return m.items[i].value, true
	}
	var zero V
	return zero, false
}

// All yields the entries that have not expired at now, in no particular order. It looks at
// every entry: for rare reads of a small map (the memory store's revocations, once per
// watcher), not for a write. The map must not change during the loop.
func (m *Map[K, V]) All(now time.Time) iter.Seq2[K, V] {
	at := now.UnixNano()
	return func(yield func(K, V) bool) {
		for _, it := range m.items {
			if it.expires > at && !yield(it.key, it.value) {
				return
			}
		}
	}
}

// Set stores value under key until expires; an expires not after now deletes key. Every Set
// runs one sweep step. A key held (even expired) is always updated; a new key past the
// budget's bound is refused with ErrFull once a further sweep step of another map sharing
// the budget has freed nothing.
func (m *Map[K, V]) Set(key K, value V, expires, now time.Time) error {
	at, exp := now.UnixNano(), expires.UnixNano()
	if exp <= at {
		m.Delete(key)
		m.sweepStep(at, -1)
		return nil
	}
	if i, ok := m.index[key]; ok {
		m.items[i].value, m.items[i].expires = value, exp
		m.sweepStep(at, i)
		return nil
	}
	m.sweepStep(at, -1)
	if b := m.budget; b.full() {
		if len(b.members) > 1 {
			o := b.members[b.next%len(b.members)]
			b.next++
			if o == sweeper(m) {
				o = b.members[b.next%len(b.members)]
				b.next++
			}
			o.sweepStep(at, -1)
		}
		if b.full() {
			return ErrFull
		}
	}
	m.index[key] = len(m.items)
	m.items = append(m.items, item[K, V]{key: key, value: value, expires: exp})
	m.budget.used++
	return nil
}

// Delete removes key; it reports whether key was held (expired or not).
func (m *Map[K, V]) Delete(key K) bool {
	i, ok := m.index[key]
	if ok {
		m.removeAt(i)
	}
	return ok
}

// removeAt deletes the entry at i, moving the last entry into its place.
func (m *Map[K, V]) removeAt(i int) {
	last := len(m.items) - 1
	delete(m.index, m.items[i].key)
	if i != last {
		m.items[i] = m.items[last]
		m.index[m.items[i].key] = i
	}
	var zero item[K, V]
	m.items[last] = zero // drop references for the collector
	m.items = m.items[:last]
	m.budget.used--
}

// Sweep runs sampling rounds at now until one finds at most a quarter expired, or maxWork
// entries have been looked at; it returns how many it looked at and removed.
func (m *Map[K, V]) Sweep(now time.Time, maxWork int) (examined, removed int) {
	return m.sweep(now.UnixNano(), maxWork, -1)
}

func (m *Map[K, V]) sweepStep(now int64, exclude int) (examined, removed int) {
	return m.sweep(now, SampleSize*SweepRounds, exclude)
}

// sweep samples entries at random positions (with replacement); a map of at most
// SampleSize entries is looked at whole instead, so that a small map never keeps an expired
// entry that a sample missed. exclude is a position not to remove (the entry a Set has just
// written) or -1.
func (m *Map[K, V]) sweep(now int64, maxWork, exclude int) (examined, removed int) {
	// look examines position i and reports whether it removed the entry there.
	look := func(i int) bool {
		examined++
		if m.onExamine != nil {
			m.onExamine()
		}
		if i == exclude || m.items[i].expires > now {
			return false
		}
		if exclude == len(m.items)-1 {
			exclude = i // removeAt moves the last entry into the hole
		}
		m.removeAt(i)
		removed++
		return true
	}
	if len(m.items) <= SampleSize {
		// Downwards, so that the entry moved into a hole has been looked at already.
		for i := len(m.items) - 1; i >= 0 && examined < maxWork; i-- {
			look(i)
		}
		return examined, removed
	}
	for examined < maxWork && len(m.items) > 0 {
		n := min(SampleSize, len(m.items), maxWork-examined)
		expired := 0
		for range n {
			if len(m.items) == 0 {
				break
			}
			if look(m.rng.IntN(len(m.items))) {
				expired++
			}
		}
		if expired*4 <= n {
			break
		}
	}
	return examined, removed
}
