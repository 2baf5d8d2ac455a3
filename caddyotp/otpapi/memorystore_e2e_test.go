package otpapi_test

import (
	"fmt"
	"net/http"
	"testing"
)

// TestAPIMemoryStoreFull (SECURITY.md: the memory store is bounded): a flood of sends to new mobiles from new IPs
// fills a memory store of max_entries 1000; then send-otp answers 503 store_unavailable
// and publishes nothing, and verify-otp fails closed alike, instead of the store growing
// without bound.
func TestAPIMemoryStoreFull(t *testing.T) {
	env := startAPIWith(t, apiOptions{global: trustLocalProxy, memory: "max_entries 1000",
		template: "resend 0s" + looseLimits})
	mobile := func(i int) string { return fmt.Sprintf("+44740012%04d", i) }
	sent := 0
	var full reply
	for i := range 1000 {
		r := env.sendAs(t, loginKey, mobile(i), fmt.Sprintf("198.51.%d.%d", i/250, i%250+1))
		if r.status != http.StatusOK {
			full = r
			break
		}
		sent++
	}
	expectStatus(t, full, http.StatusServiceUnavailable, "store_unavailable")
	// Each send to a new mobile from a new IP keeps at least three entries (its code and
	// its mobile and ip limits), so the store is full after at most a third of the bound.
	if sent < 100 || sent > 1000/3 {
		t.Fatalf("expected the store full after 100 to 333 sends, got %d", sent)
	}
	mustBeMobile(t, mobile(sent))
	if got := env.sns.Count(); got != sent {
		t.Fatalf("expected %d publishes and none past the bound, got %d", sent, got)
	}
	for i := sent; i < sent+5; i++ {
		expectStatus(t, env.sendAs(t, loginKey, mobile(i), fmt.Sprintf("203.0.113.%d", i%250+1)), http.StatusServiceUnavailable, "store_unavailable")
	}
	// A check needs room for the mobile's failure run before it compares the code.
	expectStatus(t, env.verifyFrom(t, mobile(0), "000000", "192.0.2.1"), http.StatusServiceUnavailable, "store_unavailable")
	if got := env.sns.Count(); got != sent {
		t.Fatalf("expected no publish while the store is full, got %d", got-sent)
	}
}
