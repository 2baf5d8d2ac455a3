// The race detector makes sync.Pool drop items at random, so allocation counts only mean
// something without it.

//go:build !race

package session

import "testing"

// TestOpenAllocatesNothing: the gate opens a token on every request.
func TestOpenAllocatesNothing(t *testing.T) {
	kr := NewKeyring(testCurrent, testPrevious)
	tok := NewKeyring(testPrevious).Seal(KindSession, []byte("a body of some length, as a real one would be"))
	read := func([]byte) error { return nil }
	if n := testing.AllocsPerRun(100, func() {
		if err := kr.Open(KindSession, tok, read); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("expected Open to allocate nothing, got %v allocations", n)
	}
}
