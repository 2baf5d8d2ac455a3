package otpapi

import (
	"net/http/httptest"
	"testing"
)

// TestRequestKey: the key comes from Authorization: Bearer or template-key; both at once
// must agree; another Authorization scheme leaves template-key in charge.
func TestRequestKey(t *testing.T) {
	tests := []struct {
		name, auth, header, want string
	}{
		{"none", "", "", ""},
		{"template-key", "", "k1", "k1"},
		{"Bearer", "Bearer k1", "", "k1"},
		{"bearer in lower case", "bearer k1", "", "k1"},
		{"Bearer with spaces", "Bearer   k1 ", "", "k1"},
		{"Bearer and the same template-key", "Bearer k1", "k1", "k1"},
		{"Bearer and another template-key", "Bearer k1", "k2", ""},
		{"Basic beside template-key", "Basic YWxpY2U6cHc=", "k1", "k1"},
		{"Basic alone", "Basic k1", "", ""},
		{"Bearer without a key", "Bearer", "", ""},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("POST", "/send-otp", nil)
		if tt.auth != "" {
			r.Header.Set("Authorization", tt.auth)
		}
		if tt.header != "" {
			r.Header.Set("template-key", tt.header)
		}
		if got := requestKey(r); got != tt.want {
			t.Errorf("%s: expected %q, got %q", tt.name, tt.want, got)
		}
	}
}
