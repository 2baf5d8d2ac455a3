package otpdashboard

// The end-to-end tests run a whole Caddy with the plugin's store, senders and gate; the
// plugin's own import list would bring this package in twice.
import (
	_ "github.com/caddyotp/caddyotp/caddyotp/logsender"
	_ "github.com/caddyotp/caddyotp/caddyotp/memorystore"
	_ "github.com/caddyotp/caddyotp/caddyotp/otpgate"
	_ "github.com/caddyotp/caddyotp/caddyotp/snssender"
)
