package caddyotp

import (
	"slices"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

// TestModules: importing the plugin registers exactly these modules, the list the README
// gives (`caddy list-modules | grep otp`).
func TestModules(t *testing.T) {
	want := []string{
		"http.handlers.otp_api", "http.handlers.otp_dashboard", "http.handlers.otp_gate", "otp",
		"otp.reports.cloudwatch_logs", "otp.reports.sqs",
		"otp.senders.eum", "otp.senders.failover", "otp.senders.http", "otp.senders.log", "otp.senders.sns", "otp.senders.twilio",
		"otp.stores.memory", "otp.stores.redis",
	}
	var got []string
	for _, id := range caddy.Modules() {
		if id == "otp" || strings.HasPrefix(id, "otp.") || strings.HasPrefix(id, "http.handlers.otp_") {
			got = append(got, id)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("expected the modules %v, got %v", want, got)
	}
}
