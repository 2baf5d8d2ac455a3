package httpsend

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/caddyotp"
)

func TestStatusError(t *testing.T) {
	for _, tt := range []struct {
		status    int
		code      string
		wantCode  string
		retryable bool
	}{
		{429, "", "HTTP429", true},
		{500, "", "HTTP500", true},
		{503, "20429", "20429", true},
		{400, "21211", "21211", false},
		{401, "", "HTTP401", false},
		{302, "", "HTTP302", false},
	} {
		e := StatusError(tt.status, tt.code, errors.New("x"))
		if e.Code != tt.wantCode || e.Retryable != tt.retryable || e.MaybeDelivered {
			t.Errorf("%d: expected code %s retryable %v and not maybe delivered, got %+v", tt.status, tt.wantCode, tt.retryable, e)
		}
	}
}

// TestTransportError drives real exchanges: a refused connection billed nothing; a
// timeout and a connection dropped after the request may have been sent.
func TestTransportError(t *testing.T) {
	ctx := context.Background()
	refused := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		return "http://" + addr
	}()
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		time.Sleep(500 * time.Millisecond)
	}))
	defer hang.Close()
	drop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
	}))
	defer drop.Close()

	for _, tt := range []struct {
		name      string
		url       string
		code      string
		maybe     bool
		retryable bool
	}{
		{"refused", refused, "ConnectionError", false, true},
		{"timeout", hang.URL, "Timeout", true, true},
		{"dropped", drop.URL, "ConnectionError", true, true},
	} {
		c := Client(100 * time.Millisecond)
		_, err := c.Post(tt.url, "text/plain", nil)
		if err == nil {
			t.Fatalf("%s: expected an error", tt.name)
		}
		e := TransportError(ctx, err)
		if e.Code != tt.code || e.MaybeDelivered != tt.maybe || e.Retryable != tt.retryable {
			t.Errorf("%s: expected %s maybe=%v retryable=%v, got %+v", tt.name, tt.code, tt.maybe, tt.retryable, e)
		}
		var _ *caddyotp.SendError = e
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if e := TransportError(cctx, context.Canceled); e.Code != "Canceled" || e.Retryable || !e.MaybeDelivered {
		t.Errorf("caller gone: expected Canceled, not retryable, maybe delivered, got %+v", e)
	}
}

func TestClientFollowsNoRedirect(t *testing.T) {
	elsewhere := false
	other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { elsewhere = true }))
	defer other.Close()
	srv := httptest.NewServer(http.RedirectHandler(other.URL, http.StatusTemporaryRedirect))
	defer srv.Close()
	resp, err := Client(time.Second).Post(srv.URL, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect || elsewhere {
		t.Errorf("expected the 307 back and no request elsewhere, got %d (elsewhere %v)", resp.StatusCode, elsewhere)
	}
}
