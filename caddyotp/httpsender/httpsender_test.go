package httpsender_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/httpsender"
	"github.com/caddyotp/caddyotp/caddyotp/sendertest"
	"github.com/caddyotp/caddyotp/internal/testcaddy"
)

// received is one request a receiver got.
type received struct {
	Method, Path, Query string
	Header              http.Header
	Body                []byte
}

// receiver is a provider's endpoint on 127.0.0.1: it records every request and answers
// with answer.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	requests []received
}

func newReceiver(t *testing.T, answer http.HandlerFunc) *receiver {
	t.Helper()
	r := &receiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			t.Errorf("receiver: reading the body: %v", err)
		}
		r.mu.Lock()
		r.requests = append(r.requests, received{req.Method, req.URL.Path, req.URL.RawQuery, req.Header.Clone(), body})
		r.mu.Unlock()
		answer(w, req)
	}))
	t.Cleanup(r.Close)
	return r
}

// answering is a handler that answers status with body, as JSON.
func answering(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body) //nolint:errcheck // the sender may stop reading
	}
}

func (r *receiver) received() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.requests...)
}

// senderFor is cfg provisioned, with its warnings kept in the logs returned.
func senderFor(t *testing.T, cfg httpsender.HTTPSender) (*httpsender.HTTPSender, *observer.ObservedLogs) {
	t.Helper()
	s := &cfg
	testcaddy.Provision(t, s)
	core, logs := observer.New(zap.WarnLevel)
	s.SetLoggerForTest(zap.New(core))
	return s, logs
}

var hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

const trickyText = "Code \"123456\" for O'Brien & Co = ok\\\n100% + more\r\n<b>Ünïcödé 😀 中文</b>"

// decodeBody reads a request's body back in format, as a map.
func decodeBody(t *testing.T, format string, body []byte) map[string]string {
	t.Helper()
	got := map[string]string{}
	if format == "form" {
		values, err := url.ParseQuery(string(body))
		if err != nil {
			t.Fatalf("expected a form body, got %v: %s", err, body)
		}
		for k, v := range values {
			if len(v) != 1 {
				t.Errorf("expected one value of %s, got %q", k, v)
			}
			got[k] = v[0]
		}
		return got
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("expected a JSON object of strings, got %v: %s", err, body)
	}
	return got
}

func TestHTTPSenderSends(t *testing.T) {
	t.Setenv("OTP_TEST_SMS_TOKEN", "tok-123")
	t.Setenv("OTP_TEST_SMS_PATH", "/sms/send")
	tests := []struct {
		format      string
		contentType string
	}{
		{"", "application/json"},
		{"json", "application/json"},
		{"form", "application/x-www-form-urlencoded"},
	}
	msgs := []struct {
		name string
		msg  caddyotp.SMS
		want map[string]string // without reference
	}{
		{"every field", caddyotp.SMS{To: "+447400123456", Text: trickyText, SenderID: "ACME", OriginationNumber: "+447400100200",
			MaxPriceUSD: 0.05, Template: "login", TTL: time.Minute},
			map[string]string{"to": "+447400123456", "text": trickyText, "sender_id": "ACME", "origination_number": "+447400100200"}},
		{"nothing optional", caddyotp.SMS{To: "+12025550123", Text: "123456 is your code"},
			map[string]string{"to": "+12025550123", "text": "123456 is your code"}},
	}
	for _, tt := range tests {
		for _, m := range msgs {
			t.Run(tt.format+" "+m.name, func(t *testing.T) {
				r := newReceiver(t, answering(http.StatusOK, `{}`))
				s, _ := senderFor(t, httpsender.HTTPSender{
					URL:    r.URL + "{env.OTP_TEST_SMS_PATH}?account=7",
					Format: tt.format,
					Headers: http.Header{
						"Authorization": {"Bearer {env.OTP_TEST_SMS_TOKEN}"},
						"x-tenant":      {"acme", "eu"},
					},
				})
				id, err := s.Send(context.Background(), m.msg)
				if err != nil {
					t.Fatalf("expected a send, got %v", err)
				}
				got := r.received()
				if len(got) != 1 {
					t.Fatalf("expected 1 request, got %d", len(got))
				}
				req := got[0]
				if req.Method != http.MethodPost || req.Path != "/sms/send" || req.Query != "account=7" {
					t.Errorf("expected POST /sms/send?account=7, got %s %s?%s", req.Method, req.Path, req.Query)
				}
				if ct := req.Header.Get("Content-Type"); ct != tt.contentType {
					t.Errorf("expected content type %s, got %s", tt.contentType, ct)
				}
				if a := req.Header.Get("Authorization"); a != "Bearer tok-123" {
					t.Errorf("expected the token from the environment, got %q", a)
				}
				if v := req.Header.Values("X-Tenant"); !reflect.DeepEqual(v, []string{"acme", "eu"}) {
					t.Errorf("expected X-Tenant acme and eu, got %q", v)
				}
				if sig := req.Header.Get("X-OTP-Signature"); sig != "" {
					t.Errorf("expected no signature without sign, got %q", sig)
				}
				body := decodeBody(t, tt.format, req.Body)
				if !hex32.MatchString(body["reference"]) || id != body["reference"] {
					t.Errorf("expected a reference of 32 hex digits as the message id %q, got %q", id, body["reference"])
				}
				delete(body, "reference")
				if !reflect.DeepEqual(body, m.want) {
					t.Errorf("expected %v, got %v", m.want, body)
				}
			})
		}
	}
}

func TestHTTPSenderReferencePerAttempt(t *testing.T) {
	r := newReceiver(t, answering(http.StatusOK, `{}`))
	s, _ := senderFor(t, httpsender.HTTPSender{URL: r.URL})
	msg := caddyotp.SMS{To: "+447400123456", Text: "123456"}
	first, err1 := s.Send(context.Background(), msg)
	second, err2 := s.Send(context.Background(), msg)
	if err1 != nil || err2 != nil || first == second {
		t.Errorf("expected two attempts with two references, got %q, %q (%v, %v)", first, second, err1, err2)
	}
}

// TestHTTPSenderSignature: the receiver's few lines (verifySignature, in the example)
// verify the signature over the exact body, and refuse it once their clock is 6 minutes on.
func TestHTTPSenderSignature(t *testing.T) {
	secret := "a-secret-of-at-least-16-bytes"
	t.Setenv("OTP_TEST_SIGNING_SECRET", secret)
	for _, format := range []string{"json", "form"} {
		t.Run(format, func(t *testing.T) {
			var mu sync.Mutex
			var bodies []string
			var skew atomic.Int64 // how far the receiver's clock is ahead
			now := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
			receiver := httptest.NewServer(signedReceiver([]byte(secret), now, func(b []byte, _ string) {
				mu.Lock()
				bodies = append(bodies, string(b))
				mu.Unlock()
			}))
			t.Cleanup(receiver.Close)
			s, _ := senderFor(t, httpsender.HTTPSender{URL: receiver.URL, Format: format, Sign: "{env.OTP_TEST_SIGNING_SECRET}"})
			msg := caddyotp.SMS{To: "+447400123456", Text: trickyText, SenderID: "ACME"}

			id, err := s.Send(context.Background(), msg)
			if err != nil {
				t.Fatalf("expected the signed request accepted, got %v", err)
			}
			mu.Lock()
			accepted := append([]string(nil), bodies...)
			mu.Unlock()
			if len(accepted) != 1 || decodeBody(t, format, []byte(accepted[0]))["reference"] != id {
				t.Fatalf("expected one accepted body with reference %s, got %q", id, accepted)
			}

			skew.Store(int64(6 * time.Minute))
			_, err = s.Send(context.Background(), msg)
			se := sendertest.AsSendError(t, err)
			if se.Code != "HTTP401" || se.Retryable || se.MaybeDelivered {
				t.Errorf("expected the stale request refused, a definite HTTP401, got %+v", se)
			}
		})
	}
}

func TestHTTPSenderSignatureHeader(t *testing.T) {
	r := newReceiver(t, answering(http.StatusOK, `{}`))
	secret := "0123456789abcdef" // 16 bytes, the least
	s, _ := senderFor(t, httpsender.HTTPSender{URL: r.URL, Sign: secret})
	before := time.Now().Unix()
	if _, err := s.Send(context.Background(), caddyotp.SMS{To: "+447400123456", Text: "123456"}); err != nil {
		t.Fatal(err)
	}
	req := r.received()[0]
	header := req.Header.Get("X-OTP-Signature")
	m := regexp.MustCompile(`^t=([0-9]+),v1=[0-9a-f]{64}$`).FindStringSubmatch(header)
	if m == nil {
		t.Fatalf("expected t=<unix seconds>,v1=<64 hex digits>, got %q", header)
	}
	if ts, _ := strconv.ParseInt(m[1], 10, 64); ts < before || ts > time.Now().Unix() {
		t.Errorf("expected the time of sending, from %d, got %d", before, ts)
	}
	if err := verifySignature([]byte(secret), header, req.Body, time.Now()); err != nil {
		t.Errorf("expected the signature over the body received to verify, got %v", err)
	}
}

func TestHTTPSenderStatuses(t *testing.T) {
	tests := []struct {
		status    int
		sent      bool
		retryable bool
	}{
		{200, true, false},
		{201, true, false},
		{202, true, false},
		{302, false, false},
		{400, false, false},
		{401, false, false},
		{429, false, true},
		{500, false, true},
		{503, false, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			elsewhere := newReceiver(t, answering(http.StatusOK, `{"id":"elsewhere"}`))
			r := newReceiver(t, func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Location", elsewhere.URL)
				w.WriteHeader(tt.status)
				io.WriteString(w, `{"id":"here"}`) //nolint:errcheck // a test answer
			})
			s, _ := senderFor(t, httpsender.HTTPSender{URL: r.URL, MessageIDField: "/id"})
			id, err := s.Send(context.Background(), caddyotp.SMS{To: "+447400123456", Text: "123456"})
			if n := len(elsewhere.received()); n != 0 {
				t.Errorf("expected no request to the Location, got %d", n)
			}
			if tt.sent {
				if err != nil || id != "here" {
					t.Errorf("expected sent with id here, got %q (%v)", id, err)
				}
				return
			}
			se := sendertest.AsSendError(t, err)
			want := fmt.Sprintf("HTTP%d", tt.status)
			if id != "" || se.Code != want || se.Retryable != tt.retryable || se.MaybeDelivered {
				t.Errorf("expected %s, retryable %v, not maybe delivered, got %+v (id %q)", want, tt.retryable, se, id)
			}
			if !strings.Contains(se.Error(), "127.0.0.1") || !strings.Contains(se.Error(), fmt.Sprint(tt.status)) {
				t.Errorf("expected the error to name the receiver and the status, got %v", se)
			}
		})
	}
}

// hanging is a receiver that takes the request and never answers, until the client goes.
func hanging(t *testing.T) *receiver {
	return newReceiver(t, func(_ http.ResponseWriter, req *http.Request) { <-req.Context().Done() })
}

func TestHTTPSenderNoAnswer(t *testing.T) {
	msg := caddyotp.SMS{To: "+447400123456", Text: "123456"}

	t.Run("timeout", func(t *testing.T) {
		r := hanging(t)
		s, _ := senderFor(t, httpsender.HTTPSender{URL: r.URL, Timeout: caddy.Duration(time.Second)})
		start := time.Now()
		_, err := s.Send(context.Background(), msg)
		checkSendError(t, err, "Timeout", true, true)
		if elapsed := time.Since(start); elapsed < time.Second || elapsed > 5*time.Second {
			t.Errorf("expected the 1s timeout to cut the attempt, got %v", elapsed)
		}
		if n := len(r.received()); n != 1 {
			t.Errorf("expected the request to have reached the receiver, got %d", n)
		}
	})

	t.Run("the caller's deadline", func(t *testing.T) {
		r := hanging(t)
		s, _ := senderFor(t, httpsender.HTTPSender{URL: r.URL})
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err := s.Send(ctx, msg)
		checkSendError(t, err, "DeadlineExceeded", false, true)
	})

	t.Run("connection lost", func(t *testing.T) {
		r := newReceiver(t, func(w http.ResponseWriter, _ *http.Request) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		})
		s, _ := senderFor(t, httpsender.HTTPSender{URL: r.URL})
		_, err := s.Send(context.Background(), msg)
		checkSendError(t, err, "ConnectionError", true, true)
	})

	t.Run("connection refused", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		s, _ := senderFor(t, httpsender.HTTPSender{URL: "http://" + addr + "/send?key=secret-in-query"})
		_, err = s.Send(context.Background(), msg)
		checkSendError(t, err, "ConnectionError", true, false)
		if strings.Contains(err.Error(), "secret-in-query") || !strings.Contains(err.Error(), addr+"/send") {
			t.Errorf("expected the error to name the url without its query, got %v", err)
		}
	})
}

func TestHTTPSenderNotProvisioned(t *testing.T) {
	_, err := new(httpsender.HTTPSender).Send(context.Background(), caddyotp.SMS{To: "+447400123456", Text: "123456"})
	checkSendError(t, err, "NotProvisioned", false, false)
}

// checkSendError fails t unless err is a *caddyotp.SendError of code, retryable and maybe
// delivered as given.
func checkSendError(t *testing.T, err error, code string, retryable, maybe bool) {
	t.Helper()
	se := sendertest.AsSendError(t, err)
	if se.Code != code || se.Retryable != retryable || se.MaybeDelivered != maybe {
		t.Errorf("expected %s, retryable %v, maybe delivered %v, got %s, %v, %v (%v)",
			code, retryable, maybe, se.Code, se.Retryable, se.MaybeDelivered, err)
	}
}

func TestHTTPSenderProvisionDefaults(t *testing.T) {
	s, _ := senderFor(t, httpsender.HTTPSender{URL: "https://sms.example.com/send"})
	if s.Format != "json" || s.Timeout != caddy.Duration(5*time.Second) {
		t.Errorf("expected format json and timeout 5s, got %q and %v", s.Format, time.Duration(s.Timeout))
	}
}

// TestHTTPSenderProvisionErrors: every bad setting fails at provision with an error naming
// it, and Cleanup after that works. Nothing is sent anywhere: provision makes no request.
func TestHTTPSenderProvisionErrors(t *testing.T) {
	t.Setenv("OTP_TEST_SHORT_SECRET", "fifteen-bytes!!")
	t.Setenv("OTP_TEST_FTP_URL", "ftp://files.example.com/sms")
	ok := "https://sms.example.com/send"
	tests := []struct {
		name string
		cfg  httpsender.HTTPSender
		want string
	}{
		{"no url", httpsender.HTTPSender{}, "url is required"},
		{"url from an unset variable", httpsender.HTTPSender{URL: "{env.OTP_TEST_UNSET_URL}"}, "url is required"},
		{"ftp url", httpsender.HTTPSender{URL: "ftp://files.example.com/sms"}, `url must start with http:// or https://, got scheme "ftp"`},
		{"ftp url from a variable", httpsender.HTTPSender{URL: "{env.OTP_TEST_FTP_URL}"}, `url must start with http:// or https://`},
		{"url without a scheme", httpsender.HTTPSender{URL: "sms.example.com/send"}, "url must start with http:// or https://"},
		{"url without a host", httpsender.HTTPSender{URL: "https:///send"}, "url has no host"},
		{"url not a URL", httpsender.HTTPSender{URL: "http://[::1/send"}, "url is not a valid URL"},
		{"Host header", httpsender.HTTPSender{URL: ok, Headers: http.Header{"Host": {"x"}}}, "header Host is set by the sender"},
		{"content-length header", httpsender.HTTPSender{URL: ok, Headers: http.Header{"content-length": {"1"}}}, "header Content-Length is set by the sender"},
		{"Content-Type header", httpsender.HTTPSender{URL: ok, Headers: http.Header{"Content-Type": {"text/plain"}}}, "header Content-Type is set by the sender"},
		{"signature header", httpsender.HTTPSender{URL: ok, Headers: http.Header{"x-otp-signature": {"t=1,v1=00"}}}, "header X-OTP-Signature is set by the sender"},
		{"header from an unset variable", httpsender.HTTPSender{URL: ok, Headers: http.Header{"Authorization": {"{env.OTP_TEST_UNSET_TOKEN}"}}}, "header Authorization is empty"},
		{"header name not a token", httpsender.HTTPSender{URL: ok, Headers: http.Header{"Bad Name": {"x"}}}, `header name "Bad Name" is not a valid header name`},
		{"header value with a newline", httpsender.HTTPSender{URL: ok, Headers: http.Header{"X-Key": {"a\r\nX-Evil: 1"}}}, "header X-Key has a control character"},
		{"format", httpsender.HTTPSender{URL: ok, Format: "xml"}, `format must be json or form, got "xml"`},
		{"short secret", httpsender.HTTPSender{URL: ok, Sign: "short"}, "sign must be a secret of at least 16 bytes once its placeholders are resolved, got 5"},
		{"secret from an unset variable", httpsender.HTTPSender{URL: ok, Sign: "{env.OTP_TEST_UNSET_SECRET}"}, "sign must be a secret of at least 16 bytes once its placeholders are resolved, got 0"},
		{"15-byte secret from a variable", httpsender.HTTPSender{URL: ok, Sign: "{env.OTP_TEST_SHORT_SECRET}"}, "sign must be a secret of at least 16 bytes once its placeholders are resolved, got 15"},
		{"message id field without /", httpsender.HTTPSender{URL: ok, MessageIDField: "id"}, `message_id_field "id" is not a JSON pointer`},
		{"message id field bad escape", httpsender.HTTPSender{URL: ok, MessageIDField: "/a~2"}, `message_id_field "/a~2" is not a JSON pointer`},
		{"price field without /", httpsender.HTTPSender{URL: ok, PriceField: "data.price"}, `price_field "data.price" is not a JSON pointer`},
		{"price field bad escape", httpsender.HTTPSender{URL: ok, PriceField: "/price~"}, `price_field "/price~" is not a JSON pointer`},
		{"timeout too short", httpsender.HTTPSender{URL: ok, Timeout: caddy.Duration(500 * time.Millisecond)}, "timeout must be from 1s to 30s, got 500ms"},
		{"timeout too long", httpsender.HTTPSender{URL: ok, Timeout: caddy.Duration(31 * time.Second)}, "timeout must be from 1s to 30s, got 31s"},
		{"negative timeout", httpsender.HTTPSender{URL: ok, Timeout: caddy.Duration(-time.Second)}, "timeout must be from 1s to 30s, got -1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.cfg
			err := s.Provision(testcaddy.Context(t))
			testcaddy.CheckErr(t, err, "http sender: "+tt.want)
			if err := s.Cleanup(); err != nil {
				t.Errorf("expected cleanup after a failed provision to work, got %v", err)
			}
			if _, err := s.Send(context.Background(), caddyotp.SMS{To: "+447400123456", Text: "123456"}); err == nil {
				t.Error("expected a sender that failed to provision to send nothing")
			}
		})
	}
}

// TestHTTPSenderSecretsStayOut: errors about a url or header do not repeat their values,
// which often hold a token.
func TestHTTPSenderSecretsStayOut(t *testing.T) {
	for _, cfg := range []httpsender.HTTPSender{
		{URL: "ftp://user:tok-secret@files.example.com/?key=tok-secret"},
		{URL: "https://sms.example.com", Headers: http.Header{"X-Key": {"tok-secret\n"}}},
		{URL: "https://sms.example.com", Sign: "tok-secret"},
	} {
		err := cfg.Provision(testcaddy.Context(t))
		if err == nil || strings.Contains(err.Error(), "tok-secret") {
			t.Errorf("expected an error without the secret, got %v", err)
		}
	}
}

func TestHTTPSenderJSONRoundTrip(t *testing.T) {
	cfg := httpsender.HTTPSender{
		URL:            "https://sms.example.com/send",
		Headers:        http.Header{"Authorization": {"Bearer {env.SMS_TOKEN}"}, "X-Tenant": {"acme", "eu"}},
		Format:         "form",
		Sign:           "{env.SMS_SIGNING_SECRET}",
		MessageIDField: "/messages/0/id",
		PriceField:     "/a~1b",
		Timeout:        caddy.Duration(3 * time.Second),
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"url":"https://sms.example.com/send","headers":{"Authorization":["Bearer {env.SMS_TOKEN}"],"X-Tenant":["acme","eu"]},` +
		`"format":"form","sign":"{env.SMS_SIGNING_SECRET}","message_id_field":"/messages/0/id","price_field":"/a~1b","timeout":3000000000}`
	if string(raw) != want {
		t.Errorf("expected %s, got %s", want, raw)
	}
	var back httpsender.HTTPSender
	if err := json.Unmarshal(raw, &back); err != nil || !reflect.DeepEqual(back, cfg) {
		t.Errorf("expected %+v back, got %+v (%v)", cfg, back, err)
	}
	if raw, _ := json.Marshal(httpsender.HTTPSender{}); string(raw) != "{}" {
		t.Errorf("expected an empty config to marshal to {}, got %s", raw)
	}
}
