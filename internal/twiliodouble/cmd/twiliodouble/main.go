// Command twiliodouble runs the Twilio test double as a process, for process-level tests
// and the demo. It prints its URL as the first line of stdout, then serves Create Message
// and the double's control paths (GET /_sent, POST /_fault, POST /_price, POST /_reset;
// see twiliodouble.Double.ServeHTTP) until interrupted. It listens on 127.0.0.1 only
// (-listen), and knows one account: twiliodouble.AccountSID, with its AuthToken, or its
// API key APIKey and APISecret.
package main

import (
	"github.com/caddyotp/caddyotp/internal/awsdouble"
	"github.com/caddyotp/caddyotp/internal/twiliodouble"
)

func main() {
	awsdouble.Main("twiliodouble", twiliodouble.Listen)
}
