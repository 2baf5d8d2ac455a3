package otpgate

// The end-to-end tests run a whole Caddy with the plugin's stores, senders and API; the
// plugin's own import list would bring this package in twice.
import (
	_ "github.com/caddyotp/caddyotp/caddyotp/logsender"
	_ "github.com/caddyotp/caddyotp/caddyotp/memorystore"
	_ "github.com/caddyotp/caddyotp/caddyotp/otpapi"
	_ "github.com/caddyotp/caddyotp/caddyotp/redisstore"
	_ "github.com/caddyotp/caddyotp/caddyotp/snssender"
)
