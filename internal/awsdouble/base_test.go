package awsdouble

import (
	"net/http"
	"testing"
)

// baseDouble is the smallest double built on Base: every request takes its fault, and a
// "fail" fault answers 500.
type baseDouble struct {
	Base[testFault]
}

func (d *baseDouble) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f := d.Faults.Take("Op", nil); f.name == "fail" {
		w.WriteHeader(http.StatusInternalServerError)
	}
}

func TestBase(t *testing.T) {
	srv, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &baseDouble{Base: Base[testFault]{Server: srv}}
	srv.Serve(d)
	t.Cleanup(d.Close)

	status := func() int {
		t.Helper()
		resp, err := http.Post(d.URL()+"/", "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	d.SetFault(testFault{name: "fail"})
	d.FailNext(1, testFault{name: "pass"})
	for i, want := range []int{200, 500, 500} {
		if got := status(); got != want {
			t.Errorf("request %d: expected status %d, got %d", i+1, want, got)
		}
	}
	d.SetFault(testFault{})
	if got := status(); got != 200 {
		t.Errorf("expected status 200 once the fault is off, got %d", got)
	}
	if d.Attempts() != 4 {
		t.Errorf("expected 4 attempts, got %d", d.Attempts())
	}
	d.Close()
	if _, err := http.Post(d.URL()+"/", "text/plain", nil); err == nil {
		t.Error("expected a closed double to refuse, got an answer")
	}
}
