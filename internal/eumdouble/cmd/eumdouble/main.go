// Command eumdouble runs the End User Messaging SMS test double as a process, for
// process-level tests and the demo. It prints its URL as the first line of stdout, then
// serves the API and the double's control paths (GET /_sent, POST /_fault, POST /_reset;
// see eumdouble.Double.ServeHTTP) until interrupted. It listens on 127.0.0.1 only (-listen).
package main

import (
	"github.com/caddyotp/caddyotp/internal/awsdouble"
	"github.com/caddyotp/caddyotp/internal/eumdouble"
)

func main() {
	awsdouble.Main("eumdouble", eumdouble.Listen)
}
