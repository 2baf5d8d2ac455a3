package integration

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/internal/redistest"
)

// Bounds of the load test: a fixed count of requests, so it stops by itself.
const (
	loadRequests = 400
	loadWorkers  = 8
	loadMobiles  = 40
	loadTimeout  = 60 * time.Second
)

// loadBooks is what the load's answers said, for the checks afterwards.
type loadBooks struct {
	mu       sync.Mutex
	answers  map[string]int     // "kind status code" → count
	sent     map[string]string  // message_id of each 200 send → mobile
	issued   []issuedCode       // codes of the 200 sends, for verifies to pick
	verified map[issuedCode]int // 200 verifies per code
	gated    int                // 200 gated requests
	failures []string
}

type issuedCode struct{ mobile, code string }

// TestLoad sends a fixed count of mixed requests (sends, verifies of issued codes, some
// twice, and gated requests with a session) from 8 workers to two instances on one Redis,
// and then checks the books: each 200 send is one Publish and one `sent` ledger entry,
// no code verified twice, the budget's spend equal to the ledger's prices.
func TestLoad(t *testing.T) {
	rds := redistest.Start(t)
	c := startInstances(t, 2, instanceConfig{store: "address " + rds.Addr()}, rds.Client())
	session := "otp_session=" + gateSignIn(t, newJarClient(t), c.sns, c.bases[0]+"/admin/", gateMobile)
	ledgerBefore := len(c.sameLedger(t, 1000))
	spentBefore, attemptsBefore, hitsBefore := c.spentMicro(t), c.sns.Attempts(), c.upstreamHits.Load()
	publishedBefore := c.sns.Count()

	books := &loadBooks{answers: map[string]int{}, sent: map[string]string{}, verified: map[issuedCode]int{}}
	ctx, cancel := context.WithTimeout(context.Background(), loadTimeout)
	defer cancel()
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := range loadWorkers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for ctx.Err() == nil {
				i := int(next.Add(1))
				if i > loadRequests {
					return
				}
				books.do(c, rng, c.bases[i%len(c.bases)], i, session)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if ctx.Err() != nil {
		t.Fatalf("expected %d requests within %s, got the bound first (%d started)", loadRequests, loadTimeout, next.Load())
	}
	t.Logf("%d requests from %d workers in %s (%.0f/s): %v", loadRequests, loadWorkers,
		elapsed.Round(time.Millisecond), loadRequests/elapsed.Seconds(), books.answers)
	if len(books.failures) > 0 {
		t.Fatalf("expected only the answers the flows allow, got %d others, first %q", len(books.failures), books.failures[:min(5, len(books.failures))])
	}
	total := 0
	for _, n := range books.answers {
		total += n
	}
	if total != loadRequests {
		t.Fatalf("expected %d answers, got %d", loadRequests, total)
	}
	sent := len(books.sent)
	if sent == 0 || books.answers["verify 200 verified"] == 0 || books.gated == 0 {
		t.Fatalf("expected sends, verifies and gated requests to succeed, got %v", books.answers)
	}

	// Each 200 send is exactly one Publish, with the message id it answered.
	if got := c.sns.Attempts() - attemptsBefore; got != sent {
		t.Errorf("expected %d Publish calls for %d sends answered 200, got %d", sent, sent, got)
	}
	pubs := c.sns.Published()[publishedBefore:]
	for _, p := range pubs {
		if books.sent[p.MessageID] != p.PhoneNumber {
			t.Errorf("expected publish %s to %s to match a 200 send, got %q", p.MessageID, p.PhoneNumber, books.sent[p.MessageID])
		}
	}
	if len(pubs) != sent {
		t.Errorf("expected %d publishes, got %d", sent, len(pubs))
	}

	// The ledger, the same on both instances: one `sent` entry per 200 send.
	ledger := c.sameLedger(t, 1000)
	if got := len(ledger) - ledgerBefore; got != sent {
		t.Errorf("expected %d new ledger entries, got %d", sent, got)
	}
	var ledgerMicro int64
	for j, e := range ledger {
		ledgerMicro += int64(e.PriceUSD*1e6 + 0.5)
		if j >= len(ledger)-ledgerBefore {
			continue
		}
		if _, ok := books.sent[e.MessageID]; !ok || e.Status != "sent" || e.PriceUSD != smsPrice {
			t.Errorf("expected ledger entry %+v to be a sent 200 send at %v USD", e, smsPrice)
		}
		delete(books.sent, e.MessageID) // counted once
	}
	if len(books.sent) != 0 {
		t.Errorf("expected every 200 send in the ledger once, got %d missing", len(books.sent))
	}

	// The budget's spend is the ledger's sum, to the micro-USD.
	spent := c.spentMicro(t)
	if spent != ledgerMicro || spent-spentBefore != int64(sent)*smsPriceMicro {
		t.Errorf("expected the day's spend %d micro-USD to equal the ledger's %d and grow by %d, got %d",
			spent, ledgerMicro, int64(sent)*smsPriceMicro, spent-spentBefore)
	}

	// No code verified twice; every gated 200 reached the upstream once.
	twice := 0
	for k, n := range books.verified {
		if n > 1 {
			t.Errorf("expected the code sent to %s verified at most once, got %d", k.mobile, n)
		}
		twice += n
	}
	if twice != books.answers["verify 200 verified"] {
		t.Errorf("expected %d verified codes, got %d", books.answers["verify 200 verified"], twice)
	}
	if got := c.upstreamHits.Load() - hitsBefore; got != int64(books.gated) {
		t.Errorf("expected %d upstream requests for %d gated 200s, got %d", books.gated, books.gated, got)
	}
}

// do makes request i: a send (half), a verify of an issued code (a quarter), or a gated
// request with the session (a quarter).
func (b *loadBooks) do(c *cluster, rng *rand.Rand, base string, i int, session string) {
	switch i % 4 {
	case 0, 1:
		mobile := fmt.Sprintf("+4474010%05d", rng.IntN(loadMobiles))
		a, err := tryRequest(noRedirects, "POST", base+"/otp/send-otp", nil, map[string]string{"mobile": mobile}, "", apiKey)
		b.record("send", a, err, func(code string) bool {
			switch code {
			case "sent":
				id := jsonField(a.body, "message_id")
				var text string
				for _, p := range c.sns.Published() {
					if p.MessageID == id {
						text = p.Message
					}
				}
				b.sent[id] = mobile
				b.issued = append(b.issued, issuedCode{mobile, smsCode.FindString(text)})
				return text != ""
			case "rate_limited", "locked":
				return a.status == http.StatusTooManyRequests
			}
			return false
		})
	case 2:
		b.mu.Lock()
		var k issuedCode
		if n := len(b.issued); n > 0 {
			k = b.issued[max(0, n-1-rng.IntN(8))] // recent codes, some twice
		}
		b.mu.Unlock()
		if k.mobile == "" {
			k = issuedCode{fmt.Sprintf("+4474010%05d", rng.IntN(loadMobiles)), "000000"}
		}
		a, err := tryRequest(noRedirects, "POST", base+"/otp/verify-otp", nil, map[string]string{"mobile": k.mobile, "otp": k.code}, "", apiKey)
		b.record("verify", a, err, func(code string) bool {
			switch code {
			case "verified":
				b.verified[k]++
				return true
			case "otp_expired", "otp_incorrect", "too_many_attempts", "locked":
				// used, or replaced by a newer send whose attempts it then spends
				return true
			}
			return false
		})
	default:
		a, err := tryRequest(noRedirects, "GET", base+"/admin/load", nil, nil, session, nil)
		b.record("gated", a, err, func(string) bool {
			if a.status == http.StatusOK && a.body == "upstream: mobile="+gateMobile {
				b.gated++
				return true
			}
			return false
		})
	}
}

// record counts an answer under kind; ok says whether the flow allows it.
func (b *loadBooks) record(kind string, a answer, err error, ok func(code string) bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err != nil {
		b.failures = append(b.failures, kind+": "+err.Error())
		return
	}
	code := errorCode(a)
	b.answers[fmt.Sprintf("%s %d %s", kind, a.status, code)]++
	if !ok(code) {
		b.failures = append(b.failures, fmt.Sprintf("%s: %d %s", kind, a.status, a.body))
	}
}

// jsonField is the string value of a top-level field of a small JSON object, or "".
func jsonField(body, name string) string {
	_, rest, ok := strings.Cut(body, `"`+name+`":"`)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, `"`)
	return v
}
