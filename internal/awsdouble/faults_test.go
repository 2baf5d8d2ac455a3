package awsdouble

import "testing"

// testFault is a double's Fault as the tests of Faults see it: a name, and the one
// operation it is for ("" for any).
type testFault struct{ name, op string }

func appliesTo(f testFault, op string) bool { return f.op == "" || f.op == op }

func TestFaultsOrder(t *testing.T) {
	var q Faults[testFault]
	if f := q.Take("Publish", nil); f != (testFault{}) {
		t.Errorf("expected no fault from the zero plan, got %v", f)
	}
	q.Set(testFault{name: "always"})
	q.FailNext(2, testFault{name: "next"})
	q.FailNext(1, testFault{}) // a zero fault lets its request through
	q.FailNext(1, testFault{name: "last"})
	want := []string{"next", "next", "", "last", "always", "always"}
	for i, w := range want {
		if f := q.Take("Publish", nil); f.name != w {
			t.Errorf("request %d: expected fault %q, got %q", i+1, w, f.name)
		}
	}
	q.Set(testFault{})
	if f := q.Take("Publish", nil); f != (testFault{}) {
		t.Errorf("expected no fault once Set's is off, got %v", f)
	}
	if q.Attempts() != 8 || q.Requests("Publish") != 8 {
		t.Errorf("expected 8 requests counted, got %d (%d for Publish)", q.Attempts(), q.Requests("Publish"))
	}
}

func TestFaultsApply(t *testing.T) {
	var q Faults[testFault]
	q.Set(testFault{name: "always", op: "DeleteMessage"})
	q.FailNext(1, testFault{name: "delete", op: "DeleteMessage"})
	q.FailNext(1, testFault{name: "any"})
	tests := []struct{ op, want string }{
		{"ReceiveMessage", "any"},   // the first that applies, the delete one waits
		{"ReceiveMessage", ""},      // Set's does not apply
		{"DeleteMessage", "delete"}, // now its turn
		{"DeleteMessage", "always"}, // then Set's
		{"ReceiveMessage", ""},      // still not for a receive
		{"DeleteMessage", "always"},
	}
	for i, tt := range tests {
		if f := q.Take(tt.op, appliesTo); f.name != tt.want {
			t.Errorf("request %d (%s): expected fault %q, got %q", i+1, tt.op, tt.want, f.name)
		}
	}
	if q.Requests("ReceiveMessage") != 3 || q.Requests("DeleteMessage") != 3 || q.Requests("SendMessage") != 0 || q.Attempts() != 6 {
		t.Errorf("expected 3 receives, 3 deletes, no send, 6 in all, got %d, %d, %d, %d",
			q.Requests("ReceiveMessage"), q.Requests("DeleteMessage"), q.Requests("SendMessage"), q.Attempts())
	}
}

func TestFaultsClearAndReset(t *testing.T) {
	var q Faults[testFault]
	q.FailNext(1, testFault{name: "next"})
	q.Set(testFault{name: "always"})
	q.Clear()
	if f := q.Take("Publish", nil); f != (testFault{}) {
		t.Errorf("expected no fault after Clear, got %v", f)
	}
	if q.Attempts() != 1 {
		t.Errorf("expected Clear to keep the count, got %d", q.Attempts())
	}
	q.FailNext(1, testFault{name: "next"})
	q.Set(testFault{name: "always"})
	q.Reset()
	if q.Attempts() != 0 || q.Requests("Publish") != 0 {
		t.Errorf("expected no requests counted after Reset, got %d", q.Attempts())
	}
	if f := q.Take("Publish", nil); f != (testFault{}) {
		t.Errorf("expected no fault after Reset, got %v", f)
	}
}
