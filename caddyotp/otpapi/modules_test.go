package otpapi_test

// The end-to-end tests run a whole Caddy: every module of the plugin is registered.
import _ "github.com/caddyotp/caddyotp"
