// Package caddyotp puts SMS one-time passwords in front of any Caddy route. Importing it
// (xcaddy build --with github.com/caddyotp/caddyotp) registers every module, as Caddy's
// modules/standard does: the otp app (the host, in the caddyotp sub-package), its stores,
// senders and delivery report readers (guests, one package each), and the otp_gate,
// otp_api and otp_dashboard handlers.
package caddyotp

import (
	// The host: the otp app, the service and the contracts its guests fill.
	_ "github.com/caddyotp/caddyotp/caddyotp"

	// Stores: otp.stores.*
	_ "github.com/caddyotp/caddyotp/caddyotp/memorystore"
	_ "github.com/caddyotp/caddyotp/caddyotp/redisstore"

	// Senders: otp.senders.*
	_ "github.com/caddyotp/caddyotp/caddyotp/eumsender"
	_ "github.com/caddyotp/caddyotp/caddyotp/failoversender"
	_ "github.com/caddyotp/caddyotp/caddyotp/httpsender"
	_ "github.com/caddyotp/caddyotp/caddyotp/logsender"
	_ "github.com/caddyotp/caddyotp/caddyotp/snssender"
	_ "github.com/caddyotp/caddyotp/caddyotp/twiliosender"

	// Delivery report readers: otp.reports.*
	_ "github.com/caddyotp/caddyotp/caddyotp/logsreports"
	_ "github.com/caddyotp/caddyotp/caddyotp/sqsreports"

	// Handlers: http.handlers.otp_gate, http.handlers.otp_api and http.handlers.otp_dashboard
	_ "github.com/caddyotp/caddyotp/caddyotp/otpapi"
	_ "github.com/caddyotp/caddyotp/caddyotp/otpdashboard"
	_ "github.com/caddyotp/caddyotp/caddyotp/otpgate"
)
