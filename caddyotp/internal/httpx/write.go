// Package httpx is what both handlers share on the HTTP side: the JSON error body, the
// security headers, the client's address and bounded, strict request bodies.
package httpx

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/caddyotp/caddyotp/caddyotp"
)

// WriteError writes e as `{"error":{"code","message"}}` with its status and headers.
func WriteError(w http.ResponseWriter, e *caddyotp.Error) error {
	if e.Status() == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfterSeconds()))
	}
	body := map[string]any{"error": map[string]any{"code": e.Code, "message": e.Message}}
	if e.Code == caddyotp.CodeOTPIncorrect {
		body["attempts_left"] = e.AttemptsLeft
	}
	return WriteJSON(w, e.Status(), body)
}

func WriteJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

// SetSecurityHeaders sets what every page and API answer carries (SECURITY.md).
func SetSecurityHeaders(h http.Header) {
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
}
