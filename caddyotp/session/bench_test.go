package session

import "testing"

var benchSession = Session{ID: [16]byte{1, 2, 3}, Issued: 1700000000, Seen: 1700000000, Expires: 1700028800,
	Realm: "login", Mobile: "+447400123456"}

// BenchmarkOpenSession is the token half of the gate's session check.
func BenchmarkOpenSession(b *testing.B) {
	kr := NewKeyring(testCurrent, testPrevious)
	tok, _ := kr.SealSession(benchSession)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := kr.OpenSession(tok, "login"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpenSessionPrevious opens a token of the previous secret (during a rotation).
func BenchmarkOpenSessionPrevious(b *testing.B) {
	kr := NewKeyring(testCurrent, testPrevious)
	tok, _ := NewKeyring(testPrevious).SealSession(benchSession)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := kr.OpenSession(tok, "login"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpenForged is a token of the right shape that does not authenticate.
func BenchmarkOpenForged(b *testing.B) {
	kr := NewKeyring(testCurrent)
	tok, _ := kr.SealSession(benchSession)
	c := byte('A')
	if tok[40] == c {
		c = 'B'
	}
	forged := tok[:40] + string(c) + tok[41:]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := kr.OpenSession(forged, "login"); err == nil {
			b.Fatal("expected the forged token to be refused")
		}
	}
}

// BenchmarkSealSession is a sign-in's or a minute's refresh.
func BenchmarkSealSession(b *testing.B) {
	kr := NewKeyring(testCurrent)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := kr.SealSession(benchSession); err != nil {
			b.Fatal(err)
		}
	}
}
