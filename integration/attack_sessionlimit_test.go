package integration

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/internal/snsdouble"
	"github.com/caddyotp/caddyotp/internal/testnet"
)

// TestAttackSessionLimitAcrossGates signs in at a gate with `session 12h` and takes the
// session to a gate of the same template with `session 1m`: the short gate's limit counts
// from when the session was issued, wherever it was issued.
func TestAttackSessionLimitAcrossGates(t *testing.T) {
	sns := snsdouble.New(t)
	up, upAddr := startRecorder(t)
	base := testnet.Site(testnet.FreePort(t))
	startCaddy(t, fmt.Sprintf(`{
%s
}

%s {
	otp_gate /long/* login {
		allow %s
		session 12h
	}
	otp_gate /short/* login {
		allow %[3]s
		session 1m
	}
	reverse_proxy %s
}
`, otpOptions(sns, "resend 0s"), base, gateMobile, upAddr))

	// A real sign-in at the long gate, two minutes ago as far as the tokens go.
	long := gateSignIn(t, newJarClient(t), sns, base+"/long/", gateMobile)
	now := time.Now().Unix()
	forge := newForger(sharedSecret)
	for _, tc := range []struct {
		name, path, session string
		status              int
	}{
		{"the long gate's own session at the long gate", "/long/x", long, http.StatusOK},
		{"the long gate's own session at the short gate, just issued", "/short/x", long, http.StatusOK},
		{"a 12h session issued 2 minutes ago at the long gate", "/long/x", forge.session(now-120, now-5, now-120+12*3600, "login", "", gateMobile), http.StatusOK},
		{"a 12h session issued 2 minutes ago at the short gate", "/short/x", forge.session(now-120, now-5, now-120+12*3600, "login", "", gateMobile), http.StatusUnauthorized},
		{"a 12h session issued 61 seconds ago at the short gate", "/short/x", forge.session(now-61, now-5, now-61+12*3600, "login", "", gateMobile), http.StatusUnauthorized},
		{"a 12h session issued 30 seconds ago at the short gate", "/short/x", forge.session(now-30, now-5, now-30+12*3600, "login", "", gateMobile), http.StatusOK},
	} {
		before := up.count()
		a := request(t, "GET", base+tc.path, nil, nil, "otp_session="+tc.session, nil)
		reached := up.count() - before
		if a.status != tc.status || (tc.status == http.StatusOK) != (reached == 1) {
			t.Errorf("%s: expected %d, got %d %s (upstream reached %d times)", tc.name, tc.status, a.status, a.body, reached)
		}
	}
}
