package httpsender_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/httpsender"
)

// verifySignature is what a receiver of the http sender runs before trusting a request:
// header is its X-OTP-Signature, body its exact bytes, now the receiver's clock. It refuses
// a timestamp more than 5 minutes away, so that a captured request cannot be replayed.
func verifySignature(secret []byte, header string, body []byte, now time.Time) error {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		if v, ok := strings.CutPrefix(part, "t="); ok {
			ts = v
		} else if v, ok := strings.CutPrefix(part, "v1="); ok {
			sig = v
		}
	}
	sent, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.New("no timestamp")
	}
	if age := now.Sub(time.Unix(sent, 0)); age > 5*time.Minute || age < -5*time.Minute {
		return errors.New("stale timestamp")
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	got, err := hex.DecodeString(sig)
	if err != nil || !hmac.Equal(got, mac.Sum(nil)) {
		return errors.New("bad signature")
	}
	return nil
}

// signedReceiver is a receiver's handler: it answers 401 to a request whose signature does
// not verify at now(), else hands the body to accept and answers 200.
func signedReceiver(secret []byte, now func() time.Time, accept func(body []byte, signature string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
		if err != nil {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		sig := r.Header.Get("X-OTP-Signature")
		if err := verifySignature(secret, sig, body, now()); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		accept(body, sig)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"id":"msg-1"}`)
	})
}

// Example_verifySignature is a receiver checking the sender's signature: a request sent
// now verifies; the same request 6 minutes later, or with its body changed, does not.
func Example_verifySignature() {
	secret := []byte("a-secret-of-at-least-16-bytes")
	type request struct {
		body []byte
		sig  string
	}
	accepted := make(chan request, 1)
	receiver := httptest.NewServer(signedReceiver(secret, time.Now, func(b []byte, s string) { accepted <- request{b, s} }))
	defer receiver.Close()

	s := &httpsender.HTTPSender{URL: receiver.URL, Sign: string(secret), MessageIDField: "/id"}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	if err := s.Provision(ctx); err != nil {
		fmt.Println(err)
		return
	}
	defer s.Cleanup()
	id, err := s.Send(context.Background(), caddyotp.SMS{To: "+447400123456", Text: "123456 is your code"})
	fmt.Println("sent:", id, err)
	if err != nil {
		return
	}
	req := <-accepted
	body, sig := req.body, req.sig

	later := time.Now().Add(6 * time.Minute)
	fmt.Println("replayed 6 minutes later:", verifySignature(secret, sig, body, later))
	changed := bytes.Replace(body, []byte("+447400123456"), []byte("+447400999999"), 1)
	fmt.Println("body changed:", verifySignature(secret, sig, changed, time.Now()))
	// Output:
	// sent: msg-1 <nil>
	// replayed 6 minutes later: stale timestamp
	// body changed: bad signature
}
