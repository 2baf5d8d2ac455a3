package awsdouble

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestRecord(t *testing.T) {
	var r Record[string]
	if r.Len() != 0 || len(r.Items()) != 0 {
		t.Errorf("expected an empty zero record, got %v", r.Items())
	}
	r.Add("one")
	r.Add("two")
	items := r.Items()
	if !reflect.DeepEqual(items, []string{"one", "two"}) || r.Len() != 2 {
		t.Errorf("expected [one two], got %v", items)
	}
	items[0] = "changed"
	if r.Items()[0] != "one" {
		t.Error("expected Items to return a copy, got the record's own slice")
	}
	if !r.Any(func(s string) bool { return s == "two" }) || r.Any(func(s string) bool { return s == "three" }) {
		t.Error("expected Any to find two and not three")
	}
	r.Reset()
	if r.Len() != 0 {
		t.Errorf("expected an empty record after Reset, got %v", r.Items())
	}
}

func TestRecordWaitFor(t *testing.T) {
	var r Record[int]
	closing := make(chan struct{})
	go func() {
		time.Sleep(50 * time.Millisecond)
		r.Add(1)
		r.Add(2)
	}()
	if err := r.WaitFor(2, "publishes", 5*time.Second, closing); err != nil {
		t.Fatalf("expected 2 items, got %v", err)
	}
	err := r.WaitFor(3, "publishes", 50*time.Millisecond, closing)
	if err == nil || !strings.Contains(err.Error(), "expected 3 publishes within 50ms, got 2") {
		t.Errorf("expected a timeout naming the count, got %v", err)
	}
	go func() {
		time.Sleep(50 * time.Millisecond)
		close(closing)
	}()
	err = r.WaitFor(3, "messages", 5*time.Second, closing)
	if err == nil || !strings.Contains(err.Error(), "before the double closed") {
		t.Errorf("expected the close to end the wait, got %v", err)
	}
}
