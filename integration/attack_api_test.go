package integration

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/internal/redistest"
)

// apiCall is one raw API request: a body as bytes, with any media type and method.
type apiCall struct {
	name, method, path, contentType, body string
	status                                int
	code                                  string // the error code expected
}

// postAPI sends c to base (a site root with the API under /otp/) with the template key.
func postAPI(t testing.TB, base string, c apiCall) answer {
	t.Helper()
	req, err := http.NewRequest(c.method, base+"/otp/"+c.path, strings.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	if c.contentType != "" {
		req.Header.Set("Content-Type", c.contentType)
	}
	req.Header.Set("template-key", templateKey)
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// apiAbuse is every malformed request of the API test; none may write or send anything.
func apiAbuse() []apiCall {
	const js = "application/json"
	send := func(name, body string) apiCall {
		return apiCall{name: "send, " + name, method: "POST", path: "send-otp", contentType: js, body: body, status: 400, code: "invalid_json"}
	}
	mobile := func(name, m string) apiCall {
		return apiCall{name: "send, mobile " + name, method: "POST", path: "send-otp", contentType: js,
			body: `{"mobile":"` + m + `"}`, status: 400, code: "invalid_mobile"}
	}
	otp := func(name, o string) apiCall {
		return apiCall{name: "verify, otp " + name, method: "POST", path: "verify-otp", contentType: js,
			body: `{"mobile":"` + apiMobile + `","otp":"` + o + `"}`, status: 400, code: "invalid_otp"}
	}
	calls := []apiCall{
		send("empty", ""),
		send("open brace", "{"),
		send("no value", `{"mobile":}`),
		send("an array", `["+447400123457"]`),
		send("a string", `"+447400123457"`),
		send("null", `null`),
		send("a number", `447400123457`),
		send("two objects", `{"mobile":"+447400123457"}{"mobile":"+447400123457"}`),
		send("trailing garbage", `{"mobile":"+447400123457"}x`),
		send("trailing comma", `{"mobile":"+447400123457",}`),
		send("single quotes", `{'mobile':'+447400123457'}`),
		send("comment", `{"mobile":"+447400123457"/* x */}`),
		send("duplicate key", `{"mobile":"+447400123457","mobile":"+15550000001"}`),
		send("duplicate key in another case", `{"mobile":"+447400123457","MOBILE":"+15550000001"}`),
		send("duplicate key escaped", `{"mobile":"+447400123457","mobil\u0065":"+15550000001"}`),
		send("unknown field", `{"mobile":"+447400123457","admin":true}`),
		send("mobile as a number", `{"mobile":447400123457}`),
		send("mobile as an array", `{"mobile":["+447400123457"]}`),
		send("mobile as an object", `{"mobile":{"e164":"+447400123457"}}`),
		send("mobile as true", `{"mobile":true}`),
		send("nested objects", `{"mobile":"+447400123457","x":`+strings.Repeat(`{"a":`, 500)+`1`+strings.Repeat(`}`, 500)+`}`),
		send("deep arrays", `{"mobile":`+strings.Repeat(`[`, 2000)+strings.Repeat(`]`, 2000)+`}`),
		send("invalid UTF-8", "{\"mobile\":\"+447400123457\xff\"}"),
		send("a NUL after the object", "{\"mobile\":\"+447400123457\"}\x00"),
		{name: "send, mobile null", method: "POST", path: "send-otp", contentType: js, body: `{"mobile":null}`, status: 400, code: "invalid_mobile"},
		{name: "send, sender_id null", method: "POST", path: "send-otp", contentType: js, body: `{"mobile":null,"sender_id":null}`, status: 400, code: "invalid_mobile"},
		mobile("full-width digits", "+４４７４００１２３４５７"),
		mobile("Arabic-Indic digits", "+٤٤٧٤٠٠١٢٣٤٥٧"),
		mobile("superscript digits", "+⁴⁴7400123457"),
		mobile("with a leading space", " +447400123457"),
		mobile("with a trailing space", "+447400123457 "),
		mobile("with inner spaces", "+44 7400 123457"),
		mobile("without +", "447400123457"),
		mobile("with 00", "00447400123457"),
		mobile("too long", "+4474001234571234"),
		mobile("with a NUL", `+447400123457\u0000`),
		mobile("with a newline", `+447400123457\n`),
		mobile("with a zero-width space", "+447400\u200b123457"),
		mobile("empty", ""),
		otp("full-width", "１２３４５６"),
		otp("Arabic-Indic", "١٢٣٤٥٦"),
		otp("superscripts", "¹²³⁴⁵⁶"),
		otp("leading space", " 123456"),
		otp("trailing space", "123456 "),
		otp("signed", "+12345"),
		otp("negative", "-12345"),
		otp("too short", "12345"),
		otp("too long", "1234567"),
		otp("hex", "0x1234"),
		otp("exponent", "1e5000"),
		otp("empty", ""),
		{name: "verify, otp as a number", method: "POST", path: "verify-otp", contentType: js, body: `{"mobile":"` + apiMobile + `","otp":123456}`, status: 400, code: "invalid_json"},
		{name: "verify, otp null", method: "POST", path: "verify-otp", contentType: js, body: `{"mobile":"` + apiMobile + `","otp":null}`, status: 400, code: "invalid_otp"},
		{name: "verify, mobile Arabic-Indic", method: "POST", path: "verify-otp", contentType: js, body: `{"mobile":"+٤٤٧٤٠٠١٢٣٤٥٧","otp":"123456"}`, status: 400, code: "invalid_mobile"},
		{name: "send, 5 KiB body", method: "POST", path: "send-otp", contentType: js, body: `{"mobile":"+447400123457","sender_id":"` + strings.Repeat("A", 5<<10) + `"}`, status: 413, code: "body_too_large"},
		{name: "send, 1 MiB body", method: "POST", path: "send-otp", contentType: js, body: `{"mobile":"` + strings.Repeat(" ", 1<<20) + `"}`, status: 413, code: "body_too_large"},
		{name: "verify, 5 KiB body", method: "POST", path: "verify-otp", contentType: js, body: strings.Repeat(" ", 5<<10) + `{}`, status: 413, code: "body_too_large"},
	}
	for _, mt := range []string{"", "text/json", "text/plain", "application/json-patch+json", "application/jsonx", "application/x-www-form-urlencoded",
		"multipart/form-data; boundary=x", "application/json;;", "json"} {
		calls = append(calls, apiCall{name: "send as " + mt, method: "POST", path: "send-otp", contentType: mt,
			body: `{"mobile":"` + apiMobile + `"}`, status: 415, code: "unsupported_media_type"})
	}
	for _, m := range []string{"GET", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "HEAD"} {
		for _, path := range []string{"send-otp", "verify-otp"} {
			calls = append(calls, apiCall{name: m + " " + path, method: m, path: path, contentType: js,
				body: `{"mobile":"` + apiMobile + `"}`, status: 405, code: "method_not_allowed"})
		}
	}
	calls = append(calls,
		apiCall{name: "POST sms-log", method: "POST", path: "sms-log", contentType: js, body: `{}`, status: 405, code: "method_not_allowed"},
		apiCall{name: "an unknown endpoint", method: "POST", path: "send-otp/x", contentType: js, body: `{}`, status: 404, code: "not_found"},
		apiCall{name: "send-otp with a dot segment", method: "POST", path: "x/../send-otpx", contentType: js, body: `{}`, status: 404, code: "not_found"},
	)
	return calls
}

// checkAPIAbuse sends every abusive call to base and checks the answers; nothing may be
// sent (the double) or logged in the ledger.
func checkAPIAbuse(t *testing.T, base string, s *attackSite) {
	t.Helper()
	attempts := s.sns.Attempts()
	for _, c := range apiAbuse() {
		a := postAPI(t, base, c)
		if a.status != c.status || (c.method != "HEAD" && errorCode(a) != c.code) {
			t.Errorf("%s: expected %d %s, got %d %s", c.name, c.status, c.code, a.status, a.body)
		}
	}
	if got := s.sns.Attempts(); got != attempts {
		t.Errorf("expected no Publish for bad requests, got %d", got-attempts)
	}
	if l := smsLog(t, base, 10); len(l) != 0 {
		t.Errorf("expected an empty ledger after bad requests, got %+v", l)
	}
}

// TestAttackAPI throws malformed, oversized, mistyped and mis-sent requests at otp_api on
// the memory store, then slow and chunked bodies.
func TestAttackAPI(t *testing.T) {
	s := startAttackSite(t)
	checkAPIAbuse(t, s.spec, s)
	checkStreamedBodies(t, s.specAddr, s)
	if strings.Contains(s.proc.output(), "panic") {
		t.Errorf("expected no panic in caddy's log, got:\n%s", s.proc.tail(40))
	}
}

// TestAttackAPIRedis is TestAttackAPI's bad requests against the Redis store: no key is
// created.
func TestAttackAPIRedis(t *testing.T) {
	rds := redistest.Start(t)
	c := startInstances(t, 1, instanceConfig{store: "address " + rds.Addr()}, rds.Client())
	ctx := context.Background()
	keys := func() []string {
		k, err := rds.Client().Keys(ctx, "*").Result()
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	s := &attackSite{sns: c.sns, proc: c.procs[0]}
	addr := strings.TrimPrefix(c.bases[0], "http://")
	checkAPIAbuse(t, c.bases[0], s)
	checkStreamedBodies(t, addr, s)
	if k := keys(); len(k) != 0 {
		t.Errorf("expected no key in Redis after bad requests, got %q", k)
	}
	if strings.Contains(s.proc.output(), "panic") {
		t.Errorf("expected no panic in caddy's log, got:\n%s", s.proc.tail(40))
	}
}

// checkStreamedBodies sends chunked bodies over 4 KiB (no Content-Length) and bodies
// trickled a few bytes at a time: the first get 413, a slow body that arrives within the
// bound is read as usual, and one that does not is cut off at the bound.
func checkStreamedBodies(t *testing.T, addr string, s *attackSite) {
	t.Helper()
	attempts := s.sns.Attempts()
	head := "POST /otp/send-otp HTTP/1.1\nHost: " + addr + "\ntemplate-key: " + templateKey + "\nContent-Type: application/json\n"
	chunk := func(p string) string { return fmt.Sprintf("%x\r\n%s\r\n", len(p), p) }
	for _, size := range []int{4<<10 + 1, 64 << 10} {
		body := `{"mobile":"` + apiMobile + `","sender_id":"` + strings.Repeat("A", size) + `"}`
		req := strings.ReplaceAll(head+"Transfer-Encoding: chunked\nConnection: close\n\n", "\n", "\r\n")
		for i := 0; i < len(body); i += 1000 {
			req += chunk(body[i:min(i+1000, len(body))])
		}
		a := rawRequest(t, addr, req+"0\r\n\r\n")
		if a.status != http.StatusRequestEntityTooLarge || errorCode(a.answer) != "body_too_large" {
			t.Errorf("a chunked body of %d bytes: expected 413 body_too_large, got %s", len(body), a)
		}
	}

	// Slow bodies, side by side: one over about 2 s, one that would take 8 s.
	var wg sync.WaitGroup
	for _, tc := range []struct {
		name   string
		pause  time.Duration
		status int
		code   string
		bound  time.Duration
	}{
		{"a body trickled over 2 s", 80 * time.Millisecond, 400, "invalid_mobile", 4 * time.Second},
		{"a body trickled over 8 s", 320 * time.Millisecond, 400, "invalid_json", 7 * time.Second},
	} {
		wg.Go(func() {
			body := `{"mobile":"+0000000000000"}` // 27 bytes: invalid, so nothing is sent
			conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
				return
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(15 * time.Second))
			start := time.Now()
			io.WriteString(conn, strings.ReplaceAll(head+fmt.Sprintf("Content-Length: %d\nConnection: close\n\n", len(body)), "\n", "\r\n"))
			done := make(chan answer, 1)
			go func() {
				resp, err := http.ReadResponse(bufioReader(conn), nil)
				if err != nil {
					done <- answer{status: -1, body: err.Error()}
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				done <- answer{status: resp.StatusCode, body: string(b)}
			}()
			var a answer
		trickle:
			for i := 0; i < len(body); i++ {
				if _, err := conn.Write([]byte{body[i]}); err != nil {
					break
				}
				select {
				case a = <-done:
					break trickle
				case <-time.After(tc.pause):
				}
			}
			if a.status == 0 {
				a = <-done
			}
			took := time.Since(start)
			t.Logf("%s: %d %s after %s", tc.name, a.status, strings.TrimSpace(a.body), took.Round(10*time.Millisecond))
			if a.status != tc.status || errorCode(a) != tc.code || took > tc.bound {
				t.Errorf("%s: expected %d %s within %s, got %d %s after %s", tc.name, tc.status, tc.code, tc.bound, a.status, a.body, took)
			}
		})
	}
	wg.Wait()
	if got := s.sns.Attempts(); got != attempts {
		t.Errorf("expected no Publish for streamed bodies, got %d", got-attempts)
	}
}
