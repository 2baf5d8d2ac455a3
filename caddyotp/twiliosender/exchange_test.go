package twiliosender

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/internal/awsx/awsxtest"
	"github.com/caddyotp/caddyotp/internal/awsdouble"
	"github.com/caddyotp/caddyotp/internal/testcaddy"
	"github.com/caddyotp/caddyotp/internal/twiliodouble"
)

// serve starts h on 127.0.0.1 for the test and returns its URL.
func serve(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	srv, err := awsdouble.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Serve(h)
	t.Cleanup(srv.Close)
	return srv.URL()
}

// TestTwilioSenderFollowsNoRedirect: a 3xx is a definite failure and the message, and the
// credentials, go nowhere else.
func TestTwilioSenderFollowsNoRedirect(t *testing.T) {
	d := twiliodouble.New(t)
	for _, body := range []string{"", `{"sid":"SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}`} {
		proxy := serve(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Location", d.URL()+r.URL.Path)
			w.WriteHeader(http.StatusTemporaryRedirect)
			io.WriteString(w, body) //nolint:errcheck
		})
		s := senderAt(t, proxy, withToken("+15005550006"))
		_, err := s.Send(context.Background(), caddyotp.SMS{To: "+447400123456", Text: "code 1"})
		awsxtest.CheckSendError(t, err, "HTTP307", false, false)
	}
	if d.Attempts() != 0 {
		t.Errorf("expected no request at the redirect's target, got %d", d.Attempts())
	}
}

// TestTwilioSenderUnreadableAnswer: a 2xx means Twilio created the message, so an answer
// that cannot be read, or has no sid, is maybe delivered and not to be tried again.
func TestTwilioSenderUnreadableAnswer(t *testing.T) {
	for _, tt := range []struct{ name, body, code string }{
		{"not JSON", "<html>created</html>", "UnreadableAnswer"},
		{"cut short", `{"sid":"SMaaaa`, "UnreadableAnswer"},
		{"no sid", `{"status":"queued"}`, "MissingSid"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			endpoint := serve(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusCreated)
				io.WriteString(w, tt.body) //nolint:errcheck
			})
			s := senderAt(t, endpoint, withToken("+15005550006"))
			_, err := s.Send(context.Background(), caddyotp.SMS{To: "+447400123456", Text: "code 1"})
			awsxtest.CheckSendError(t, err, tt.code, false, true)
		})
	}
}

// recordingTransport answers every request with status and body, noting the request and
// whether the answer's body was closed.
type recordingTransport struct {
	mu     sync.Mutex
	status int
	body   string
	req    *http.Request
	closed bool
}

func (rt *recordingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.req = r
	return &http.Response{StatusCode: rt.status, Header: http.Header{"Content-Type": {"application/json"}},
		Body: &closeNoter{Reader: strings.NewReader(rt.body), closed: &rt.closed, mu: &rt.mu}, Request: r}, nil
}

type closeNoter struct {
	io.Reader
	mu     *sync.Mutex
	closed *bool
}

func (c *closeNoter) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	*c.closed = true
	return nil
}

// TestExchangeDefaultEndpoint: without an endpoint the library's request goes to Twilio's
// own host, whatever TWILIO_EDGE and TWILIO_REGION say, and an error answer's body, which
// the library leaves open, is closed.
func TestExchangeDefaultEndpoint(t *testing.T) {
	t.Setenv("TWILIO_EDGE", "sydney")
	t.Setenv("TWILIO_REGION", "au1")
	s := &TwilioSender{AccountSID: twiliodouble.AccountSID, AuthToken: twiliodouble.AuthToken, From: "+15005550006"}
	rt := &recordingTransport{status: 400, body: `{"code":21211,"message":"bad","status":400}` + "\n"}
	provisionWith(t, s, rt)
	_, err := s.Send(context.Background(), caddyotp.SMS{To: "+447400123456", Text: "code 1"})
	awsxtest.CheckSendError(t, err, "21211", false, false)
	want := "https://api.twilio.com/2010-04-01/Accounts/" + twiliodouble.AccountSID + "/Messages.json"
	if rt.req == nil || rt.req.URL.String() != want {
		t.Fatalf("expected a request to %s, got %v", want, rt.req)
	}
	user, pass, ok := rt.req.BasicAuth()
	if !ok || user != twiliodouble.AccountSID || pass != twiliodouble.AuthToken {
		t.Errorf("expected basic auth with the account and its token, got %q %v", user, ok)
	}
	if !rt.closed {
		t.Error("expected the error answer's body closed")
	}
}

// provisionWith provisions s and makes its client send through rt.
func provisionWith(t *testing.T, s *TwilioSender, rt http.RoundTripper) {
	t.Helper()
	testcaddy.Provision(t, s)
	s.client.Transport = rt
}

// TestExchangeRoundTrip: the exchange sends to the endpoint with the request's path and
// query, ties the request to the caller's context, and notes the answer's status.
func TestExchangeRoundTrip(t *testing.T) {
	rt := &recordingTransport{status: 201, body: "{}"}
	caller, cancel := context.WithCancel(context.Background())
	ep, _ := url.Parse("http://127.0.0.1:4567")
	ex := &exchange{ctx: caller, base: rt, endpoint: ep}
	req, _ := http.NewRequest(http.MethodPost, "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json?x=1", strings.NewReader("To=1"))
	resp, err := ex.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if got := rt.req.URL.String(); got != "http://127.0.0.1:4567/2010-04-01/Accounts/AC1/Messages.json?x=1" || rt.req.Host != "" {
		t.Errorf("expected the endpoint with the path and query kept, got %s (Host %q)", got, rt.req.Host)
	}
	if req.URL.Host != "api.twilio.com" {
		t.Errorf("expected the library's request left as it was, got %s", req.URL)
	}
	if ex.status != 201 || resp.StatusCode != 201 {
		t.Errorf("expected status 201 noted, got %d", ex.status)
	}
	sent := rt.req.Context()
	if sent.Err() != nil {
		t.Fatal("expected the request's context alive")
	}
	cancel()
	select {
	case <-sent.Done():
	case <-time.After(time.Second):
		t.Fatal("expected the caller's cancel to end the request")
	}
	ex.finish()
	if !rt.closed {
		t.Error("expected finish to close the answer's body")
	}
}
