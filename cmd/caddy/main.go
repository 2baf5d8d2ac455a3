// Command caddy is Caddy with the standard modules and the caddyotp plugin.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/caddyotp/caddyotp"
)

func main() {
	caddycmd.Main()
}
