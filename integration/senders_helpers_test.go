package integration

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/internal/testnet"
	"github.com/caddyotp/caddyotp/internal/twiliodouble"
)

// signingSecret is the http sender's `sign` secret in these tests.
const signingSecret = "integration-signing-secret-0123456789"

// messagingService is the Twilio Messaging Service SID of these tests.
const messagingService = "MG00112233445566778899aabbccddeeff"

// sendersCaddyfile is one instance on the memory store with the API under /otp/ and the
// sender given (its whole `sender …` block): the template login sends without a resend
// interval and without the ip limit, at smsPrice per part.
func sendersCaddyfile(port int, sender string) string {
	return fmt.Sprintf(`{
	otp {
		secret %s
		store memory
		%s
		prices {
			default %v
		}
		budget {
			daily %d
		}
		template login {
			key %s
			resend 0s
			ttl 5m
			limit ip 0 1h
		}
	}
}

%s {
	handle_path /otp/* {
		otp_api
	}
}
`, sharedSecret, sender, smsPrice, dailyBudget, templateKey, testnet.Site(port))
}

// startSenders runs one instance with the sender block given and returns it and its base URL.
func startSenders(t testing.TB, sender string) (*caddyProc, string) {
	t.Helper()
	port := testnet.FreePort(t)
	return startCaddy(t, sendersCaddyfile(port, sender)), testnet.Site(port)
}

// twilioBlock is a `sender twilio` block for the double d, through the Messaging Service.
func twilioBlock(d *twiliodouble.Double) string {
	return fmt.Sprintf(`sender twilio {
			account_sid %s
			auth_token %s
			messaging_service_sid %s
			endpoint %s
		}`, twiliodouble.AccountSID, twiliodouble.AuthToken, messagingService, d.URL())
}

// verifySignature is the receiver's check of X-OTP-Signature, as the README gives it:
// header is the header's value, body the exact bytes received, now the receiver's clock.
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

// How the receiver answers a request that passes its signature check.
type receiverMode int

const (
	receiverAccept receiverMode = iota // 200, {"result":{"id":"rcv-<n>","price":receiverPrice}}
	receiverFail                       // 500
	receiverHang                       // no answer until the client gives up
)

// receiverPrice is the price, in USD, a receiver's 200 answer carries at /result/price.
const (
	receiverPrice      = 0.0123
	receiverPriceMicro = 12_300
)

// receivedRequest is one request the receiver got.
type receivedRequest struct {
	contentType string
	body        []byte
	refused     string // why the signature check refused it; "" when it passed or was not made
	status      int    // the status answered; 0 when it hung
}

// smsReceiver is the receiving end of the http sender, in the test process on 127.0.0.1:
// with a secret, it checks X-OTP-Signature as the README tells receivers to, on its own
// clock (which a test can put ahead), and answers 401 to a request that fails it. It
// records every request.
type smsReceiver struct {
	srv    *httptest.Server
	secret []byte // nil: no signature check

	mu       sync.Mutex
	ahead    time.Duration // how far the receiver's clock is ahead
	mode     receiverMode
	accepted int // message ids handed out
	requests []receivedRequest
}

// newReceiver starts a receiver that checks signatures with secret (none when nil) and
// answers as mode; it is closed when the test ends.
func newReceiver(t testing.TB, secret []byte, mode receiverMode) *smsReceiver {
	r := &smsReceiver{secret: secret, mode: mode}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

// URL is where the receiver listens.
func (r *smsReceiver) URL() string { return r.srv.URL + "/sms" }

func (r *smsReceiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, 64<<10))
	if err != nil {
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	r.mu.Lock()
	got := receivedRequest{contentType: req.Header.Get("Content-Type"), body: body}
	if r.secret != nil {
		if err := verifySignature(r.secret, req.Header.Get("X-OTP-Signature"), body, time.Now().Add(r.ahead)); err != nil {
			got.refused = err.Error()
		}
	}
	mode, answer := r.mode, ""
	switch {
	case got.refused != "":
		got.status = http.StatusUnauthorized
	case mode == receiverAccept:
		r.accepted++
		got.status = http.StatusOK
		answer = fmt.Sprintf(`{"result":{"id":"rcv-%d","price":%v}}`, r.accepted, receiverPrice)
	case mode == receiverFail:
		got.status = http.StatusInternalServerError
	}
	r.requests = append(r.requests, got)
	r.mu.Unlock()

	switch {
	case got.status == 0:
		<-req.Context().Done() // the client gave up
	case got.status == http.StatusOK:
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, answer)
	default:
		http.Error(w, got.refused, got.status)
	}
}

// setAhead puts the receiver's clock d ahead of the real time.
func (r *smsReceiver) setAhead(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ahead = d
}

// setMode changes how the receiver answers.
func (r *smsReceiver) setMode(m receiverMode) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mode = m
}

// received returns a copy of the requests so far, oldest first.
func (r *smsReceiver) received() []receivedRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]receivedRequest(nil), r.requests...)
}

// senderEntry is one sms-log entry, with the fields the senders set.
type senderEntry struct {
	MessageID string   `json:"message_id"`
	Provider  string   `json:"provider"`
	Mobile    string   `json:"mobile"`
	PriceUSD  float64  `json:"price_usd"`
	Status    string   `json:"status"`
	Error     string   `json:"error"`
	BilledUSD *float64 `json:"billed_usd"`
}

// senderLedger is the template's sms-log at base, oldest first.
func senderLedger(t testing.TB, base string) []senderEntry {
	t.Helper()
	a := request(t, "GET", base+"/otp/sms-log?limit=100", nil, nil, "", apiKey)
	var v struct {
		Messages []senderEntry `json:"messages"`
	}
	if err := json.Unmarshal([]byte(a.body), &v); err != nil || a.status != http.StatusOK {
		t.Fatalf("expected sms-log, got %d %s (%v)", a.status, a.body, err)
	}
	out := make([]senderEntry, 0, len(v.Messages))
	for i := len(v.Messages) - 1; i >= 0; i-- {
		out = append(out, v.Messages[i])
	}
	return out
}

// ledgerLines is entries as "provider status price_usd", comma-separated.
func ledgerLines(entries []senderEntry) string {
	lines := make([]string, len(entries))
	for i, e := range entries {
		lines[i] = fmt.Sprintf("%s %s %.2f", e.Provider, e.Status, e.PriceUSD)
	}
	return strings.Join(lines, ", ")
}

// spentUSD is today's budget spend at base, as sms-stats shows it.
func spentUSD(t testing.TB, base string) float64 {
	t.Helper()
	a := request(t, "GET", base+"/otp/sms-stats?days=1", nil, nil, "", apiKey)
	var v struct {
		Budget struct {
			DailySpentUSD float64 `json:"daily_spent_usd"`
		} `json:"budget"`
	}
	if err := json.Unmarshal([]byte(a.body), &v); err != nil || a.status != http.StatusOK {
		t.Fatalf("expected sms-stats, got %d %s (%v)", a.status, a.body, err)
	}
	return v.Budget.DailySpentUSD
}

// codeIn is the 6-digit code in an SMS's text.
func codeIn(t testing.TB, text string) string {
	t.Helper()
	m := smsCode.FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("expected a 6-digit code in the SMS, got %q", text)
	}
	return m[1]
}

// metricWith adds up the samples of the series name whose labels include every one of
// labels (each `name="value"`; none: every series) in the instance's /metrics.
func (p *caddyProc) metricWith(t testing.TB, name string, labels ...string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + p.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sum := 0.0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		var set, value string
		if rest, ok := strings.CutPrefix(line, name+"{"); ok {
			set, value, _ = strings.Cut(rest, "} ")
		} else if rest, ok := strings.CutPrefix(line, name+" "); ok {
			value = rest
		} else {
			continue
		}
		have := map[string]bool{}
		for _, l := range strings.Split(set, ",") {
			have[l] = true
		}
		all := true
		for _, l := range labels {
			all = all && have[l]
		}
		if !all {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			t.Fatalf("reading %q: %v", line, err)
		}
		sum += v
	}
	return sum
}
