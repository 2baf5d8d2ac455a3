// Command snsdouble runs the SNS test double as a process, for process-level tests and the
// demo. It prints its URL as the first line of stdout, then serves the SNS API and the
// double's control paths (GET /_published, POST /_fault, POST /_reset; see
// snsdouble.Double.ServeHTTP) until interrupted. It listens on 127.0.0.1 only (-listen).
package main

import (
	"github.com/caddyotp/caddyotp/internal/awsdouble"
	"github.com/caddyotp/caddyotp/internal/snsdouble"
)

func main() {
	awsdouble.Main("snsdouble", snsdouble.Listen)
}
