package awsdouble

import (
	"encoding/json"
	"net/http/httptest"
	"regexp"
	"testing"
)

func TestAnswer(t *testing.T) {
	rec := httptest.NewRecorder()
	Answer(rec, JSON11, "req-1", 400, map[string]string{"__type": "ThrottlingException", "message": "Rate exceeded"})
	if rec.Code != 400 {
		t.Errorf("expected status 400, got %d", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		t.Errorf("expected the JSON 1.1 content type, got %q", ct)
	}
	if id := rec.Header().Get("X-Amzn-RequestId"); id != "req-1" {
		t.Errorf("expected request id req-1, got %q", id)
	}
	var doc map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil || doc["__type"] != "ThrottlingException" || doc["message"] != "Rate exceeded" {
		t.Errorf("expected the error document, got %v (%v): %s", doc, err, rec.Body)
	}
}

func TestNewUUID(t *testing.T) {
	v4 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 100 {
		id := NewUUID()
		if !v4.MatchString(id) {
			t.Fatalf("expected a version-4 UUID, got %q", id)
		}
		if seen[id] {
			t.Fatalf("expected 100 different ids, got %q twice", id)
		}
		seen[id] = true
	}
}
