package otpapi_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/internal/redistest"
	"github.com/caddyotp/caddyotp/internal/snsdouble"
	"github.com/caddyotp/caddyotp/internal/testcaddy"
	"github.com/caddyotp/caddyotp/internal/testnet"

	_ "github.com/caddyotp/caddyotp/caddyotp"
)

const (
	loginKey = "login-key-0123456789"
	gbMobile = "+447400123456"
	usMobile = "+12025550123"
	secret   = "0123456789abcdef0123456789abcdef"
)

// apiEnv is a running Caddy with the otp_api at /otp/, its SNS double and, for the redis
// variant, its redis-server.
type apiEnv struct {
	base  string
	sns   *snsdouble.Double
	redis *redistest.Server
}

// startAPI starts Caddy with the given store ("memory" or "redis") and extra lines for the
// otp block and for the login template.
func startAPI(t *testing.T, store, appExtra, templateExtra string) *apiEnv {
	t.Helper()
	return startAPIWith(t, apiOptions{store: store, app: appExtra, template: templateExtra})
}

// apiOptions is what startAPIWith puts into the Caddyfile besides the fixed parts.
type apiOptions struct {
	store    string // "memory" (the default) or "redis"
	memory   string // lines for the memory store's block, such as `max_entries 1000`
	global   string // extra lines for the global options, such as a `servers { … }` block
	app      string // extra lines for the otp block: prices, budget, lockout, more templates
	template string // extra lines for the login template
}

// startAPIWith starts Caddy with the otp_api under /otp/ and Caddy's metrics handler at
// /metrics.
func startAPIWith(t *testing.T, o apiOptions) *apiEnv {
	t.Helper()
	snsdouble.OfflineAWS(t)
	env := &apiEnv{sns: snsdouble.New(t)}
	storeBlock := "store memory"
	if o.memory != "" {
		storeBlock = "store memory {\n\t\t\t" + o.memory + "\n\t\t}"
	}
	if o.store == "redis" {
		env.redis = redistest.Start(t)
		storeBlock = fmt.Sprintf("store redis {\n\t\t\taddress %s\n\t\t}", env.redis.Addr())
	}
	port := testnet.FreePort(t)
	env.base = testnet.Site(port)
	testcaddy.Start(t, fmt.Sprintf(`{
	admin off
	%s
	otp {
		secret %s
		%s
		sender sns {
			region eu-west-2
			endpoint %s
		}
		%s
		template login {
			key %s
			message "{code} is your Acme code. It expires in {minutes} minutes."
			sender_id ACME
			origination_number +447400100200
			max_price 0.10
			%s
		}
	}
}

%s {
	handle_path /otp/* {
		otp_api
	}
	handle /metrics {
		metrics
	}
	respond "upstream"
}
`, o.global, secret, storeBlock, env.sns.URL(), o.app, loginKey, o.template, env.base))
	return env
}

type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (r reply) errorCode() string {
	e, _ := r.body["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

func (env *apiEnv) do(t *testing.T, method, path, key, contentType, body string) reply {
	t.Helper()
	h := http.Header{}
	if key != "" {
		h.Set("template-key", key)
	}
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	return env.doHeader(t, method, path, h, body)
}

// doHeader makes one request with the headers given.
func (env *apiEnv) doHeader(t *testing.T, method, path string, header http.Header, body string) reply {
	t.Helper()
	req, err := http.NewRequest(method, env.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

func (env *apiEnv) send(t *testing.T, mobile string) reply {
	t.Helper()
	return env.do(t, "POST", "/otp/send-otp", loginKey, "application/json", fmt.Sprintf(`{"mobile":%q}`, mobile))
}

func (env *apiEnv) verify(t *testing.T, mobile, code string) reply {
	t.Helper()
	return env.do(t, "POST", "/otp/verify-otp", loginKey, "application/json", fmt.Sprintf(`{"mobile":%q,"otp":%q}`, mobile, code))
}

var codeInText = regexp.MustCompile(`^(\d{6}) is your Acme code`)

// lastCode is the code in the newest SMS the double received for mobile.
func (env *apiEnv) lastCode(t *testing.T, mobile string) string {
	t.Helper()
	pubs := env.sns.Published()
	for i := len(pubs) - 1; i >= 0; i-- {
		if pubs[i].PhoneNumber == mobile {
			m := codeInText.FindStringSubmatch(pubs[i].Message)
			if m == nil {
				t.Fatalf("expected a code in %q", pubs[i].Message)
			}
			return m[1]
		}
	}
	t.Fatalf("expected an SMS to %s, got none", mobile)
	return ""
}

func expectStatus(t *testing.T, r reply, status int, code string) {
	t.Helper()
	if r.status != status || r.errorCode() != code {
		t.Fatalf("expected %d %q, got %d %s", status, code, r.status, r.raw)
	}
	if status == http.StatusTooManyRequests && r.header.Get("Retry-After") == "" {
		t.Errorf("expected Retry-After on a 429, got none")
	}
}

func wrongCode(code string) string {
	if code == "000000" {
		return "000001"
	}
	return "000000"
}

// TestAPIFlows runs the send/verify flows through a real Caddy, once with the memory store
// and once with a real redis-server, with the real AWS SDK against the SNS double.
func TestAPIFlows(t *testing.T) {
	for _, store := range []string{"memory", "redis"} {
		t.Run(store, func(t *testing.T) {
			env := startAPI(t, store, "", "resend 0s\n\t\t\tlimit mobile 100 1h\n\t\t\tlimit ip 1000 1h\n\t\t\tlimit prefix 1000 1h")

			t.Run("send then verify once", func(t *testing.T) {
				r := env.send(t, gbMobile)
				if r.status != 200 || r.body["status"] != "sent" || r.body["mobile"] != gbMobile || r.body["expires_in"] != float64(300) || r.body["message_id"] == "" {
					t.Fatalf("expected 200 sent, got %d %s", r.status, r.raw)
				}
				pubs := env.sns.Published()
				p := pubs[len(pubs)-1]
				if p.MessageID != r.body["message_id"] {
					t.Errorf("expected message_id %s, got %v", p.MessageID, r.body["message_id"])
				}
				want := map[string]string{
					"AWS.SNS.SMS.SMSType":          "Transactional",
					"AWS.SNS.SMS.SenderID":         "ACME",
					"AWS.MM.SMS.OriginationNumber": "+447400100200",
					"AWS.SNS.SMS.MaxPrice":         "0.10",
				}
				for k, v := range want {
					if p.Attributes[k] != v {
						t.Errorf("attribute %s: expected %q, got %q", k, v, p.Attributes[k])
					}
				}
				if !regexp.MustCompile(`^\d{6} is your Acme code\. It expires in 5 minutes\.$`).MatchString(p.Message) {
					t.Errorf("expected the template's text, got %q", p.Message)
				}
				code := env.lastCode(t, gbMobile)
				if r := env.verify(t, gbMobile, code); r.status != 200 || r.body["status"] != "verified" || r.body["mobile"] != gbMobile {
					t.Fatalf("expected 200 verified, got %d %s", r.status, r.raw)
				}
				expectStatus(t, env.verify(t, gbMobile, code), 410, "otp_expired")
			})

			t.Run("wrong codes count down then burn", func(t *testing.T) {
				env.send(t, usMobile)
				code := env.lastCode(t, usMobile)
				for left := 4; left >= 1; left-- {
					r := env.verify(t, usMobile, wrongCode(code))
					expectStatus(t, r, 401, "otp_incorrect")
					if r.body["attempts_left"] != float64(left) {
						t.Fatalf("expected attempts_left %d, got %v", left, r.body["attempts_left"])
					}
				}
				expectStatus(t, env.verify(t, usMobile, wrongCode(code)), 429, "too_many_attempts")
				expectStatus(t, env.verify(t, usMobile, code), 410, "otp_expired")
			})

			t.Run("resend replaces the code", func(t *testing.T) {
				env.send(t, gbMobile)
				old := env.lastCode(t, gbMobile)
				env.send(t, gbMobile)
				fresh := env.lastCode(t, gbMobile)
				if old != fresh {
					expectStatus(t, env.verify(t, gbMobile, old), 401, "otp_incorrect")
				}
				if r := env.verify(t, gbMobile, fresh); r.status != 200 {
					t.Fatalf("expected 200 for the new code, got %d %s", r.status, r.raw)
				}
			})

			t.Run("fifty parallel verifies, one success", func(t *testing.T) {
				env.send(t, gbMobile)
				code := env.lastCode(t, gbMobile)
				var wg sync.WaitGroup
				var mu sync.Mutex
				statuses := map[int]int{}
				for i := 0; i < 50; i++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						r := env.verify(t, gbMobile, code)
						mu.Lock()
						statuses[r.status]++
						mu.Unlock()
					}()
				}
				wg.Wait()
				if statuses[200] != 1 || statuses[410] != 49 {
					t.Fatalf("expected one 200 and 49 410, got %v", statuses)
				}
			})

			t.Run("provider refusal leaves no live code", func(t *testing.T) {
				env.sns.FailNext(1, snsdouble.InvalidParameter)
				before := env.sns.Attempts()
				expectStatus(t, env.send(t, usMobile), 502, "send_failed")
				if got := env.sns.Attempts() - before; got != 1 {
					t.Errorf("expected 1 attempt for a 4xx, got %d", got)
				}
				expectStatus(t, env.verify(t, usMobile, "123456"), 410, "otp_expired")
			})

			t.Run("throttling is retried once", func(t *testing.T) {
				env.sns.FailNext(1, snsdouble.Throttled)
				before, sent := env.sns.Attempts(), env.sns.Count()
				if r := env.send(t, usMobile); r.status != 200 {
					t.Fatalf("expected 200 after one retry, got %d %s", r.status, r.raw)
				}
				if a, c := env.sns.Attempts()-before, env.sns.Count()-sent; a != 2 || c != 1 {
					t.Errorf("expected 2 attempts and 1 SMS, got %d and %d", a, c)
				}
				env.sns.FailNext(2, snsdouble.InternalError)
				before = env.sns.Attempts()
				expectStatus(t, env.send(t, usMobile), 502, "send_failed")
				if a := env.sns.Attempts() - before; a != 2 {
					t.Errorf("expected at most 2 attempts, got %d", a)
				}
			})

			t.Run("sms log", func(t *testing.T) {
				r := env.do(t, "GET", "/otp/sms-log?limit=1000", loginKey, "", "")
				if r.status != 200 {
					t.Fatalf("expected 200, got %d %s", r.status, r.raw)
				}
				msgs, _ := r.body["messages"].([]any)
				sent := 0
				for _, m := range msgs {
					e := m.(map[string]any)
					if e["status"] == "sent" {
						sent++
					}
					if mob, _ := e["mobile"].(string); strings.Contains(mob, "123456") || strings.Contains(mob, "5550123") {
						t.Errorf("expected a masked mobile, got %s", mob)
					}
				}
				if sent != env.sns.Count() {
					t.Errorf("expected %d sent entries (as the double received), got %d", env.sns.Count(), sent)
				}
			})

			if store == "redis" {
				t.Run("store unavailable fails closed", func(t *testing.T) {
					env.redis.Stop()
					before := env.sns.Attempts()
					expectStatus(t, env.send(t, gbMobile), 503, "store_unavailable")
					expectStatus(t, env.verify(t, gbMobile, "123456"), 503, "store_unavailable")
					if env.sns.Attempts() != before {
						t.Errorf("expected no SMS while the store is down")
					}
					env.redis.Restart()
					if r := env.send(t, gbMobile); r.status != 200 {
						t.Fatalf("expected recovery after restart, got %d %s", r.status, r.raw)
					}
				})
			}
		})
	}
}

// TestAPIExpiry lets a code expire.
func TestAPIExpiry(t *testing.T) {
	env := startAPI(t, "memory", "", "ttl 1s")
	env.send(t, gbMobile)
	code := env.lastCode(t, gbMobile)
	time.Sleep(1200 * time.Millisecond)
	expectStatus(t, env.verify(t, gbMobile, code), 410, "otp_expired")
}

// TestAPIErrors produces every 4xx of the tables in docs/api.md.
func TestAPIErrors(t *testing.T) {
	env := startAPI(t, "memory", "lockout {\n\t\t\tafter 3\n\t\t}\n\t\tbudget {\n\t\t\tdaily 0.15\n\t\t}",
		"resend 0s\n\t\t\tcountries GB US\n\t\t\tlimit mobile 2 1h")
	json := "application/json"
	tests := []struct {
		name, method, path, key, ctype, body string
		status                               int
		code                                 string
	}{
		{"unknown path", "POST", "/otp/nope", loginKey, json, `{}`, 404, "not_found"},
		{"get send", "GET", "/otp/send-otp", loginKey, "", "", 405, "method_not_allowed"},
		{"post log", "POST", "/otp/sms-log", loginKey, json, "{}", 405, "method_not_allowed"},
		{"no key", "POST", "/otp/send-otp", "", json, `{"mobile":"+447400123456"}`, 401, "invalid_template_key"},
		{"wrong key", "POST", "/otp/send-otp", "login-key-0123456788", json, `{"mobile":"+447400123456"}`, 401, "invalid_template_key"},
		{"text/plain", "POST", "/otp/send-otp", loginKey, "text/plain", `{"mobile":"+447400123456"}`, 415, "unsupported_media_type"},
		{"form", "POST", "/otp/verify-otp", loginKey, "application/x-www-form-urlencoded", `mobile=1`, 415, "unsupported_media_type"},
		{"too large", "POST", "/otp/send-otp", loginKey, json, `{"mobile":"` + strings.Repeat("1", 5000) + `"}`, 413, "body_too_large"},
		{"bad json", "POST", "/otp/send-otp", loginKey, json, `{"mobile":`, 400, "invalid_json"},
		{"empty body", "POST", "/otp/send-otp", loginKey, json, ``, 400, "invalid_json"},
		{"array", "POST", "/otp/send-otp", loginKey, json, `["+447400123456"]`, 400, "invalid_json"},
		{"duplicate key", "POST", "/otp/send-otp", loginKey, json, `{"mobile":"+447400123456","mobile":"+12025550123"}`, 400, "invalid_json"},
		{"duplicate key other case", "POST", "/otp/send-otp", loginKey, json, `{"mobile":"+447400123456","MOBILE":"+12025550123"}`, 400, "invalid_json"},
		{"wrong type", "POST", "/otp/send-otp", loginKey, json, `{"mobile":447400123456}`, 400, "invalid_json"},
		{"unknown field", "POST", "/otp/send-otp", loginKey, json, `{"mobile":"+447400123456","template":"x"}`, 400, "invalid_json"},
		{"trailing data", "POST", "/otp/send-otp", loginKey, json, `{"mobile":"+447400123456"} {}`, 400, "invalid_json"},
		{"mobile without plus", "POST", "/otp/send-otp", loginKey, json, `{"mobile":"447400123456"}`, 400, "invalid_mobile"},
		{"mobile too long", "POST", "/otp/send-otp", loginKey, json, `{"mobile":"+4474001234567890"}`, 400, "invalid_mobile"},
		{"mobile full-width", "POST", "/otp/send-otp", loginKey, json, `{"mobile":"+４４7400123456"}`, 400, "invalid_mobile"},
		{"mobile drama range", "POST", "/otp/send-otp", loginKey, json, `{"mobile":"+447700900123"}`, 400, "invalid_mobile"},
		{"sender id", "POST", "/otp/send-otp", loginKey, json, `{"mobile":"+447400123456","sender_id":"TOO-LONG-SENDER"}`, 400, "invalid_sender_id"},
		{"origination", "POST", "/otp/send-otp", loginKey, json, `{"mobile":"+447400123456","origination_number":"12345"}`, 400, "invalid_origination_number"},
		{"country", "POST", "/otp/send-otp", loginKey, json, `{"mobile":"+33612345678"}`, 403, "country_not_allowed"},
		{"otp letters", "POST", "/otp/verify-otp", loginKey, json, `{"mobile":"+447400123456","otp":"12345a"}`, 400, "invalid_otp"},
		{"otp short", "POST", "/otp/verify-otp", loginKey, json, `{"mobile":"+447400123456","otp":"12345"}`, 400, "invalid_otp"},
		{"otp Arabic-Indic", "POST", "/otp/verify-otp", loginKey, json, `{"mobile":"+447400123456","otp":"١٢٣٤٥٦"}`, 400, "invalid_otp"},
		{"otp number", "POST", "/otp/verify-otp", loginKey, json, `{"mobile":"+447400123456","otp":123456}`, 400, "invalid_json"},
		{"log limit", "GET", "/otp/sms-log?limit=0", loginKey, "", "", 400, "invalid_limit"},
		{"stats days 0", "GET", "/otp/sms-stats?days=0", loginKey, "", "", 400, "invalid_days"},
		{"stats days 401", "GET", "/otp/sms-stats?days=401", loginKey, "", "", 400, "invalid_days"},
		{"stats days word", "GET", "/otp/sms-stats?days=week", loginKey, "", "", 400, "invalid_days"},
		{"stats post", "POST", "/otp/sms-stats", loginKey, json, `{}`, 405, "method_not_allowed"},
		{"stats no key", "GET", "/otp/sms-stats", "", "", "", 401, "invalid_template_key"},
		{"never sent", "POST", "/otp/verify-otp", loginKey, json, `{"mobile":"+12025550123","otp":"123456"}`, 410, "otp_expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := env.sns.Attempts()
			r := env.do(t, tt.method, tt.path, tt.key, tt.ctype, tt.body)
			expectStatus(t, r, tt.status, tt.code)
			for _, h := range []string{"Cache-Control", "X-Content-Type-Options", "Referrer-Policy", "Content-Security-Policy"} {
				if r.header.Get(h) == "" {
					t.Errorf("expected header %s, got none", h)
				}
			}
			if env.sns.Attempts() != before {
				t.Errorf("expected nothing sent for a bad request")
			}
		})
	}

	t.Run("rate limited", func(t *testing.T) {
		const m = "+447400123457"
		for i := 0; i < 2; i++ {
			if r := env.send(t, m); r.status != 200 {
				t.Fatalf("expected 200, got %d %s", r.status, r.raw)
			}
		}
		expectStatus(t, env.send(t, m), 429, "rate_limited")
	})
	t.Run("budget exhausted", func(t *testing.T) {
		// 0.15 USD a day at 0.05 a part: two sends were made above, one more fits.
		if r := env.send(t, "+447400123458"); r.status != 200 {
			t.Fatalf("expected 200, got %d %s", r.status, r.raw)
		}
		before := env.sns.Attempts()
		expectStatus(t, env.send(t, "+447400123459"), 429, "budget_exhausted")
		if env.sns.Attempts() != before {
			t.Errorf("expected nothing sent over budget")
		}
	})
	t.Run("locked", func(t *testing.T) {
		const m = "+447400123457"
		for i := 0; i < 3; i++ {
			env.verify(t, m, "999999")
		}
		expectStatus(t, env.verify(t, m, "999999"), 429, "locked")
		expectStatus(t, env.send(t, m), 429, "locked")
	})
}

// TestAPIResendTooSoon uses the default resend interval.
func TestAPIResendTooSoon(t *testing.T) {
	env := startAPI(t, "memory", "", "")
	if r := env.send(t, gbMobile); r.status != 200 {
		t.Fatalf("expected 200, got %d %s", r.status, r.raw)
	}
	r := env.send(t, gbMobile)
	expectStatus(t, r, 429, "resend_too_soon")
	if ra := r.header.Get("Retry-After"); ra != "60" && ra != "59" {
		t.Errorf("expected Retry-After of about 60, got %q", ra)
	}
	// Another template's interval is its own; a failed send gives the interval back.
	env.sns.FailNext(1, snsdouble.InvalidParameter)
	expectStatus(t, env.send(t, usMobile), 502, "send_failed")
	if r := env.send(t, usMobile); r.status != 200 {
		t.Fatalf("expected 200 after a failed send, got %d %s", r.status, r.raw)
	}
}
