package twiliodouble

import (
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/caddyotp/caddyotp/internal/awsdouble"
)

var messagesURL = "/2010-04-01/Accounts/" + AccountSID + "/Messages.json"

// post sends form to path on d with basic auth user and pass (none when user is empty) and
// returns the answer's status, body and WWW-Authenticate header.
func post(t *testing.T, d *Double, path string, form url.Values, user, pass string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, d.URL()+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("expected an answer, got %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body), resp.Header.Get("WWW-Authenticate")
}

// send posts form to the account's Messages with its auth token.
func send(t *testing.T, d *Double, form url.Values) (int, string) {
	t.Helper()
	status, body, _ := post(t, d, messagesURL, form, AccountSID, AuthToken)
	return status, body
}

func sms(to, body string) url.Values {
	return url.Values{"To": {to}, "From": {"+15005550006"}, "Body": {body}}
}

// errorBody reads a Twilio error answer.
func errorBody(t *testing.T, body string) apiError {
	t.Helper()
	var e apiError
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("expected a Twilio error body, got %v: %s", err, body)
	}
	return e
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func keys(t *testing.T, b []byte) []string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("expected a JSON object, got %v: %s", err, b)
	}
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestDoubleCreatesMessages(t *testing.T) {
	d := New(t)
	tests := []struct {
		name       string
		form       url.Values
		user, pass string
		status     string // of the answer
		from       any    // the answer's from: a string or nil
	}{
		{"auth token and from", url.Values{"To": {"+447400123456"}, "From": {"+15005550006"}, "Body": {"code 123456"}, "ValidityPeriod": {"300"}},
			AccountSID, AuthToken, "queued", "+15005550006"},
		{"api key and messaging service", url.Values{"To": {"+12025550123"}, "MessagingServiceSid": {"MG0123456789abcdef0123456789abcdef"}, "Body": {"code 654321"}},
			APIKey, APISecret, "accepted", nil},
		{"alphanumeric sender id", url.Values{"To": {"+447400123456"}, "From": {"Acme Co"}, "Body": {"ü 000000"}},
			AccountSID, AuthToken, "queued", "Acme Co"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d.Reset()
			status, body, _ := post(t, d, messagesURL, tt.form, tt.user, tt.pass)
			if status != http.StatusCreated {
				t.Fatalf("expected 201, got %d: %s", status, body)
			}
			msgs := d.Messages()
			if len(msgs) != 1 {
				t.Fatalf("expected 1 message, got %d", len(msgs))
			}
			m := msgs[0]
			var answer map[string]any
			if err := json.Unmarshal([]byte(body), &answer); err != nil {
				t.Fatal(err)
			}
			if answer["sid"] != m.SID || !strings.HasPrefix(m.SID, "SM") || len(m.SID) != 34 ||
				answer["status"] != tt.status || answer["from"] != tt.from || answer["to"] != tt.form.Get("To") ||
				answer["body"] != tt.form.Get("Body") || answer["price"] != nil || answer["price_unit"] != "USD" ||
				answer["account_sid"] != AccountSID {
				t.Errorf("expected the created message with sid %s, got %s", m.SID, body)
			}
			want := Message{SID: m.SID, AccountSID: AccountSID, AuthUser: tt.user, To: tt.form.Get("To"), From: tt.form.Get("From"),
				MessagingServiceSID: tt.form.Get("MessagingServiceSid"), Body: tt.form.Get("Body"),
				Params: slices.Sorted(maps.Keys(tt.form)), Time: m.Time}
			if tt.form.Has("ValidityPeriod") {
				want.ValidityPeriod = 300
			}
			if !reflect.DeepEqual(m, want) {
				t.Errorf("expected %+v recorded, got %+v", want, m)
			}
		})
	}
}

func TestDoubleAuthenticates(t *testing.T) {
	d := New(t)
	other := "/2010-04-01/Accounts/AC00000000000000000000000000000000/Messages.json"
	tests := []struct {
		name, path, user, pass string
	}{
		{"no credentials", messagesURL, "", ""},
		{"wrong auth token", messagesURL, AccountSID, "0000"},
		{"wrong api secret", messagesURL, APIKey, "0000"},
		{"the token with the key", messagesURL, APIKey, AuthToken},
		{"another account", other, AccountSID, AuthToken},
	}
	for _, tt := range tests {
		status, body, challenge := post(t, d, tt.path, sms("+447400123456", "hi"), tt.user, tt.pass)
		e := errorBody(t, body)
		if status != http.StatusUnauthorized || e.Code != 20003 || e.Status != 401 || e.MoreInfo != "https://www.twilio.com/docs/errors/20003" ||
			challenge != `Basic realm="Twilio API"` {
			t.Errorf("%s: expected 401 with error 20003 and a Basic challenge, got %d %s (%q)", tt.name, status, body, challenge)
		}
	}
	if d.Count() != 0 {
		t.Errorf("expected no message accepted, got %d", d.Count())
	}
}

func TestDoubleRefusesWhatTwilioRefuses(t *testing.T) {
	d := New(t)
	with := func(k, v string) url.Values {
		f := sms("+447400123456", "hi")
		if v == "" {
			f.Del(k)
		} else {
			f.Set(k, v)
		}
		return f
	}
	tests := []struct {
		name   string
		form   url.Values
		status int
		code   int
	}{
		{"no To", with("To", ""), 400, 21604},
		{"To without +", with("To", "447400123456"), 400, 21211},
		{"To with letters", with("To", "+4474001234x6"), 400, 21211},
		{"To too long", with("To", "+4474001234567890"), 400, 21211},
		{"no sender", with("From", ""), 400, 21603},
		{"From too long an id", with("From", "AcmeCompanyLtd"), 400, 21212},
		{"From of digits only", with("From", "1234567"), 400, 21212},
		{"no Body", with("Body", ""), 400, 21602},
		{"blank Body", with("Body", "  "), 400, 21602},
		{"Body over 1600", with("Body", strings.Repeat("é", 1601)), 400, 21617},
		{"ValidityPeriod 0", with("ValidityPeriod", "0"), 400, 21624},
		{"ValidityPeriod 36001", with("ValidityPeriod", "36001"), 400, 21624},
		{"ValidityPeriod not a number", with("ValidityPeriod", "5m"), 400, 21624},
	}
	for _, tt := range tests {
		status, body := send(t, d, tt.form)
		if e := errorBody(t, body); status != tt.status || e.Code != tt.code || e.Status != tt.status || e.Message == "" ||
			!strings.HasSuffix(e.MoreInfo, "/errors/"+strconv.Itoa(tt.code)) {
			t.Errorf("%s: expected %d with error %d, got %d %s", tt.name, tt.status, tt.code, status, body)
		}
	}
	if d.Count() != 0 {
		t.Errorf("expected nothing accepted, got %d", d.Count())
	}

	for _, tt := range []struct {
		name string
		form url.Values
	}{
		{"Body of 1600", with("Body", strings.Repeat("é", 1600))},
		{"ValidityPeriod 1", with("ValidityPeriod", "1")},
		{"ValidityPeriod 36000", with("ValidityPeriod", "36000")},
		{"short code", with("From", "12345")},
	} {
		if status, body := send(t, d, tt.form); status != http.StatusCreated {
			t.Errorf("%s: expected 201, got %d %s", tt.name, status, body)
		}
	}

	status, body, _ := post(t, d, "/2010-04-01/Accounts/"+AccountSID+"/Calls.json", sms("+447400123456", "hi"), AccountSID, AuthToken)
	if e := errorBody(t, body); status != 404 || e.Code != 20404 {
		t.Errorf("another resource: expected 404 with error 20404, got %d %s", status, body)
	}
	resp, err := http.Get(d.URL() + messagesURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: expected 405, got %d", resp.StatusCode)
	}
}

func TestDoubleFaults(t *testing.T) {
	d := New(t)
	d.FailNext(1, TooManyRequests)
	d.FailNext(1, BadGateway)
	status, body := send(t, d, sms("+447400123456", "a"))
	if e := errorBody(t, body); status != 429 || e.Code != 20429 || e.Message != "Too Many Requests" || e.Status != 429 {
		t.Errorf("expected 429 with error 20429, got %d %s", status, body)
	}
	if status, body := send(t, d, sms("+447400123456", "b")); status != 502 || !strings.Contains(body, "<html>") {
		t.Errorf("expected a bare 502 page, got %d %s", status, body)
	}
	if status, _ := send(t, d, sms("+447400123456", "c")); status != http.StatusCreated {
		t.Errorf("expected 201 once the faults are spent, got %d", status)
	}
	d.SetFault(Unavailable)
	for range 2 {
		if status, body := send(t, d, sms("+447400123456", "d")); status != 503 || errorBody(t, body).Code != 20503 {
			t.Errorf("expected 503 with error 20503 while set, got %d %s", status, body)
		}
	}
	d.SetFault(Fault{})
	if d.Count() != 1 || d.Attempts() != 5 {
		t.Errorf("expected 1 message in 5 attempts, got %d in %d", d.Count(), d.Attempts())
	}

	// a hang answers nothing and accepts nothing; a drop accepts and answers nothing
	d.Reset()
	d.FailNext(1, Hang)
	d.FailNext(1, Drop)
	c := &http.Client{Timeout: 200 * time.Millisecond}
	for _, text := range []string{"hung", "dropped"} {
		req, _ := http.NewRequest(http.MethodPost, d.URL()+messagesURL, strings.NewReader(sms("+447400123456", text).Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(AccountSID, AuthToken)
		if resp, err := c.Do(req); err == nil {
			resp.Body.Close()
			t.Errorf("%s: expected no answer, got %d", text, resp.StatusCode)
		}
	}
	if msgs := d.Messages(); len(msgs) != 1 || msgs[0].Body != "dropped" || d.Attempts() != 2 {
		t.Errorf("expected only the dropped message accepted in 2 attempts, got %+v in %d", msgs, d.Attempts())
	}
}

func TestDoublePrice(t *testing.T) {
	d := New(t)
	price := func() (any, any) {
		t.Helper()
		status, body := send(t, d, sms("+447400123456", "hi"))
		var m map[string]any
		if err := json.Unmarshal([]byte(body), &m); err != nil || status != http.StatusCreated {
			t.Fatalf("expected a created message, got %d (%v): %s", status, err, body)
		}
		return m["price"], m["price_unit"]
	}
	if p, u := price(); p != nil || u != "USD" {
		t.Errorf("expected a null price in USD by default, got %v %v", p, u)
	}
	d.SetPrice("-0.00750", "USD")
	if p, u := price(); p != "-0.00750" || u != "USD" {
		t.Errorf("expected -0.00750 USD, got %v %v", p, u)
	}
	d.SetPrice("-0.0400", "EUR")
	if p, u := price(); p != "-0.0400" || u != "EUR" {
		t.Errorf("expected -0.0400 EUR, got %v %v", p, u)
	}
	d.Reset()
	if p, u := price(); p != nil || u != "USD" {
		t.Errorf("expected a reset to make the price null, got %v %v", p, u)
	}
}

// TestDoubleSamples: the double's answers have the members of testdata's samples, which
// follow Twilio's documentation, and twilio-go reads each into its own types.
func TestDoubleSamples(t *testing.T) {
	d := New(t)
	status, body, _ := post(t, d, messagesURL, mustParseQuery(t, readTestdata(t, "create-message.request.txt")), AccountSID, AuthToken)
	if status != http.StatusCreated {
		t.Fatalf("expected 201 for the sample request, got %d: %s", status, body)
	}
	sample := readTestdata(t, "message-created.json")
	if got, want := keys(t, []byte(body)), keys(t, sample); !reflect.DeepEqual(got, want) {
		t.Errorf("expected members %v, got %v", want, got)
	}
	m := d.Messages()[0]
	if m.To != "+447400123456" || m.From != "+15005550006" || m.ValidityPeriod != 300 ||
		!reflect.DeepEqual(m.Params, []string{"Body", "From", "To", "ValidityPeriod"}) {
		t.Errorf("expected the sample's values recorded, got %+v", m)
	}
	var msg openapi.ApiV2010Message
	if err := json.Unmarshal(sample, &msg); err != nil || msg.Sid == nil || *msg.Sid != "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" ||
		msg.Price != nil || msg.PriceUnit == nil || *msg.PriceUnit != "USD" {
		t.Errorf("expected twilio-go to read the sample message, got %+v (%v)", msg, err)
	}

	bad := sms("447400123456", "hi")
	status, body = send(t, d, bad)
	var got, want map[string]any
	json.Unmarshal([]byte(body), &got)                         //nolint:errcheck // compared below
	json.Unmarshal(readTestdata(t, "error-21211.json"), &want) //nolint:errcheck
	if status != 400 || !reflect.DeepEqual(got, want) {
		t.Errorf("expected the sample error\n%v\ngot %d\n%v", want, status, got)
	}
	status, body, _ = post(t, d, messagesURL, bad, AccountSID, "wrong")
	json.Unmarshal([]byte(body), &got)                         //nolint:errcheck
	json.Unmarshal(readTestdata(t, "error-20003.json"), &want) //nolint:errcheck
	if status != 401 || !reflect.DeepEqual(got, want) {
		t.Errorf("expected the sample error\n%v\ngot %d\n%v", want, status, got)
	}
	for _, name := range []string{"error-21211.json", "error-20003.json"} {
		var e client.TwilioRestError
		if err := json.Unmarshal(readTestdata(t, name), &e); err != nil || e.Code == 0 || e.Status == 0 || e.Message == "" || e.MoreInfo == "" {
			t.Errorf("%s: expected twilio-go to read code, status, message and more_info, got %+v (%v)", name, e, err)
		}
	}
}

func mustParseQuery(t *testing.T, b []byte) url.Values {
	t.Helper()
	v, err := url.ParseQuery(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// toDouble sends every request to the double instead of the host asked for, as a sender's
// endpoint setting does.
type toDouble struct{ url *url.URL }

func (t toDouble) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host, r.Host = t.url.Scheme, t.url.Host, ""
	return http.DefaultTransport.RoundTrip(r)
}

// TestDoubleThroughTheLibrary drives the double with twilio-go's own CreateMessage: a
// created message and an error answer read as the library reads Twilio's.
func TestDoubleThroughTheLibrary(t *testing.T) {
	d := New(t)
	u, _ := url.Parse(d.URL())
	c := &client.Client{Credentials: client.NewCredentials(APIKey, APISecret),
		HTTPClient: &http.Client{Timeout: 5 * time.Second, Transport: toDouble{u}}}
	c.SetAccountSid(AccountSID)
	api := openapi.NewApiService(&client.RequestHandler{Client: c})
	d.SetPrice("-0.0075", "USD")
	msg, err := api.CreateMessage((&openapi.CreateMessageParams{}).SetTo("+447400123456").SetFrom("ACME").
		SetBody("123456").SetValidityPeriod(120))
	if err != nil {
		t.Fatalf("expected a message, got %v", err)
	}
	m := d.Messages()
	if len(m) != 1 || msg.Sid == nil || *msg.Sid != m[0].SID || *msg.Price != "-0.0075" || m[0].AuthUser != APIKey ||
		m[0].ValidityPeriod != 120 || m[0].From != "ACME" {
		t.Errorf("expected the library's message recorded and its answer read, got %+v and %+v", m, msg)
	}
	_, err = api.CreateMessage((&openapi.CreateMessageParams{}).SetTo("447400123456").SetFrom("ACME").SetBody("1"))
	var rest *client.TwilioRestError
	if !errors.As(err, &rest) || rest.Status != 400 || rest.Code != 21211 {
		t.Errorf("expected a TwilioRestError 400 21211, got %v", err)
	}
}

func TestDoubleControlPaths(t *testing.T) {
	d := New(t)
	if s := awsdouble.PostControl(t, d.URL(), "/_fault", `{"kind":"error","status":429,"code":20429,"count":1}`); s != 200 {
		t.Fatalf("expected status 200 setting a fault, got %d", s)
	}
	if status, body := send(t, d, sms("+447400123456", "a")); status != 429 || errorBody(t, body).Code != 20429 {
		t.Errorf("expected 429 with error 20429, got %d %s", status, body)
	}
	for _, bad := range []string{`{"kind":"explode"}`, `{"kind":"error","status":400}`, `{"kind":"error","code":21211,"status":200}`, `{"kind":"status","status":200}`} {
		if s := awsdouble.PostControl(t, d.URL(), "/_fault", bad); s != 400 {
			t.Errorf("expected status 400 for %s, got %d", bad, s)
		}
	}
	if s := awsdouble.PostControl(t, d.URL(), "/_price", `{"price":"-0.00750","price_unit":"USD"}`); s != 200 {
		t.Fatalf("expected status 200 setting a price, got %d", s)
	}
	for _, bad := range []string{`{"price":"cheap"}`, `not json`} {
		if s := awsdouble.PostControl(t, d.URL(), "/_price", bad); s != 400 {
			t.Errorf("expected status 400 for price %s, got %d", bad, s)
		}
	}
	if status, body := send(t, d, sms("+447400123456", "b")); status != 201 || !strings.Contains(body, `"price":"-0.00750"`) {
		t.Errorf("expected the price set by /_price, got %d %s", status, body)
	}

	var got struct {
		Count     int       `json:"count"`
		Attempts  int       `json:"attempts"`
		Messages  []Message `json:"messages"`
		Price     *string   `json:"price"`
		PriceUnit string    `json:"price_unit"`
	}
	awsdouble.GetControl(t, d.URL(), "/_sent", &got)
	if got.Count != 1 || got.Attempts != 2 || len(got.Messages) != 1 || got.Messages[0].Body != "b" ||
		got.Price == nil || *got.Price != "-0.00750" || got.PriceUnit != "USD" {
		t.Errorf("expected 1 message (b) of 2 attempts at -0.00750 USD, got %+v", got)
	}
	if s := awsdouble.PostControl(t, d.URL(), "/_reset", ``); s != 200 || d.Count() != 0 || d.Attempts() != 0 {
		t.Errorf("expected a reset to forget the messages and attempts, got status %d, %d and %d", s, d.Count(), d.Attempts())
	}
}

func TestDoubleWaitFor(t *testing.T) {
	d := New(t)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, d.URL()+messagesURL, strings.NewReader(sms("+447400123456", "later").Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(AccountSID, AuthToken)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	msgs, err := d.WaitFor(1, 5*time.Second)
	if err != nil || len(msgs) != 1 || msgs[0].Body != "later" {
		t.Fatalf("expected the message, got %+v (%v)", msgs, err)
	}
	if _, err := d.WaitFor(2, 50*time.Millisecond); err == nil || !strings.Contains(err.Error(), "expected 2 messages") {
		t.Errorf("expected a timeout naming the count, got %v", err)
	}
}

func TestDoubleListensOnLoopbackOnly(t *testing.T) {
	if d, err := Listen("0.0.0.0:0"); err == nil {
		d.Close()
		t.Fatal("expected 0.0.0.0 refused")
	}
}
