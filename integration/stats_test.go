package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/internal/eumdouble"
	"github.com/caddyotp/caddyotp/internal/redistest"
	"github.com/caddyotp/caddyotp/internal/sqsdouble"
	"github.com/caddyotp/caddyotp/internal/testnet"
)

// TestStatsAgreeWithLedger: two instances on one Redis take a bounded mixed load at once —
// sends to two countries, right and wrong codes, delivery reports (some twice) — and then
// sms-stats on either instance agrees with the ledger (sms-log) and with what the test did.
func TestStatsAgreeWithLedger(t *testing.T) {
	rs := redistest.Start(t)
	eum, queue := eumdouble.New(t), sqsdouble.New(t)
	queue.SetVisibilityTimeout(time.Second)
	sender := fmt.Sprintf("sender eum {\n\t\t\tregion eu-west-2\n\t\t\tendpoint %s\n\t\t}", eum.URL())
	reports := fmt.Sprintf("reports sqs %s {\n\t\t\tregion eu-west-2\n\t\t\tendpoint %s\n\t\t\twait 1s\n\t\t}", queue.QueueURL(), queue.URL())
	var bases []string
	for range 2 {
		port := testnet.FreePort(t)
		startCaddy(t, reportsCaddyfile(port, rs.Addr(), sender, reports))
		bases = append(bases, testnet.Site(port))
	}

	// 30 sends, 20 to GB and 10 to the US, both instances at once
	const n = 30
	mobiles := make([]string, n)
	for i := range mobiles {
		if i%3 == 2 {
			mobiles[i] = fmt.Sprintf("+1202555%04d", 100+i)
		} else {
			mobiles[i] = fmt.Sprintf("+4474001235%02d", i)
		}
	}
	answers := parallelSends(t, bases, mobiles)
	ids := map[string]string{} // mobile → message id
	for i, a := range answers {
		expect(t, "send-otp", a, http.StatusOK, `"status":"sent"`)
		var v struct {
			MessageID string `json:"message_id"`
		}
		json.Unmarshal([]byte(a.body), &v)
		ids[mobiles[i]] = v.MessageID
	}
	msgs, err := eum.WaitFor(n, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	codes := map[string]string{}
	for _, m := range msgs {
		codes[m.DestinationPhoneNumber] = smsCode.FindStringSubmatch(m.MessageBody)[1]
	}

	// every fourth mobile uses its code (one wrong try first); every other one is reported
	// delivered (twice), every sixth failed
	var wg sync.WaitGroup
	verified := map[string]int{}
	var mu sync.Mutex
	for i, m := range mobiles {
		country := "GB"
		if i%3 == 2 {
			country = "US"
		}
		if i%4 == 0 {
			wg.Go(func() {
				base := bases[i%2]
				wrong := "000000"
				if codes[m] == wrong {
					wrong = "111111"
				}
				verifyOTP(t, base, m, wrong)
				a := verifyOTP(t, bases[(i+1)%2], m, codes[m])
				if a.status == http.StatusOK {
					mu.Lock()
					verified[country]++
					mu.Unlock()
				}
			})
		}
		switch {
		case i%6 == 1:
			queue.Put(sqsdouble.RawBody(eumEvent(ids[m], "FAILED", 0, 0)))
		case i%2 == 0:
			queue.Put(sqsdouble.SNSBody(eumEvent(ids[m], "DELIVERED", 0.04, 0.001)))
			queue.Put(sqsdouble.RawBody(eumEvent(ids[m], "DELIVERED", 0.04, 0.001)))
		}
	}
	wg.Wait()
	if err := queue.WaitEmpty(15 * time.Second); err != nil {
		t.Fatal(err)
	}

	// the ledger
	ledger := map[string]int{}
	var billed float64
	a := request(t, "GET", bases[0]+"/otp/sms-log?limit=1000", nil, nil, "", apiKey)
	var log struct {
		Messages []reportedEntry `json:"messages"`
	}
	if err := json.Unmarshal([]byte(a.body), &log); err != nil {
		t.Fatal(err)
	}
	for _, e := range log.Messages {
		ledger[e.Status]++
		if e.BilledUSD != nil {
			billed += *e.BilledUSD
		}
	}
	if len(log.Messages) != n || ledger["delivered"] != 15 || ledger["failed"] != 5 || ledger["sent"] != 10 {
		t.Fatalf("expected %d entries: 15 delivered, 5 failed, 10 sent; got %v", n, ledger)
	}

	for _, base := range bases {
		a := request(t, "GET", base+"/otp/sms-stats?days=1", nil, nil, "", apiKey)
		var st struct {
			Days []struct {
				Sent, Verified, Delivered, Failed int
				EstimatedUSD                      float64 `json:"estimated_usd"`
				BilledUSD                         float64 `json:"billed_usd"`
			} `json:"days"`
			Countries []struct {
				Country        string
				Sent, Verified int
			} `json:"countries"`
		}
		if err := json.Unmarshal([]byte(a.body), &st); err != nil || len(st.Days) != 1 {
			t.Fatalf("expected one day of sms-stats at %s, got %s (%v)", base, a.body, err)
		}
		d := st.Days[0]
		if d.Sent != n || d.Delivered != ledger["delivered"] || d.Failed != ledger["failed"] ||
			d.Verified != verified["GB"]+verified["US"] || !near(d.EstimatedUSD, n*smsPrice) || !near(d.BilledUSD, billed) {
			t.Errorf("expected stats to agree with the ledger (%v, billed %v) and %v verified, got %s", ledger, billed, verified, a.body)
		}
		byCountry := map[string][2]int{}
		for _, c := range st.Countries {
			byCountry[c.Country] = [2]int{c.Sent, c.Verified}
		}
		if byCountry["GB"] != [2]int{20, verified["GB"]} || byCountry["US"] != [2]int{10, verified["US"]} {
			t.Errorf("expected GB 20 sent %d verified and US 10 sent %d verified, got %s", verified["GB"], verified["US"], a.body)
		}
	}
}
