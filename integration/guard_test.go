package integration

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/internal/eumdouble"
	"github.com/caddyotp/caddyotp/internal/redistest"
	"github.com/caddyotp/caddyotp/internal/testnet"
)

// TestGuardAcrossInstances: the pumping guard's counts and blocks live in Redis, so sends
// through two instances add up, and once a country is blocked both refuse it (429 with
// Retry-After, no SMS), while a country whose codes are used goes on.
func TestGuardAcrossInstances(t *testing.T) {
	rs := redistest.Start(t)
	eum := eumdouble.New(t)
	sender := fmt.Sprintf("sender eum {\n\t\t\tregion eu-west-2\n\t\t\tendpoint %s\n\t\t}", eum.URL())
	guard := "limit ip 0 1h\n\t\t\tguard {\n\t\t\t\tmin_sends 5\n\t\t\t\tmin_conversion 0.5\n\t\t\t\tblock 10m\n\t\t\t}"
	var bases []string
	for range 2 {
		port := testnet.FreePort(t)
		startCaddy(t, strings.Replace(reportsCaddyfile(port, rs.Addr(), sender, ""), "limit ip 0 1h", guard, 1))
		bases = append(bases, testnet.Site(port))
	}
	for i := range 5 {
		sendFor(t, bases[i%2], fmt.Sprintf("+4474001238%02d", i))
	}
	before := eum.Count()
	for _, base := range bases {
		a := sendOTP(t, base, "+447400123899")
		expect(t, "a send to a blocked country", a, http.StatusTooManyRequests, `"rate_limited"`)
		if ra, err := strconv.Atoi(a.header.Get("Retry-After")); err != nil || ra < 1 || ra > 600 {
			t.Errorf("expected Retry-After of 1 to 600 seconds, got %q", a.header.Get("Retry-After"))
		}
	}
	if eum.Count() != before {
		t.Errorf("expected no SMS to a blocked country, got %d more", eum.Count()-before)
	}
	// the US converts: every code used, never refused
	for i := range 8 {
		m := fmt.Sprintf("+1202555%04d", 170+i)
		sendFor(t, bases[i%2], m)
		msgs, err := eum.WaitFor(eum.Count(), time.Second)
		if err != nil {
			t.Fatal(err)
		}
		code := smsCode.FindStringSubmatch(msgs[len(msgs)-1].MessageBody)[1]
		expect(t, "verify", verifyOTP(t, bases[(i+1)%2], m, code), http.StatusOK, `"verified"`)
	}
}
