package awsdouble

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// Control answers the control paths of a double run as a process, beside its service:
//
//	GET  <ListPath>  what the double accepted: List's answer, as JSON
//	POST /_fault     plan a fault: the double's Fault as JSON, with "count" > 0 for the next
//	                 count requests (like FailNext), without it for every request (like
//	                 SetFault); the zero fault ({"kind":""}) turns that one off
//	POST /_reset     Reset: forget what was accepted and clear every fault
//
// Every other path under /_ is 404.
type Control[F any] struct {
	ListPath string
	List     func() any
	Faults   *Faults[F]
	// Check says why a fault posted to /_fault is refused; "" when it is fine.
	Check func(F) string
	Reset func()
}

// IsControl reports whether r is for the control paths (under /_) rather than the service.
func IsControl(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/_") }

// maxFaultBody bounds the body of POST /_fault.
const maxFaultBody = 4096

// ServeHTTP answers one control request.
func (c Control[F]) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == c.ListPath && r.Method == http.MethodGet:
		WriteJSON(w, http.StatusOK, c.List())
	case r.URL.Path == "/_fault" && r.Method == http.MethodPost:
		c.serveFault(w, r)
	case r.URL.Path == "/_reset" && r.Method == http.MethodPost:
		c.Reset()
		WriteJSON(w, http.StatusOK, map[string]string{"status": "reset"})
	default:
		WriteJSON(w, http.StatusNotFound, map[string]string{"error": "no such control path"})
	}
}

// faultPlan is what POST /_fault planned, as it answers.
type faultPlan[F any] struct {
	Fault F   `json:"fault"`
	Count int `json:"count,omitempty"`
}

func (c Control[F]) serveFault(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxFaultBody))
	var plan faultPlan[F]
	if err == nil {
		err = json.Unmarshal(body, &plan.Fault)
	}
	if err == nil {
		err = json.Unmarshal(body, &plan) // only its count: the fault is the body itself
	}
	if err != nil {
		WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid json: " + err.Error()})
		return
	}
	if problem := c.Check(plan.Fault); problem != "" {
		WriteJSON(w, http.StatusBadRequest, map[string]string{"error": problem})
		return
	}
	if plan.Count > 0 {
		c.Faults.FailNext(plan.Count, plan.Fault)
	} else {
		c.Faults.Set(plan.Fault)
	}
	WriteJSON(w, http.StatusOK, plan)
}

// PostControl posts body (JSON) to the control path of the double at baseURL, as a test or
// a process-level harness does, and returns the status.
func PostControl(tb testing.TB, baseURL, path, body string) int {
	tb.Helper()
	resp, err := http.Post(baseURL+path, "application/json", strings.NewReader(body))
	if err != nil {
		tb.Fatalf("posting to %s: %v", path, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// GetControl reads the JSON answer of the control path of the double at baseURL into v.
func GetControl(tb testing.TB, baseURL, path string, v any) {
	tb.Helper()
	resp, err := http.Get(baseURL + path)
	if err != nil {
		tb.Fatalf("getting %s: %v", path, err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil || resp.StatusCode != http.StatusOK {
		tb.Fatalf("expected status 200 and JSON from %s, got %d (%v)", path, resp.StatusCode, err)
	}
}

// WriteJSON answers a control request with status and v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v) //nolint:errcheck
}
