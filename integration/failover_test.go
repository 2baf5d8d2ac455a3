package integration

import (
	"fmt"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/internal/twiliodouble"
)

// failoverBlock is a `sender failover` of an http sender posting to rcv (timeout 1s) and
// then Twilio's double d, with the circuit settings given (empty for the defaults).
func failoverBlock(rcv *smsReceiver, d *twiliodouble.Double, circuit string) string {
	return fmt.Sprintf(`sender failover {
		sender http {
			url %s
			timeout 1s
		}
		%s
		%s
	}`, rcv.URL(), twilioBlock(d), circuit)
}

// TestFailoverDefinite: the http sender answers 500, a definite failure, so the same send
// goes on to Twilio: one request at the receiver, one message at Twilio, both attempts in
// the ledger under their providers, only Twilio's estimate in the budget, and the send
// metrics labelled by provider.
func TestFailoverDefinite(t *testing.T) {
	rcv, d := newReceiver(t, nil, receiverFail), twiliodouble.New(t)
	p, base := startSenders(t, failoverBlock(rcv, d, ""))

	a := sendOTP(t, base, gateMobile)
	expect(t, "send-otp through the failover", a, http.StatusOK, `"status":"sent"`)
	if got := rcv.received(); len(got) != 1 || got[0].status != http.StatusInternalServerError {
		t.Errorf("expected one attempt at the http sender, answered 500, got %+v", got)
	}
	msgs, err := d.WaitFor(1, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if d.Count() != 1 || msgs[0].To != gateMobile {
		t.Errorf("expected Twilio to send one SMS to %s, got %+v", gateMobile, msgs)
	}
	expect(t, "verify-otp with the code Twilio sent", verifyOTP(t, base, gateMobile, codeIn(t, msgs[0].Body)),
		http.StatusOK, `"status":"verified"`)

	entries := senderLedger(t, base)
	if want := fmt.Sprintf("http failed 0.00, twilio sent %.2f", smsPrice); ledgerLines(entries) != want {
		t.Fatalf("expected the ledger %q, got %q", want, ledgerLines(entries))
	}
	if entries[0].Error != "HTTP500" || entries[1].MessageID != msgs[0].SID {
		t.Errorf("expected http's error HTTP500 and Twilio's SID %s, got %+v", msgs[0].SID, entries)
	}
	if got := spentUSD(t, base); !near(got, smsPrice) {
		t.Errorf("expected the budget to hold one estimate, %v, got %v", smsPrice, got)
	}
	for _, s := range []struct {
		provider, outcome string
		want              float64
	}{{"http", "failed", 1}, {"twilio", "sent", 1}, {"http", "sent", 0}, {"twilio", "failed", 0}} {
		got := p.metricWith(t, "caddy_otp_sms_sends_total", `provider="`+s.provider+`"`, `outcome="`+s.outcome+`"`)
		if got != s.want {
			t.Errorf("expected caddy_otp_sms_sends_total{provider=%q,outcome=%q} %v, got %v", s.provider, s.outcome, s.want, got)
		}
	}
}

// TestFailoverMaybeSent: the http sender gets no answer within its timeout, so the SMS may
// be on its way: no failover to Twilio, one "unknown" entry at the estimate, which the
// budget keeps, and send-otp fails.
func TestFailoverMaybeSent(t *testing.T) {
	rcv, d := newReceiver(t, nil, receiverHang), twiliodouble.New(t)
	p, base := startSenders(t, failoverBlock(rcv, d, ""))

	start := time.Now()
	a := sendOTP(t, base, gateMobile)
	expect(t, "send-otp after the http sender's timeout", a, http.StatusBadGateway, `"send_failed"`)
	if took := time.Since(start); took < time.Second {
		t.Errorf("expected send-otp to wait for the http sender's 1s timeout, it answered after %s", took)
	}
	if got := rcv.received(); len(got) != 1 {
		t.Errorf("expected one attempt at the http sender, got %d", len(got))
	}
	if n, attempts := d.Count(), d.Attempts(); n != 0 || attempts != 0 {
		t.Errorf("expected nothing at Twilio, got %d messages in %d attempts", n, attempts)
	}
	entries := senderLedger(t, base)
	if want := fmt.Sprintf("http unknown %.2f", smsPrice); ledgerLines(entries) != want {
		t.Fatalf("expected the ledger %q, got %q", want, ledgerLines(entries))
	}
	if entries[0].Error != "Timeout" {
		t.Errorf("expected the error Timeout, got %+v", entries[0])
	}
	if got := spentUSD(t, base); !near(got, smsPrice) {
		t.Errorf("expected the budget to keep the estimate, %v, got %v", smsPrice, got)
	}
	if got := p.metricWith(t, "caddy_otp_sms_sends_total", `provider="http"`, `outcome="unknown"`); got != 1 {
		t.Errorf("expected one http send counted unknown, got %v", got)
	}
}

// TestFailoverCircuit: with open_after 2 and open_for 2s, two sends in a row that the http
// sender fails open its circuit; the third send goes straight to Twilio. After 2s the http
// sender is tried again: failing once more opens it again at once; after 2s more it is
// tried again, sends, and its circuit closes.
func TestFailoverCircuit(t *testing.T) {
	const openFor = 2 * time.Second
	rcv, d := newReceiver(t, nil, receiverFail), twiliodouble.New(t)
	p, base := startSenders(t, failoverBlock(rcv, d, "open_after 2\n\t\topen_for 2s"))
	opened := regexp.MustCompile(`"msg":"sender circuit opened[^"]*","provider":"http"`)
	closed := regexp.MustCompile(`"msg":"sender circuit closed[^"]*","provider":"http"`)

	// send n (1-based) to a mobile of its own, expecting it sent, and then the receiver's
	// request count and the ledger's new entries
	step := func(n int, requests int, ledger string) {
		t.Helper()
		before := len(senderLedger(t, base))
		mobile := fmt.Sprintf("+447400123%03d", 400+n)
		expect(t, fmt.Sprintf("send %d", n), sendOTP(t, base, mobile), http.StatusOK, `"status":"sent"`)
		if got := len(rcv.received()); got != requests {
			t.Fatalf("send %d: expected the receiver to have %d requests, got %d", n, requests, got)
		}
		if got := ledgerLines(senderLedger(t, base)[before:]); got != ledger {
			t.Fatalf("send %d: expected the ledger to add %q, got %q", n, ledger, got)
		}
	}
	both := fmt.Sprintf("http failed 0.00, twilio sent %.2f", smsPrice)
	twilioOnly := fmt.Sprintf("twilio sent %.2f", smsPrice)

	step(1, 1, both)
	step(2, 2, both)
	openedAt := time.Now()
	p.waitOutput(opened, 0, 2*time.Second)
	step(3, 2, twilioOnly)

	// half-open after open_for: tried again, and one more failure opens it at once
	time.Sleep(time.Until(openedAt.Add(openFor + 100*time.Millisecond)))
	logged := len(p.output())
	step(4, 3, both)
	openedAt = time.Now()
	p.waitOutput(opened, logged, 2*time.Second)
	step(5, 3, twilioOnly)

	// after open_for again, the receiver works: the http sender sends and its circuit closes
	rcv.setMode(receiverAccept)
	time.Sleep(time.Until(openedAt.Add(openFor + 100*time.Millisecond)))
	step(6, 4, fmt.Sprintf("http sent %.2f", smsPrice))
	p.waitOutput(closed, logged, 2*time.Second)
	step(7, 5, fmt.Sprintf("http sent %.2f", smsPrice))

	if got := d.Count(); got != 5 {
		t.Errorf("expected Twilio to have sent 5 SMS (sends 1 to 5), got %d", got)
	}
}
