// Command caddy is Caddy v2.11.9 with greenpau/caddy-security v1.1.64, for the benchmarks
// only; it is its own module so that the plugin's go.mod never depends on caddy-security.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"
	_ "github.com/greenpau/caddy-security"
)

func main() {
	caddycmd.Main()
}
