package awsdouble

import (
	"io"
	"net/http"
	"testing"
)

func TestRaw(t *testing.T) {
	var got *http.Request
	var gotBody string
	s := serve(t, answer(func(w http.ResponseWriter, r *http.Request) {
		got = r
		b, _ := io.ReadAll(r.Body)
		gotBody = string(b)
		w.WriteHeader(http.StatusTeapot)
		io.WriteString(w, "answer") //nolint:errcheck
	}))

	status, body, err := Raw{Target: "AmazonSQS.ReceiveMessage", ContentType: JSON10, Authorization: "AWS4-HMAC-SHA256 x",
		Body: `{"QueueUrl":"q"}`}.Do(http.DefaultClient, s.URL())
	if err != nil || status != http.StatusTeapot || body != "answer" {
		t.Fatalf("expected 418 answer, got %d %q (%v)", status, body, err)
	}
	if got.Method != http.MethodPost || got.URL.Path != "/" || gotBody != `{"QueueUrl":"q"}` {
		t.Errorf("expected a POST to / with the body, got %s %s %q", got.Method, got.URL.Path, gotBody)
	}
	for k, want := range map[string]string{"X-Amz-Target": "AmazonSQS.ReceiveMessage", "Content-Type": JSON10, "Authorization": "AWS4-HMAC-SHA256 x"} {
		if v := got.Header.Get(k); v != want {
			t.Errorf("expected %s %q, got %q", k, want, v)
		}
	}

	if _, _, err := (Raw{Method: http.MethodGet, Path: "/other"}).Do(http.DefaultClient, s.URL()); err != nil {
		t.Fatal(err)
	}
	if got.Method != http.MethodGet || got.URL.Path != "/other" {
		t.Errorf("expected a GET to /other, got %s %s", got.Method, got.URL.Path)
	}
	for _, k := range []string{"X-Amz-Target", "Content-Type", "Authorization"} {
		if _, ok := got.Header[k]; ok {
			t.Errorf("expected no %s header when empty, got %q", k, got.Header.Get(k))
		}
	}
}
