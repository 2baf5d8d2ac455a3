package awsdouble

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// ctlFault is a double's Fault as it travels in POST /_fault.
type ctlFault struct {
	Kind   string `json:"kind"`
	Code   string `json:"code,omitempty"`
	Status int    `json:"status,omitempty"`
}

// newControl is a Control over q that lists "accepted" and counts its resets.
func newControl(q *Faults[ctlFault], resets *int) Control[ctlFault] {
	return Control[ctlFault]{
		ListPath: "/_sent",
		List:     func() any { return map[string]any{"count": 1, "messages": []string{"accepted"}} },
		Faults:   q,
		Check: func(f ctlFault) string {
			switch f.Kind {
			case "", "hang":
				return ""
			case "error":
				if f.Code == "" || f.Status < 400 || f.Status > 599 {
					return "an error fault needs a code and a 4xx or 5xx status"
				}
				return ""
			}
			return "unknown fault kind " + f.Kind
		},
		Reset: func() { *resets++ },
	}
}

func control(t *testing.T, c Control[ctlFault], method, path, body string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if !IsControl(req) {
		t.Fatalf("expected %s to be a control path", path)
	}
	rec := httptest.NewRecorder()
	c.ServeHTTP(rec, req)
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("expected application/json, got %q", ct)
	}
	var out map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("expected a JSON answer, got %v: %s", err, rec.Body)
	}
	return rec.Code, out
}

func TestControlFault(t *testing.T) {
	var q Faults[ctlFault]
	resets := 0
	c := newControl(&q, &resets)

	status, out := control(t, c, http.MethodPost, "/_fault", `{"kind":"error","code":"Throttled","status":429,"count":2}`)
	if status != 200 || out["count"] != float64(2) || out["fault"].(map[string]any)["code"] != "Throttled" {
		t.Errorf("expected the plan of 2 Throttled echoed, got %d %v", status, out)
	}
	if status, _ := control(t, c, http.MethodPost, "/_fault", `{"kind":"hang"}`); status != 200 {
		t.Errorf("expected status 200 setting a hang, got %d", status)
	}
	want := []ctlFault{{"error", "Throttled", 429}, {"error", "Throttled", 429}, {Kind: "hang"}, {Kind: "hang"}}
	for i, w := range want {
		if f := q.Take("Op", nil); f != w {
			t.Errorf("request %d: expected %v, got %v", i+1, w, f)
		}
	}
	if status, _ := control(t, c, http.MethodPost, "/_fault", `{"kind":""}`); status != 200 {
		t.Errorf("expected status 200 turning the fault off, got %d", status)
	}
	if f := q.Take("Op", nil); f != (ctlFault{}) {
		t.Errorf("expected no fault once turned off, got %v", f)
	}

	for _, bad := range []string{`{"kind":"explode"}`, `{"kind":"error","code":"X"}`, `not json`, `{"kind":"hang","count":"two"}`,
		`{"kind":"` + strings.Repeat("x", maxFaultBody) + `"}`} {
		status, out := control(t, c, http.MethodPost, "/_fault", bad)
		if status != 400 || out["error"] == "" {
			t.Errorf("expected status 400 with an error for %.40s, got %d %v", bad, status, out)
		}
	}
	if f := q.Take("Op", nil); f != (ctlFault{}) {
		t.Errorf("expected a refused fault not planned, got %v", f)
	}
}

func TestControlListResetAndUnknown(t *testing.T) {
	var q Faults[ctlFault]
	resets := 0
	c := newControl(&q, &resets)
	status, out := control(t, c, http.MethodGet, "/_sent", "")
	if status != 200 || out["count"] != float64(1) {
		t.Errorf("expected the list, got %d %v", status, out)
	}
	status, out = control(t, c, http.MethodPost, "/_reset", "")
	if status != 200 || out["status"] != "reset" || resets != 1 {
		t.Errorf("expected a reset, got %d %v (%d resets)", status, out, resets)
	}
	for _, r := range []struct{ method, path string }{
		{http.MethodGet, "/_nope"}, {http.MethodPost, "/_sent"}, {http.MethodGet, "/_fault"}, {http.MethodGet, "/_reset"},
	} {
		if status, _ := control(t, c, r.method, r.path, ""); status != 404 {
			t.Errorf("expected 404 for %s %s, got %d", r.method, r.path, status)
		}
	}
	if IsControl(httptest.NewRequest(http.MethodPost, "/", nil)) {
		t.Error("expected / to be the service's, not a control path")
	}
}

func TestControlOverHTTP(t *testing.T) {
	var q Faults[ctlFault]
	resets := 0
	c := newControl(&q, &resets)
	s := serve(t, answer(c.ServeHTTP))
	if status := PostControl(t, s.URL(), "/_fault", `{"kind":"hang","count":1}`); status != 200 {
		t.Errorf("expected status 200 planning a fault, got %d", status)
	}
	if status := PostControl(t, s.URL(), "/_fault", `{"kind":"explode"}`); status != 400 {
		t.Errorf("expected status 400 for an unknown kind, got %d", status)
	}
	if f := q.Take("Op", nil); f.Kind != "hang" {
		t.Errorf("expected the planned hang, got %v", f)
	}
	var list struct {
		Count    int      `json:"count"`
		Messages []string `json:"messages"`
	}
	GetControl(t, s.URL(), "/_sent", &list)
	if list.Count != 1 || len(list.Messages) != 1 || list.Messages[0] != "accepted" {
		t.Errorf("expected the list, got %+v", list)
	}
}
