package integration

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/internal/snsdouble"
	"github.com/caddyotp/caddyotp/internal/testnet"
)

// upstreamSaw is one request that reached the recording upstream.
type upstreamSaw struct {
	Method, URI, Host string
	Header            http.Header
}

// recorder is an upstream that records every request it gets and answers 200 with a body
// that says so, so that an answer can never be mistaken for the gate's.
type recorder struct {
	mu   sync.Mutex
	seen []upstreamSaw
}

const upstreamMark = "UPSTREAM-ANSWERED"

func startRecorder(t testing.TB) (*recorder, string) {
	t.Helper()
	rec := &recorder{}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		rec.seen = append(rec.seen, upstreamSaw{Method: r.Method, URI: r.RequestURI, Host: r.Host, Header: r.Header.Clone()})
		rec.mu.Unlock()
		fmt.Fprintf(w, "%s uri=%s mobile=%s cookie=%s", upstreamMark, r.RequestURI, r.Header.Get("X-OTP-Mobile"), r.Header.Get("Cookie"))
	}))
	t.Cleanup(up.Close)
	return rec, up.Listener.Addr().String()
}

// count is how many requests reached the upstream so far.
func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

// since returns the requests that arrived after the first n.
func (r *recorder) since(n int) []upstreamSaw {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]upstreamSaw(nil), r.seen[n:]...)
}

// Mobiles of the attack config: gateMobile may sign in at /admin/ and /ops/; staffMobile
// alone at /staff/.
const staffMobile = "+447400999999"

// attackSite is one Caddy with four sites on the recording upstream:
//
//   - spec: the README's shape. `otp_gate /admin/* login` in front of `reverse_proxy` for the
//     whole site, the API under /otp/, a second realm at /ops/* (template ops) and a gate
//     of the same realm with another allow list at /staff/*.
//   - hardened: README's "Choosing what to protect": `path /admin /admin/*`, and paths an
//     upstream could read differently from Caddy refused first.
//   - whole: the whole site gated (no matcher), so that paths such as //evil.example are
//     gated and redirect targets built from them can be checked.
//   - named: the README's shape on a named host (admin.test) on the spec site's port.
type attackSite struct {
	proc                  *caddyProc
	spec, hardened, whole string // http://127.0.0.1:port
	specAddr, wholeAddr   string // 127.0.0.1:port
	hardenedAddr          string
	sns                   *snsdouble.Double
	up                    *recorder
}

// hardenedMatchers is the README's recommendation, in the Caddyfile of the hardened site.
const hardenedMatchers = `	@ambiguous path_regexp [;\\%%[:cntrl:]]
	respond @ambiguous 400
	@admin path /admin /admin/*
`

func startAttackSite(t testing.TB) *attackSite {
	t.Helper()
	s := &attackSite{sns: snsdouble.New(t)}
	var upAddr string
	s.up, upAddr = startRecorder(t)
	ports := [3]int{testnet.FreePort(t), testnet.FreePort(t), testnet.FreePort(t)}
	s.spec, s.hardened, s.whole = testnet.Site(ports[0]), testnet.Site(ports[1]), testnet.Site(ports[2])
	s.specAddr, s.hardenedAddr, s.wholeAddr = strings.TrimPrefix(s.spec, "http://"), strings.TrimPrefix(s.hardened, "http://"), strings.TrimPrefix(s.whole, "http://")
	limits := `resend 0s
			attempts 5
			limit mobile 0 1h
			limit ip 0 1h
			limit prefix 0 1h
			limit template 0 24h`
	s.proc = startCaddy(t, fmt.Sprintf(`{
	otp {
		secret %[1]s
		sender sns {
			region eu-west-2
			endpoint %[2]s
		}
		prices {
			default %[3]v
		}
		template login {
			key %[4]s
			%[5]s
		}
		template ops {
			key ops-template-key-0123456789abcdef
			%[5]s
		}
	}
}

%[6]s {
	handle_path /otp/* {
		otp_api
	}
	otp_gate /admin/* login {
		allow %[7]s
	}
	otp_gate /ops/* ops {
		allow %[7]s
	}
	otp_gate /staff/* login {
		allow %[8]s
	}
	reverse_proxy %[9]s
}

http://admin.test:%[10]d {
	otp_gate /admin/* login {
		allow %[7]s
	}
	reverse_proxy %[9]s
}

%[11]s {
`+hardenedMatchers+`	otp_gate @admin login {
		allow %[7]s
	}
	reverse_proxy %[9]s
}

%[12]s {
	otp_gate login {
		allow %[7]s
	}
	reverse_proxy %[9]s
}
`, sharedSecret, s.sns.URL(), smsPrice, templateKey, limits, s.spec, gateMobile, staffMobile, upAddr,
		ports[0], s.hardened, s.whole))
	return s
}

// rawAnswer is what came back for a request written byte for byte to a TCP connection.
type rawAnswer struct {
	answer
	err error // the connection failed or the answer was not HTTP
}

// rawRequest writes req (CRLF line ends added for "\n") to addr and reads one answer.
// It is for request lines Go's client would normalise or refuse to send.
func rawRequest(t testing.TB, addr, req string) rawAnswer {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatalf("dialling %s: %v", addr, err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if !strings.Contains(req, "\r\n") {
		req = strings.ReplaceAll(req, "\n", "\r\n")
	}
	if _, err := io.WriteString(conn, req); err != nil {
		return rawAnswer{err: err}
	}
	resp, err := http.ReadResponse(bufioReader(conn), nil)
	if err != nil {
		return rawAnswer{err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return rawAnswer{err: err}
	}
	return rawAnswer{answer: answer{status: resp.StatusCode, header: resp.Header, body: string(body)}}
}

// get is a raw GET of target with host and extra header lines.
func get(t testing.TB, addr, target, host string, headers ...string) rawAnswer {
	t.Helper()
	req := "GET " + target + " HTTP/1.1\nHost: " + host + "\n"
	for _, h := range headers {
		req += h + "\n"
	}
	return rawRequest(t, addr, req+"Connection: close\n\n")
}

func (a rawAnswer) String() string {
	if a.err != nil {
		return "error " + a.err.Error()
	}
	return fmt.Sprintf("%d %q", a.status, a.body)
}

func bufioReader(r io.Reader) *bufio.Reader { return bufio.NewReader(r) }
