package otpapi

import (
	"go.uber.org/zap"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/internal/apptest"

	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkAPIVerifyWrongCode is verify-otp through the handler with the memory store: the
// API's own cost (JSON, phone parsing, hashing) without a network store.
func BenchmarkAPIVerifyWrongCode(b *testing.B) {
	tmpl := &caddyotp.Template{Key: "bench-template-key-0123456789"}
	app := apptest.Start(b, apptest.LogApp(map[string]*caddyotp.Template{caddyotp.DefaultTemplate: tmpl}))
	h := &API{app: app, logger: zap.NewNop()}
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
