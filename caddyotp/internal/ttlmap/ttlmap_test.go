package ttlmap

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

var t0 = time.Unix(1700000000, 0)

func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

func TestGetSetDelete(t *testing.T) {
	type step struct {
		op      string // set, get, del
		key     string
		value   int
		expires int // seconds after t0
		now     int
		wantOK  bool
		wantVal int
		wantLen int
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"set then get", []step{
			{op: "set", key: "a", value: 1, expires: 10, now: 0, wantLen: 1},
			{op: "get", key: "a", now: 9, wantOK: true, wantVal: 1, wantLen: 1},
		}},
		{"expired at its expiry", []step{
			{op: "set", key: "a", value: 1, expires: 10, now: 0, wantLen: 1},
			{op: "get", key: "a", now: 10, wantLen: 1},
		}},
		{"update keeps one entry and moves the expiry", []step{
			{op: "set", key: "a", value: 1, expires: 10, now: 0, wantLen: 1},
			{op: "set", key: "a", value: 2, expires: 30, now: 5, wantLen: 1},
			{op: "get", key: "a", now: 20, wantOK: true, wantVal: 2, wantLen: 1},
		}},
		{"an expired entry is renewed in place", []step{
			{op: "set", key: "a", value: 1, expires: 10, now: 0, wantLen: 1},
			{op: "set", key: "a", value: 3, expires: 40, now: 20, wantLen: 1},
			{op: "get", key: "a", now: 30, wantOK: true, wantVal: 3, wantLen: 1},
		}},
		{"an expiry in the past deletes", []step{
			{op: "set", key: "a", value: 1, expires: 10, now: 0, wantLen: 1},
			{op: "set", key: "a", value: 2, expires: 5, now: 5, wantLen: 0},
			{op: "get", key: "a", now: 5, wantLen: 0},
		}},
		{"delete", []step{
			{op: "set", key: "a", value: 1, expires: 10, now: 0, wantLen: 1},
			{op: "set", key: "b", value: 2, expires: 10, now: 0, wantLen: 2},
			{op: "del", key: "a", wantOK: true, wantLen: 1},
			{op: "del", key: "a", wantLen: 1},
			{op: "get", key: "b", now: 1, wantOK: true, wantVal: 2, wantLen: 1},
		}},
		{"a write sweeps the expired", []step{
			{op: "set", key: "a", value: 1, expires: 10, now: 0, wantLen: 1},
			{op: "set", key: "b", value: 2, expires: 10, now: 0, wantLen: 2},
			{op: "set", key: "c", value: 3, expires: 100, now: 50, wantLen: 1},
			{op: "get", key: "c", now: 50, wantOK: true, wantVal: 3, wantLen: 1},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := New[string, int](nil)
			for i, s := range tc.steps {
				switch s.op {
				case "set":
					if err := m.Set(s.key, s.value, at(s.expires), at(s.now)); err != nil {
						t.Fatalf("step %d: expected no error, got %v", i, err)
					}
				case "get":
					v, ok := m.Get(s.key, at(s.now))
					if ok != s.wantOK || v != s.wantVal {
						t.Fatalf("step %d: expected %d, %v, got %d, %v", i, s.wantVal, s.wantOK, v, ok)
					}
				case "del":
					if ok := m.Delete(s.key); ok != s.wantOK {
						t.Fatalf("step %d: expected Delete to say %v, got %v", i, s.wantOK, ok)
					}
				}
				if m.Len() != s.wantLen || m.budget.Used() != s.wantLen {
					t.Fatalf("step %d: expected %d entries, got %d (budget %d)", i, s.wantLen, m.Len(), m.budget.Used())
				}
				checkIndex(t, m)
			}
		})
	}
}

// checkIndex: the map and the slice agree.
func checkIndex[K comparable, V any](t *testing.T, m *Map[K, V]) {
	t.Helper()
	if len(m.index) != len(m.items) {
		t.Fatalf("expected %d indexed keys, got %d", len(m.items), len(m.index))
	}
	for i, it := range m.items {
		if m.index[it.key] != i {
			t.Fatalf("expected %v at %d, the index says %d", it.key, i, m.index[it.key])
		}
	}
}

func TestBudgetShared(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, a *Map[string, int], b *Map[int, string])
	}{
		{"a new key past the bound is refused in either map", func(t *testing.T, a *Map[string, int], b *Map[int, string]) {
			fill(t, a, b, 2, 2, at(100))
			if err := a.Set("new", 1, at(100), at(0)); !errors.Is(err, ErrFull) {
				t.Errorf("expected ErrFull, got %v", err)
			}
			if err := b.Set(99, "new", at(100), at(0)); !errors.Is(err, ErrFull) {
				t.Errorf("expected ErrFull, got %v", err)
			}
		}},
		{"a held key is always updated", func(t *testing.T, a *Map[string, int], b *Map[int, string]) {
			fill(t, a, b, 2, 2, at(100))
			if err := a.Set("a0", 7, at(200), at(0)); err != nil {
				t.Errorf("expected an update at the bound, got %v", err)
			}
			if v, _ := a.Get("a0", at(150)); v != 7 {
				t.Errorf("expected 7, got %d", v)
			}
		}},
		{"an expired entry of its own map makes room", func(t *testing.T, a *Map[string, int], b *Map[int, string]) {
			fill(t, a, b, 2, 2, at(100))
			a.Set("a0", 0, at(10), at(0))
			if err := a.Set("new", 1, at(100), at(20)); err != nil {
				t.Errorf("expected the expired a0 to make room, got %v", err)
			}
		}},
		{"an expired entry of the other map makes room", func(t *testing.T, a *Map[string, int], b *Map[int, string]) {
			fill(t, a, b, 2, 2, at(100))
			b.Set(0, "", at(10), at(0))
			if err := a.Set("new", 1, at(100), at(20)); err != nil {
				t.Errorf("expected the expired b0 to make room, got %v", err)
			}
			if b.Len() != 1 {
				t.Errorf("expected b0 swept, got %d entries in b", b.Len())
			}
		}},
		{"a deletion makes room", func(t *testing.T, a *Map[string, int], b *Map[int, string]) {
			fill(t, a, b, 2, 2, at(100))
			b.Delete(1)
			if err := a.Set("new", 1, at(100), at(0)); err != nil {
				t.Errorf("expected room after a deletion, got %v", err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bud := NewBudget(4)
			a, b := New[string, int](bud), New[int, string](bud)
			tc.run(t, a, b)
			if bud.Used() != a.Len()+b.Len() || bud.Used() > 4 {
				t.Errorf("expected the budget to count %d entries (at most 4), got %d", a.Len()+b.Len(), bud.Used())
			}
			checkIndex(t, a)
			checkIndex(t, b)
		})
	}
}

func fill(t *testing.T, a *Map[string, int], b *Map[int, string], na, nb int, expires time.Time) {
	t.Helper()
	for i := range na {
		if err := a.Set(fmt.Sprintf("a%d", i), i, expires, at(0)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range nb {
		if err := b.Set(i, fmt.Sprint(i), expires, at(0)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSweepBoundedPerWrite: with a million entries, expired or not, no write looks at more
// than MaxWorkPerWrite of them (the memory store holds its one lock through a write).
func TestSweepBoundedPerWrite(t *testing.T) {
	const n = 1_000_000
	for _, tc := range []struct {
		name    string
		expired func(i int) bool
	}{
		{"all live", func(int) bool { return false }},
		{"all expired", func(int) bool { return true }},
		{"half expired", func(i int) bool { return i%2 == 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bud := NewBudget(n)
			m, other := New[int, struct{}](bud), New[int, struct{}](bud)
			// Filled directly: a million Sets would each sweep, and the test is about the next writes.
			for i := range n - 1 {
				exp := at(1000)
				if tc.expired(i) {
					exp = at(10)
				}
				m.index[i] = len(m.items)
				m.items = append(m.items, item[int, struct{}]{key: i, expires: exp.UnixNano()})
			}
			bud.used = n - 1
			checkIndex(t, m)
			other.Set(-1, struct{}{}, at(1000), at(0))
			work := 0
			m.onExamine = func() { work++ }
			other.onExamine = func() { work++ }
			worst := 0
			for i := range 2000 {
				work = 0
				var err error
				switch i % 3 {
				case 0:
					err = m.Set(n+i, struct{}{}, at(2000), at(100))
				case 1:
					err = other.Set(n+i, struct{}{}, at(2000), at(100))
				case 2:
					err = m.Set(i, struct{}{}, at(2000), at(100))
				}
				if err != nil && !errors.Is(err, ErrFull) {
					t.Fatal(err)
				}
				worst = max(worst, work)
			}
			if worst > MaxWorkPerWrite {
				t.Errorf("expected at most %d entries looked at per write, got %d", MaxWorkPerWrite, worst)
			}
			if worst == 0 {
				t.Error("expected the writes to sweep")
			}
			if bud.Used() > n {
				t.Errorf("expected at most %d entries, got %d", n, bud.Used())
			}
		})
	}
}

// TestSweepClearsExpired: repeated writes sweep a flood of expired entries away without
// any full scan, and Sweep stops at its bound.
func TestSweepClearsExpired(t *testing.T) {
	m := New[int, int](nil)
	for i := range 10_000 {
		m.Set(i, i, at(10), at(0))
	}
	examined, removed := m.Sweep(at(20), 50)
	if examined != 50 || removed != 50 {
		t.Errorf("expected Sweep to look at and remove 50, got %d and %d", examined, removed)
	}
	m.Set(-1, -1, at(1000), at(0))
	writes := 0
	for m.Len() > 1 && writes < 10_000 {
		m.Set(-1, -1, at(1000), at(20))
		writes++
	}
	if m.Len() != 1 {
		t.Fatalf("expected only the live entry after %d writes, got %d entries", writes, m.Len())
	}
	if v, ok := m.Get(-1, at(20)); !ok || v != -1 {
		t.Errorf("expected the live entry kept, got %d, %v", v, ok)
	}
	checkIndex(t, m)
	// With few expired, one round is enough.
	for i := range 100 {
		m.Set(i, i, at(1000), at(20))
	}
	if examined, removed := m.Sweep(at(30), 1000); examined > SampleSize || removed != 0 {
		t.Errorf("expected one sample round of at most %d and nothing removed, got %d and %d", SampleSize, examined, removed)
	}
}

func TestSetKeepsTheEntryItWrote(t *testing.T) {
	// Every other entry expired: an update's sweep moves entries around and must not lose
	// or remove the one just written.
	for range 200 {
		m := New[int, int](nil)
		for i := range 50 {
			m.Set(i, i, at(10+i%2*1000), at(0))
		}
		for i := range 50 {
			if err := m.Set(i, -i, at(500), at(20)); err != nil {
				t.Fatal(err)
			}
			if v, ok := m.Get(i, at(20)); !ok || v != -i {
				t.Fatalf("expected %d just written, got %d, %v", -i, v, ok)
			}
		}
		checkIndex(t, m)
	}
}

func BenchmarkSetNew(b *testing.B) {
	bud := NewBudget(1_000_000)
	m := New[int, int](bud)
	now := t0
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		// Keys live 100k writes, so the map settles near 100k entries and sweeps as it goes.
		now = now.Add(time.Microsecond)
		if err := m.Set(i, i, now.Add(100*time.Millisecond), now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGet(b *testing.B) {
	m := New[int, int](nil)
	for i := range 100_000 {
		m.Set(i, i, at(1000), at(0))
	}
	now := at(1)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		m.Get(i%100_000, now)
	}
}

// TestSweepSmallMapWhole: a map of at most SampleSize entries is looked at whole, so one
// sweep always finds its expired entries (a random sample of a two-entry map misses one a
// quarter of the time).
func TestSweepSmallMapWhole(t *testing.T) {
	for size := 1; size <= SampleSize; size++ {
		for range 50 {
			m := New[int, int](nil)
			for i := range size {
				m.Set(i, i, at(1000-990*(i%2)), at(0)) // odd keys expire at 10
			}
			examined, removed := m.Sweep(at(20), 1000)
			if examined != size || removed != size/2 || m.Len() != size-size/2 {
				t.Fatalf("%d entries: expected %d looked at and %d removed, got %d and %d (%d left)", size, size, size/2, examined, removed, m.Len())
			}
			checkIndex(t, m)
		}
	}
}

func TestAllSkipsExpired(t *testing.T) {
	m := New[string, int](nil)
	m.Set("gone", 1, at(10), at(0))
	m.Set("live", 2, at(100), at(0))
	got := map[string]int{}
	for k, v := range m.All(at(50)) {
		got[k] = v
	}
	if len(got) != 1 || got["live"] != 2 {
		t.Fatalf("expected only live=2, got %v", got)
	}
	for range m.All(at(0)) {
		break // stopping early must not panic
	}
}

func TestBudgetSetMax(t *testing.T) {
	bud := NewBudget(2)
	m := New[int, int](bud)
	m.Set(1, 1, at(100), at(0))
	m.Set(2, 2, at(100), at(0))
	if err := m.Set(3, 3, at(100), at(0)); !errors.Is(err, ErrFull) {
		t.Fatalf("expected ErrFull at 2, got %v", err)
	}
	bud.SetMax(3)
	if err := m.Set(3, 3, at(100), at(0)); err != nil {
		t.Fatalf("expected room once raised to 3, got %v", err)
	}
	bud.SetMax(1)
	if err := m.Set(4, 4, at(100), at(0)); !errors.Is(err, ErrFull) {
		t.Fatalf("expected ErrFull once lowered to 1, got %v", err)
	}
	if err := m.Set(1, 9, at(100), at(0)); err != nil {
		t.Fatalf("expected a held key updated past a lowered bound, got %v", err)
	}
	if bud.Max() != 1 || bud.Used() != 3 {
		t.Fatalf("expected max 1 and 3 used, got %d and %d", bud.Max(), bud.Used())
	}
}
