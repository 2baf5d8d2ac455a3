package integration

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/internal/snsdouble"
	"github.com/caddyotp/caddyotp/internal/testnet"
)

// trailerSaw is what the trailer-recording upstream got: the body, the headers and the
// trailers after the body was read to its end.
type trailerSaw struct {
	body            string
	header, trailer http.Header
}

// TestAttackRequestTrailers sends chunked POSTs with a valid session whose trailers carry
// the identity header in every spelling, declared in the Trailer header or not, through
// reverse_proxy to a local upstream: the upstream must see the gate's header and no other
// copy, in the headers or the trailers. A harmless trailer still arrives, so that the test
// shows trailers do reach the upstream.
func TestAttackRequestTrailers(t *testing.T) {
	var mu sync.Mutex
	var seen []trailerSaw
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, trailerSaw{body: string(body), header: r.Header.Clone(), trailer: r.Trailer.Clone()})
		mu.Unlock()
		fmt.Fprint(w, upstreamMark)
	}))
	t.Cleanup(up.Close)

	sns := snsdouble.New(t)
	base := testnet.Site(testnet.FreePort(t))
	addr := strings.TrimPrefix(base, "http://")
	startCaddy(t, fmt.Sprintf("{\n%s\n}\n\n%s {\n\totp_gate /admin/* login {\n\t\tallow %s\n\t}\n\treverse_proxy %s\n}\n",
		otpOptions(sns, "resend 0s"), base, gateMobile, up.Listener.Addr().String()))
	now := time.Now().Unix()
	session := newForger(sharedSecret).session(now, now, now+3600, "login", "", gateMobile)

	spellings := []string{"X-OTP-Mobile", "x-otp-mobile", "X-Otp-Mobile", "X_OTP_Mobile", "x_otp_mobile", "X-OTP_Mobile"}
	for _, declared := range []string{"", "X-Harmless", "X-Harmless, %s", "%s, X-Harmless", "%s"} {
		for _, name := range spellings {
			trailerHeader := ""
			if declared != "" {
				d := declared
				if strings.Contains(d, "%s") {
					d = fmt.Sprintf(d, name)
				}
				trailerHeader = "Trailer: " + d + "\n"
			}
			req := "POST /admin/upload HTTP/1.1\nHost: " + addr + "\nCookie: otp_session=" + session + "\n" +
				"Content-Type: text/plain\nTransfer-Encoding: chunked\n" + trailerHeader + "Connection: close\n\n" +
				"5\nhello\n6\n world\n0\n" + name + ": +15550000001\nX-Harmless: kept\n\n"
			mu.Lock()
			before := len(seen)
			mu.Unlock()
			a := rawRequest(t, addr, req)
			mu.Lock()
			got := append([]trailerSaw(nil), seen[before:]...)
			mu.Unlock()
			what := fmt.Sprintf("trailer %s, Trailer header %q", name, strings.TrimSpace(trailerHeader))
			if a.status != http.StatusOK || len(got) != 1 || got[0].body != "hello world" {
				t.Fatalf("%s: expected 200 from the upstream with the body, got %s, upstream %d", what, a, len(got))
			}
			for k, vv := range got[0].header {
				if normalizeName(k) == "x-otp-mobile" && (k != "X-Otp-Mobile" || len(vv) != 1 || vv[0] != gateMobile) {
					t.Errorf("%s: expected no client copy of the identity header upstream, got %s: %q", what, k, vv)
				}
			}
			for k, vv := range got[0].trailer {
				if normalizeName(k) == "x-otp-mobile" {
					t.Errorf("%s: expected no identity header in the upstream's trailers, got %s: %q", what, k, vv)
				}
			}
			for _, v := range got[0].header.Values("Trailer") {
				if strings.Contains(normalizeName(v), "x-otp-mobile") {
					t.Errorf("%s: expected the Trailer header upstream not to name the identity header, got %q", what, v)
				}
			}
			if got[0].header.Get("X-Otp-Mobile") != gateMobile {
				t.Errorf("%s: expected the gate's X-Otp-Mobile: %s upstream, got %q", what, gateMobile, got[0].header.Values("X-Otp-Mobile"))
			}
			if strings.Contains(declared, "X-Harmless") && got[0].trailer.Get("X-Harmless") != "kept" {
				t.Errorf("%s: expected the declared X-Harmless trailer to reach the upstream, got trailers %q", what, got[0].trailer)
			}
		}
	}
}

// normalizeName lower-cases a header name and reads '_' as '-', as a CGI upstream would.
func normalizeName(s string) string { return strings.ToLower(strings.ReplaceAll(s, "_", "-")) }
