package otpapi_test

import (
	"strings"
	"testing"
)

// TestAPITestNumber: a send to a test number answers as a send does, with a test- message
// id, publishes nothing, still meets the mobile limit (the sixth under 5/1h is 429), and
// its fixed code verifies; sms-log shows each send as "test" from provider "test" at 0 USD,
// and sms-stats counts none of it. With the memory store and with Redis.
func TestAPITestNumber(t *testing.T) {
	const testMobile, testCode = "+447400000001", "246810"
	for _, store := range stores {
		t.Run(store, func(t *testing.T) {
			env := startAPI(t, store, "", "resend 0s\n\t\t\tlimit mobile 5 1h\n\t\t\ttest_number "+testMobile+" "+testCode)
			for i := 1; i <= 5; i++ {
				r := env.send(t, testMobile)
				id, _ := r.body["message_id"].(string)
				if r.status != 200 || r.body["status"] != "sent" || r.body["mobile"] != testMobile || !strings.HasPrefix(id, "test-") {
					t.Fatalf("send %d: expected 200 sent with a test- message id, got %d %s", i, r.status, r.raw)
				}
			}
			expectStatus(t, env.send(t, testMobile), 429, "rate_limited")
			if n := env.sns.Attempts(); n != 0 {
				t.Errorf("expected nothing published, got %d attempts", n)
			}

			expectStatus(t, env.verify(t, testMobile, "135791"), 401, "otp_incorrect")
			if r := env.verify(t, testMobile, testCode); r.status != 200 || r.body["status"] != "verified" {
				t.Fatalf("expected the fixed code to verify, got %d %s", r.status, r.raw)
			}

			l := env.ledger(t, loginKey)
			if n, usd := l.status("test"); n != 5 || usd != 0 || len(l.entries) != 5 || l.total != 0 {
				t.Errorf("expected 5 test entries of 0 USD and nothing else, got %d of %v in %d, total %v", n, usd, len(l.entries), l.total)
			}
			for _, e := range l.entries {
				if e["provider"] != "test" || e["mobile"] != "+44•••••••001" || e["country"] != "GB" {
					t.Errorf("expected provider test, the masked mobile and GB, got %v", e)
				}
			}

			r := env.do(t, "GET", "/otp/sms-stats?days=1", loginKey, "", "")
			if r.status != 200 {
				t.Fatalf("expected 200 from sms-stats, got %d %s", r.status, r.raw)
			}
			days, _ := r.body["days"].([]any)
			if len(days) != 1 {
				t.Fatalf("expected one day, got %s", r.raw)
			}
			day := days[0].(map[string]any)
			if day["sent"] != float64(0) || day["verified"] != float64(0) || day["estimated_usd"] != float64(0) {
				t.Errorf("expected nothing counted for test sends, got %v", day)
			}
			budget, _ := r.body["budget"].(map[string]any)
			if budget["daily_spent_usd"] != float64(0) {
				t.Errorf("expected no spend, got %v", budget)
			}
		})
	}
}
