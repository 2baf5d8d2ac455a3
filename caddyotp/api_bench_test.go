package caddyotp

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkAPIVerifyWrongCode is verify-otp through the handler with the memory store: the
// API's own cost (JSON, phone parsing, hashing) without a network store.
func BenchmarkAPIVerifyWrongCode(b *testing.B) {
	_, app := newBenchGate(b)
	tmpl := app.templates[DefaultTemplate]
	tmpl.Key = "bench-template-key-0123456789"
	app.keyed = append(app.keyed, tmpl)
	h := &API{app: app, logger: app.logger}
	body := `{"mobile":"+447400123456","otp":"123456"}`
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest("POST", "/verify-otp", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("template-key", tmpl.Key)
		w := httptest.NewRecorder()
		if err := h.ServeHTTP(w, req, nil); err != nil {
			b.Fatal(err)
		}
		if w.Code != http.StatusGone && w.Code != http.StatusUnauthorized {
			b.Fatalf("expected 410 or 401, got %d %s", w.Code, w.Body)
		}
	}
}
