package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/internal/testnet"
	"github.com/caddyotp/caddyotp/internal/twiliodouble"
)

// TestSenderHTTPSigned: the http sender posts a signed JSON body to a receiver that checks
// the signature as the README says; the code in it verifies, and the ledger and the budget
// take the receiver's message id and price at once. With the receiver's clock 6 minutes
// ahead, the same request is refused as stale: send-otp fails, the ledger has the failed
// attempt at 0 USD, and the budget does not move.
func TestSenderHTTPSigned(t *testing.T) {
	rcv := newReceiver(t, []byte(signingSecret), receiverAccept)
	_, base := startSenders(t, fmt.Sprintf(`sender http {
			url %s
			sign %s
			message_id_field /result/id
			price_field /result/price
		}`, rcv.URL(), signingSecret))

	a := sendOTP(t, base, gateMobile)
	expect(t, "send-otp through the http sender", a, http.StatusOK, `"message_id":"rcv-1"`)
	got := rcv.received()
	if len(got) != 1 || got[0].status != http.StatusOK || got[0].contentType != "application/json" {
		t.Fatalf("expected one signed JSON request accepted, got %+v", got)
	}
	var body struct {
		To, Text, Reference string
		SenderID            *string `json:"sender_id"`
	}
	if err := json.Unmarshal(got[0].body, &body); err != nil {
		t.Fatalf("expected a JSON body, got %s: %v", got[0].body, err)
	}
	if body.To != gateMobile || len(body.Reference) != 32 || body.SenderID != nil {
		t.Errorf("expected to %s, a 32-hex reference and no sender_id, got %s", gateMobile, got[0].body)
	}
	expect(t, "verify-otp with the code the receiver got", verifyOTP(t, base, gateMobile, codeIn(t, body.Text)),
		http.StatusOK, `"status":"verified"`)

	entries := senderLedger(t, base)
	if len(entries) != 1 {
		t.Fatalf("expected one ledger entry, got %+v", entries)
	}
	e := entries[0]
	if e.Provider != "http" || e.MessageID != "rcv-1" || e.Status != "sent" || e.PriceUSD != smsPrice ||
		e.BilledUSD == nil || !near(*e.BilledUSD, receiverPrice) {
		t.Errorf("expected http sent rcv-1, estimate %v, billed %v; got %+v", smsPrice, receiverPrice, e)
	}
	if got := spentUSD(t, base); !near(got, receiverPrice) {
		t.Errorf("expected the budget moved from the estimate to the billed %v, got %v", receiverPrice, got)
	}

	// the receiver's clock 6 minutes ahead: the signature's timestamp is stale to it
	rcv.setAhead(6 * time.Minute)
	a = sendOTP(t, base, apiMobile)
	expect(t, "send-otp refused by the receiver", a, http.StatusBadGateway, `"send_failed"`)
	got = rcv.received()
	if len(got) != 2 || got[1].status != http.StatusUnauthorized || got[1].refused != "stale timestamp" {
		t.Fatalf("expected one more request, refused 401 as stale (no retry after a 4xx), got %+v", got[1:])
	}
	entries = senderLedger(t, base)
	if len(entries) != 2 {
		t.Fatalf("expected two ledger entries, got %+v", entries)
	}
	e = entries[1]
	if e.Provider != "http" || e.Status != "failed" || e.PriceUSD != 0 || e.Error != "HTTP401" || e.BilledUSD != nil {
		t.Errorf("expected http failed HTTP401 at 0 USD, got %+v", e)
	}
	if got := spentUSD(t, base); !near(got, receiverPrice) {
		t.Errorf("expected the budget unchanged at %v after the refused send, got %v", receiverPrice, got)
	}
}

// TestSenderHTTPForm: with `format form` the body is a form with to, text and reference,
// signed over its exact bytes; the code in it verifies.
func TestSenderHTTPForm(t *testing.T) {
	rcv := newReceiver(t, []byte(signingSecret), receiverAccept)
	_, base := startSenders(t, fmt.Sprintf(`sender http {
			url %s
			format form
			sign %s
		}`, rcv.URL(), signingSecret))

	a := sendOTP(t, base, gateMobile)
	expect(t, "send-otp through the http sender as a form", a, http.StatusOK, `"status":"sent"`)
	got := rcv.received()
	if len(got) != 1 || got[0].status != http.StatusOK || got[0].contentType != "application/x-www-form-urlencoded" {
		t.Fatalf("expected one signed form request accepted, got %+v", got)
	}
	form, err := url.ParseQuery(string(got[0].body))
	if err != nil {
		t.Fatalf("expected a form body, got %s: %v", got[0].body, err)
	}
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if fmt.Sprint(keys) != "[reference text to]" || form.Get("to") != gateMobile || len(form.Get("reference")) != 32 {
		t.Errorf("expected the form fields reference, text and to (%s), got %s", gateMobile, got[0].body)
	}
	// without message_id_field the reference is the message id
	if !strings.Contains(a.body, `"message_id":"`+form.Get("reference")+`"`) {
		t.Errorf("expected the reference %s as the message id, got %s", form.Get("reference"), a.body)
	}
	expect(t, "verify-otp with the code of the form", verifyOTP(t, base, gateMobile, codeIn(t, form.Get("text"))),
		http.StatusOK, `"status":"verified"`)
}

// TestSenderTwilio: the twilio sender against its double, through a Messaging Service:
// the double receives the form Twilio documents with basic auth, the code verifies, and the
// ledger names twilio and the SM… SID; with a price in Twilio's answer it is billed at once.
func TestSenderTwilio(t *testing.T) {
	d := twiliodouble.New(t)
	_, base := startSenders(t, twilioBlock(d))

	a := sendOTP(t, base, gateMobile)
	expect(t, "send-otp through twilio", a, http.StatusOK, `"status":"sent"`)
	msgs, err := d.WaitFor(1, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	m := msgs[0]
	if m.AccountSID != twiliodouble.AccountSID || m.AuthUser != twiliodouble.AccountSID || m.To != gateMobile ||
		m.MessagingServiceSID != messagingService || m.From != "" || m.ValidityPeriod != 300 ||
		fmt.Sprint(m.Params) != "[Body MessagingServiceSid To ValidityPeriod]" {
		b, _ := json.Marshal(m)
		t.Errorf("expected Body, MessagingServiceSid, To and ValidityPeriod 300 with the account's basic auth, got %s", b)
	}
	if !strings.HasPrefix(m.SID, "SM") || !strings.Contains(a.body, `"message_id":"`+m.SID+`"`) {
		t.Errorf("expected send-otp to answer the message's SID %s, got %s", m.SID, a.body)
	}
	expect(t, "verify-otp with the code twilio got", verifyOTP(t, base, gateMobile, codeIn(t, m.Body)),
		http.StatusOK, `"status":"verified"`)

	// Twilio's answer with a price (it is usually null at creation)
	d.SetPrice("-0.00750", "USD")
	expect(t, "send-otp through twilio, priced", sendOTP(t, base, apiMobile), http.StatusOK, `"status":"sent"`)
	msgs, err = d.WaitFor(2, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	entries := senderLedger(t, base)
	if len(entries) != 2 {
		t.Fatalf("expected two ledger entries, got %+v", entries)
	}
	if e := entries[0]; e.Provider != "twilio" || e.MessageID != m.SID || e.Status != "sent" || e.PriceUSD != smsPrice || e.BilledUSD != nil {
		t.Errorf("expected twilio sent %s at the estimate, nothing billed yet; got %+v", m.SID, e)
	}
	if e := entries[1]; e.Provider != "twilio" || e.MessageID != msgs[1].SID || e.BilledUSD == nil || !near(*e.BilledUSD, 0.0075) {
		t.Errorf("expected twilio sent %s billed 0.0075, got %+v", msgs[1].SID, e)
	}
	if got, want := spentUSD(t, base), smsPrice+0.0075; !near(got, want) {
		t.Errorf("expected the estimate and the billed price spent, %v, got %v", want, got)
	}
}

// TestSenderProvisionErrors: a bad sender config stops `caddy run` with an error naming the
// setting: an http url that is not http(s), a price_field that is not a JSON pointer, a
// failover with no senders, and a failover in a failover (in the Caddyfile and in JSON).
func TestSenderProvisionErrors(t *testing.T) {
	rcv := newReceiver(t, nil, receiverAccept)
	httpBlock := func(lines string) string { return "sender http {\n\t\t\t" + lines + "\n\t\t}" }
	for _, tt := range []struct {
		name, sender, want string
	}{
		{"url not http", httpBlock("url ftp://x"), `http sender: url must start with http:// or https://, got scheme \"ftp\"`},
		{"price_field not a pointer", httpBlock("url " + rcv.URL() + "\n\t\t\tprice_field price"),
			`http sender: price_field \"price\" is not a JSON pointer`},
		{"failover without senders", "sender failover {\n\t\t\topen_after 2\n\t\t}",
			"failover sender: senders: failover needs at least two senders, got 0"},
		{"failover in failover", "sender failover {\n\t\t\t" + httpBlock("url "+rcv.URL()) +
			"\n\t\t\tsender failover {\n\t\t\t}\n\t\t}", "failover cannot contain a failover"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			caddyRefuses(t, "Caddyfile", sendersCaddyfile(testnet.FreePort(t), tt.sender), tt.want)
		})
	}
	t.Run("failover in failover, JSON", func(t *testing.T) {
		config := fmt.Sprintf(`{"apps":{"otp":{"secret":%q,"store":{"store":"memory"},
			"sender":{"sender":"failover","senders":[{"sender":"http","url":%q},
				{"sender":"failover","senders":[{"sender":"http","url":%q},{"sender":"http","url":%q}]}]}}}}`,
			sharedSecret, rcv.URL(), rcv.URL(), rcv.URL())
		caddyRefuses(t, "caddy.json", config, "failover sender: senders[1]: failover cannot contain a failover")
	})
	if n := len(rcv.received()); n != 0 {
		t.Errorf("expected no request from a config that failed, got %d", n)
	}
}

// caddyRefuses runs the built Caddy on config (a Caddyfile, or JSON when name ends in
// .json), with the admin endpoint on a free port of 127.0.0.1, and checks that it exits
// with an error and that its output has want.
func caddyRefuses(t *testing.T, name, config, want string) {
	t.Helper()
	admin := fmt.Sprintf("127.0.0.1:%d", testnet.FreePort(t))
	args := []string{"run", "--config"}
	if strings.HasSuffix(name, ".json") {
		config = fmt.Sprintf(`{"admin":{"listen":%q},`, admin) + strings.TrimPrefix(config, "{")
	} else {
		opts := fmt.Sprintf("\tadmin %s\n\tdefault_bind 127.0.0.1\n", admin)
		loc := globalOptions.FindStringIndex(config)
		config = config[:loc[1]] + opts + config[loc[1]:]
	}
	dir := t.TempDir()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	args = append(args, path)
	if !strings.HasSuffix(name, ".json") {
		args = append(args, "--adapter", "caddyfile")
	}
	p := runCaddy(t, dir, nil, args...)
	select {
	case <-p.exited:
	case <-time.After(caddyStartTimeout):
		t.Fatalf("expected caddy to exit on the bad config, still running after %s:\n%s", caddyStartTimeout, p.tail(20))
	}
	if p.waitErr == nil {
		t.Fatalf("expected caddy to exit with an error, got a clean exit:\n%s", p.tail(20))
	}
	if out := p.output(); !strings.Contains(out, want) {
		t.Errorf("expected caddy's output to have %q, got:\n%s", want, p.tail(20))
	}
}
