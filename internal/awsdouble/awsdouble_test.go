package awsdouble

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// serve is a server answering with the handler h makes for it, until the test ends.
func serve(t *testing.T, h func(s *Server) http.HandlerFunc) *Server {
	t.Helper()
	s, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Serve(h(s))
	t.Cleanup(s.Close)
	return s
}

// answer is a handler that answers every request with h.
func answer(h http.HandlerFunc) func(*Server) http.HandlerFunc {
	return func(*Server) http.HandlerFunc { return h }
}

func TestListenOnLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0", "[::1]:0", "localhost:0", "nonsense"} {
		if s, err := Listen(addr); err == nil {
			s.Close()
			t.Errorf("expected %s refused, got a server at %s", addr, s.URL())
		}
	}
	s := serve(t, answer(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "up") })) //nolint:errcheck
	if !strings.HasPrefix(s.URL(), "http://127.0.0.1:") {
		t.Errorf("expected http://127.0.0.1:port, got %s", s.URL())
	}
	resp, err := http.Get(s.URL())
	if err != nil {
		t.Fatalf("expected an answer, got %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "up" {
		t.Errorf("expected the handler's answer, got %q", body)
	}
}

func TestCloseTwiceAndUnserved(t *testing.T) {
	s := serve(t, answer(func(http.ResponseWriter, *http.Request) {}))
	s.Close()
	s.Close() // twice is safe
	select {
	case <-s.Closing():
	default:
		t.Error("expected Closing closed after Close, it is open")
	}
	if _, err := http.Get(s.URL()); err == nil {
		t.Error("expected a closed server to refuse, got an answer")
	}

	unserved, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	unserved.Close() // before Serve: the listener is let go
	if _, err := http.Get(unserved.URL()); err == nil {
		t.Error("expected a server closed before Serve to refuse, got an answer")
	}
}

func TestHang(t *testing.T) {
	t.Run("client gives up", func(t *testing.T) {
		s := serve(t, func(s *Server) http.HandlerFunc { return s.Hang })
		client := &http.Client{Timeout: 200 * time.Millisecond}
		start := time.Now()
		if _, err := client.Get(s.URL()); err == nil {
			t.Fatal("expected a timeout, got an answer")
		}
		if elapsed := time.Since(start); elapsed > 2*time.Second {
			t.Errorf("expected the client's timeout to end it, got %v", elapsed)
		}
	})
	t.Run("server closes", func(t *testing.T) {
		arrived := make(chan struct{})
		s := serve(t, func(s *Server) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				close(arrived)
				s.Hang(w, r)
			}
		})
		done := make(chan error, 1)
		go func() {
			resp, err := http.Get(s.URL())
			if err == nil {
				resp.Body.Close()
			}
			done <- err
		}()
		select {
		case <-arrived:
		case <-time.After(5 * time.Second):
			t.Fatal("expected the request to arrive, none within 5s")
		}
		s.Close()
		select {
		case err := <-done:
			if err == nil {
				t.Error("expected the hung request to fail, got an answer")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("expected Close to release the hung request, got none within 5s")
		}
	})
}

func TestDropConnection(t *testing.T) {
	s := serve(t, answer(func(w http.ResponseWriter, r *http.Request) { DropConnection(w) }))
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(s.URL())
	if err == nil {
		resp.Body.Close()
		t.Fatalf("expected the connection dropped, got status %d", resp.StatusCode)
	}
	if !strings.Contains(err.Error(), "EOF") {
		t.Errorf("expected an EOF, got %v", err)
	}
}

// fakeDouble is the smallest double Start can run.
type fakeDouble struct{ *Server }

func listenFake(addr string) (fakeDouble, error) {
	s, err := Listen(addr)
	if err != nil {
		return fakeDouble{}, err
	}
	s.Serve(http.NotFoundHandler())
	return fakeDouble{s}, nil
}

func TestStart(t *testing.T) {
	var d fakeDouble
	t.Run("inner", func(t *testing.T) {
		d = Start(t, "fake double", listenFake)
		if !strings.HasPrefix(d.URL(), "http://127.0.0.1:") {
			t.Errorf("expected a double on 127.0.0.1, got %s", d.URL())
		}
	})
	select {
	case <-d.Closing():
	default:
		t.Error("expected the double closed when its test ended, it is open")
	}
}

func TestRefusedURL(t *testing.T) {
	url := RefusedURL(t)
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Errorf("expected a URL on 127.0.0.1, got %s", url)
	}
	if _, err := http.Get(url); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("expected the connection refused, got %v", err)
	}
}
