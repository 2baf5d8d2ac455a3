// Package caddyotp puts SMS one-time passwords in front of any Caddy route. Importing it
// (xcaddy build --with github.com/caddyotp/caddyotp) registers the modules, which live in
// the caddyotp sub-package.
package caddyotp

import (
	_ "github.com/caddyotp/caddyotp/caddyotp"
)
