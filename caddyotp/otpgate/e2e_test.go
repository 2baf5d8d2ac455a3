package otpgate

import (
	"crypto/rand"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/caddyotp/caddyotp/caddyotp/session"
	"github.com/caddyotp/caddyotp/internal/snsdouble"
	"github.com/caddyotp/caddyotp/internal/testcaddy"
	"github.com/caddyotp/caddyotp/internal/testnet"
)

const gateSecret = "gate-secret-0123456789abcdef0123456789"

// upstream records what reached it.
type upstream struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []*http.Request
}

func newUpstream(t *testing.T) *upstream {
	u := &upstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.reqs = append(u.reqs, r.Clone(r.Context()))
		u.mu.Unlock()
		fmt.Fprintf(w, "upstream: mobile=%s", r.Header.Get("X-OTP-Mobile"))
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.reqs)
}

func (u *upstream) last() *http.Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.reqs) == 0 {
		return nil
	}
	return u.reqs[len(u.reqs)-1]
}

type gateEnv struct {
	base string // the site with the mobile-entry gate on /admin/*
	idp  string // the site with basic_auth and an identity-bound gate
	sns  *snsdouble.Double
	up   *upstream
}

func startGate(t *testing.T, templateExtra string) *gateEnv {
	t.Helper()
	snsdouble.OfflineAWS(t)
	env := &gateEnv{sns: snsdouble.New(t), up: newUpstream(t)}
	p1, p2 := testnet.FreePort(t), testnet.FreePort(t)
	env.base, env.idp = testnet.Site(p1), testnet.Site(p2)
	hash := func(pw string) string {
		h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		return string(h)
	}
	testcaddy.Start(t, fmt.Sprintf(`{
	admin off
	otp {
		secret %s
		sender sns {
			region eu-west-2
			endpoint %s
		}
		template login {
			resend 0s
			%s
		}
	}
}

%s {
	otp_gate /admin/* login {
		allow +447400123456 +12025550123
		title Acme
	}
	reverse_proxy %s
}

%s {
	basic_auth {
		alice %s
		bob %s
		carol %s
	}
	otp_gate login {
		user {http.auth.user.id}
		mobiles {
			alice +447400123456
			bob +12025550123
		}
	}
	reverse_proxy %s
}
`, gateSecret, env.sns.URL(), templateExtra, env.base, env.up.srv.Listener.Addr(), env.idp,
		hash("alice-pw"), hash("bob-pw"), hash("carol-pw"), env.up.srv.Listener.Addr()))
	return env
}

// browser is an http.Client with a cookie jar that does not follow redirects, so that each
// step's status can be checked.
type browser struct {
	c      *http.Client
	user   string
	pass   string
	header map[string]string // sent with every request, before the request's own
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type shown struct {
	status int
	header http.Header
	body   string
}

var csrfPattern = regexp.MustCompile(`name="_otp_csrf" value="([0-9a-f]+)"`)

func (p shown) csrf(t *testing.T) string {
	t.Helper()
	m := csrfPattern.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("expected an anti-CSRF token in the page, got %s", p.body)
	}
	return m[1]
}

func (b *browser) do(t *testing.T, method, u string, form url.Values, header map[string]string) shown {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if b.user != "" {
		req.SetBasicAuth(b.user, b.pass)
	}
	for k, v := range b.header {
		req.Header.Set(k, v)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return shown{status: resp.StatusCode, header: resp.Header, body: html.UnescapeString(string(raw))}
}

func (b *browser) get(t *testing.T, u string) shown { return b.do(t, "GET", u, nil, nil) }

func (b *browser) post(t *testing.T, u string, form url.Values) shown {
	return b.do(t, "POST", u, form, nil)
}

var gateCode = regexp.MustCompile(`(\d{6})`)

// waitCode waits for the SMS the gate sends in the background and returns its code.
func waitCode(t *testing.T, d *snsdouble.Double, mobile string, before int) string {
	t.Helper()
	pubs, err := d.WaitFor(before+1, 5*time.Second)
	if err != nil {
		t.Fatalf("expected an SMS to %s: %v", mobile, err)
	}
	p := pubs[len(pubs)-1]
	if p.PhoneNumber != mobile {
		t.Fatalf("expected an SMS to %s, got one to %s", mobile, p.PhoneNumber)
	}
	return gateCode.FindString(p.Message)
}

// signIn runs the mobile flow to the end and returns the last page (the upstream's).
func signIn(t *testing.T, env *gateEnv, b *browser, u, mobile string) shown {
	t.Helper()
	p := b.get(t, u)
	if p.status != 401 || !strings.Contains(p.body, `name="mobile"`) {
		t.Fatalf("expected 401 and the mobile step, got %d %s", p.status, p.body)
	}
	before := env.sns.Count()
	p = b.post(t, u, url.Values{"_otp_step": {"send"}, "_otp_csrf": {p.csrf(t)}, "mobile": {mobile}})
	if p.status != 303 {
		t.Fatalf("expected 303 after send, got %d %s", p.status, p.body)
	}
	code := waitCode(t, env.sns, mobile, before)
	p = b.get(t, u)
	if p.status != 401 || !strings.Contains(p.body, `autocomplete="one-time-code"`) {
		t.Fatalf("expected the code step, got %d %s", p.status, p.body)
	}
	p = b.post(t, u, url.Values{"_otp_step": {"verify"}, "_otp_csrf": {p.csrf(t)}, "otp": {code}})
	if p.status != 303 || p.header.Get("Location") != strings.TrimPrefix(u, env.base) && !strings.HasPrefix(u, env.idp) {
		t.Fatalf("expected 303 to the same URL, got %d %v", p.status, p.header)
	}
	return b.get(t, u)
}

func TestGateFlow(t *testing.T) {
	env := startGate(t, "")
	b := newBrowser(t)
	u := env.base + "/admin/reports?year=2026"
	p := signIn(t, env, b, u, "+447400123456")
	if p.status != 200 || !strings.Contains(p.body, "upstream: mobile=+447400123456") {
		t.Fatalf("expected the upstream with the mobile, got %d %s", p.status, p.body)
	}
	last := env.up.last()
	if last.URL.RawQuery != "year=2026" {
		t.Errorf("expected the query kept, got %q", last.URL.RawQuery)
	}
	if strings.Contains(last.Header.Get("Cookie"), "otp_") {
		t.Errorf("expected the gate's cookies removed for the upstream, got %q", last.Header.Get("Cookie"))
	}

	// Logout: GET shows a button, POST ends the session and goes back to /admin/.
	p = b.get(t, env.base+"/admin/.otp/logout")
	if p.status != 200 || !strings.Contains(p.body, "Sign out") {
		t.Fatalf("expected the sign-out page, got %d %s", p.status, p.body)
	}
	p = b.post(t, env.base+"/admin/.otp/logout", url.Values{"_otp_csrf": {p.csrf(t)}})
	if p.status != 303 || p.header.Get("Location") != "/admin/" {
		t.Fatalf("expected 303 to /admin/, got %d %v", p.status, p.header.Get("Location"))
	}
	if p = b.get(t, u); p.status != 401 {
		t.Fatalf("expected the challenge after logout, got %d", p.status)
	}
}

func TestGateWrongCode(t *testing.T) {
	env := startGate(t, "attempts 3")
	b := newBrowser(t)
	u := env.base + "/admin/"
	p := b.get(t, u)
	before := env.sns.Count()
	b.post(t, u, url.Values{"_otp_step": {"send"}, "_otp_csrf": {p.csrf(t)}, "mobile": {"+447400123456"}})
	code := waitCode(t, env.sns, "+447400123456", before)
	wrong := "000000"
	if code == wrong {
		wrong = "000001"
	}
	for _, want := range []string{"2 attempts left", "1 attempt left", "no longer works"} {
		p = b.get(t, u)
		p = b.post(t, u, url.Values{"_otp_step": {"verify"}, "_otp_csrf": {p.csrf(t)}, "otp": {wrong}})
		if p.status != 401 || !strings.Contains(p.body, want) || !strings.Contains(p.body, `role="alert"`) {
			t.Fatalf("expected 401 with %q, got %d %s", want, p.status, p.body)
		}
	}
	if env.up.count() != 0 {
		t.Errorf("expected nothing to reach the upstream")
	}
}

// TestGateNotAllowed: a mobile that is not allowed gets the same pages and statuses, and
// no SMS.
func TestGateNotAllowed(t *testing.T) {
	env := startGate(t, "")
	run := func(mobile string) []string {
		b := newBrowser(t)
		u := env.base + "/admin/"
		var trace []string
		p := b.get(t, u)
		trace = append(trace, fmt.Sprint(p.status))
		p = b.post(t, u, url.Values{"_otp_step": {"send"}, "_otp_csrf": {p.csrf(t)}, "mobile": {mobile}})
		trace = append(trace, fmt.Sprint(p.status, p.header.Get("Location")))
		p = b.get(t, u)
		trace = append(trace, fmt.Sprint(p.status), maskDigits(p.body))
		p = b.post(t, u, url.Values{"_otp_step": {"verify"}, "_otp_csrf": {p.csrf(t)}, "otp": {"999999"}})
		trace = append(trace, fmt.Sprint(p.status), maskDigits(p.body))
		return trace
	}
	allowed := run("+12025550123")
	time.Sleep(300 * time.Millisecond) // let the background send of the allowed one finish
	before := env.sns.Count()
	refused := run("+12025550124")
	time.Sleep(300 * time.Millisecond)
	if env.sns.Count() != before {
		t.Errorf("expected no SMS for a mobile not allowed")
	}
	for i := range allowed {
		if allowed[i] != refused[i] {
			t.Errorf("step %d: expected the same answer, got\n%s\nand\n%s", i, allowed[i], refused[i])
		}
	}
}

var hexAndDigits = regexp.MustCompile(`[0-9a-f]{32}|••••[0-9]{2}`)

// maskDigits hides what differs on purpose between two visitors: anti-CSRF tokens and the
// last digits of the masked mobile.
func maskDigits(s string) string { return hexAndDigits.ReplaceAllString(s, "X") }

func TestGateIdentityBound(t *testing.T) {
	env := startGate(t, "")
	alice := newBrowser(t)
	alice.user, alice.pass = "alice", "alice-pw"
	u := env.idp + "/"
	p := alice.get(t, u)
	if p.status != 401 || !strings.Contains(p.body, "+44 •••• ••••56") || strings.Contains(p.body, `name="mobile"`) {
		t.Fatalf("expected the masked mobile and no mobile input, got %d %s", p.status, p.body)
	}
	before := env.sns.Count()
	alice.post(t, u, url.Values{"_otp_step": {"send"}, "_otp_csrf": {p.csrf(t)}})
	code := waitCode(t, env.sns, "+447400123456", before)
	p = alice.get(t, u)
	p = alice.post(t, u, url.Values{"_otp_step": {"verify"}, "_otp_csrf": {p.csrf(t)}, "otp": {code}})
	if p.status != 303 {
		t.Fatalf("expected 303, got %d %s", p.status, p.body)
	}
	if p = alice.get(t, u); p.status != 200 {
		t.Fatalf("expected alice through, got %d %s", p.status, p.body)
	}

	// Bob presents alice's session cookie: not valid for him.
	bob := newBrowser(t)
	bob.user, bob.pass = "bob", "bob-pw"
	site, _ := url.Parse(u)
	bob.c.Jar.SetCookies(site, alice.c.Jar.Cookies(site))
	if p = bob.get(t, u); p.status != 401 || !strings.Contains(p.body, "+1 •••• ••••23") {
		t.Fatalf("expected bob challenged for his own mobile, got %d %s", p.status, p.body)
	}

	// Carol has no mobile: the same page, no SMS.
	carol := newBrowser(t)
	carol.user, carol.pass = "carol", "carol-pw"
	p = carol.get(t, u)
	if p.status != 401 || !strings.Contains(p.body, "Confirm it") || !strings.Contains(p.body, "Send code") {
		t.Fatalf("expected the same page for carol, got %d %s", p.status, p.body)
	}
	before = env.sns.Count()
	p = carol.post(t, u, url.Values{"_otp_step": {"send"}, "_otp_csrf": {p.csrf(t)}})
	if p.status != 303 {
		t.Fatalf("expected 303 for carol too, got %d", p.status)
	}
	time.Sleep(300 * time.Millisecond)
	if env.sns.Count() != before {
		t.Errorf("expected no SMS for a user without a mobile")
	}
}

func TestGateHeaderSpoofing(t *testing.T) {
	env := startGate(t, "")
	spoof := map[string]string{"X-OTP-Mobile": "+449999999999", "x-otp-mobile": "+449999999998", "X_OTP_Mobile": "+449999999997", "x_otp_MOBILE": "+449999999996"}
	// Without a session nothing passes, whatever the headers say.
	b := newBrowser(t)
	for k, v := range spoof {
		if p := b.do(t, "GET", env.base+"/admin/", nil, map[string]string{k: v}); p.status != 401 {
			t.Fatalf("expected 401 with a spoofed %s, got %d", k, p.status)
		}
	}
	if env.up.count() != 0 {
		t.Fatalf("expected nothing at the upstream")
	}
	// With a session, the upstream sees only the gate's value.
	signIn(t, env, b, env.base+"/admin/", "+447400123456")
	req, _ := http.NewRequest("GET", env.base+"/admin/x", nil)
	for k, v := range spoof {
		req.Header[k] = []string{v} // raw keys, not canonicalised
	}
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	last := env.up.last()
	for k, vs := range last.Header {
		if normalizeHeaderName(k) == "x-otp-mobile" && (len(vs) != 1 || vs[0] != "+447400123456") {
			t.Errorf("expected only the gate's X-OTP-Mobile, got %s: %v", k, vs)
		}
	}
	if got := last.Header.Get("X-OTP-Mobile"); got != "+447400123456" {
		t.Errorf("expected X-OTP-Mobile +447400123456, got %q", got)
	}
}

func TestGateUpstreamPostWithoutSession(t *testing.T) {
	env := startGate(t, "")
	for _, ct := range []string{"application/json", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"} {
		req, _ := http.NewRequest("POST", env.base+"/admin/delete-everything", strings.NewReader(`a=b`))
		req.Header.Set("Content-Type", ct)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 401 || !strings.Contains(string(body), `"code":"otp_required"`) {
			t.Errorf("%s: expected 401 otp_required, got %d %s", ct, resp.StatusCode, body)
		}
	}
	if env.up.count() != 0 {
		t.Errorf("expected nothing at the upstream, got %d requests", env.up.count())
	}
}

func TestGateCSRF(t *testing.T) {
	env := startGate(t, "")
	b := newBrowser(t)
	u := env.base + "/admin/"
	p := b.get(t, u)
	other := newBrowser(t).get(t, u).csrf(t) // another visitor's token
	for name, token := range map[string]string{"missing": "", "wrong": strings.Repeat("0", 32), "another visitor's": other} {
		before := env.sns.Count()
		form := url.Values{"_otp_step": {"send"}, "mobile": {"+447400123456"}}
		if token != "" {
			form.Set("_otp_csrf", token)
		}
		p = b.post(t, u, form)
		if p.status != 403 {
			t.Errorf("%s token: expected 403, got %d", name, p.status)
		}
		time.Sleep(100 * time.Millisecond)
		if env.sns.Count() != before {
			t.Errorf("%s token: expected no SMS", name)
		}
	}
}

// TestGateCookieTampering presents damaged, foreign, expired and revoked session tokens.
func TestGateCookieTampering(t *testing.T) {
	env := startGate(t, "")
	b := newBrowser(t)
	signIn(t, env, b, env.base+"/admin/", "+447400123456")
	site, _ := url.Parse(env.base)
	var good string
	for _, c := range b.c.Jar.Cookies(site) {
		if c.Name == sessionCookie {
			good = c.Value
		}
	}
	if good == "" {
		t.Fatal("expected a session cookie")
	}
	try := func(name, token string) int {
		req, _ := http.NewRequest("GET", env.base+"/admin/", nil)
		req.Header.Set("Cookie", sessionCookie+"="+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := try("good", good); s != 200 {
		t.Fatalf("expected the good token to pass, got %d", s)
	}
	flip := func(tok string, i int) string {
		bs := []byte(tok)
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		j := strings.IndexByte(alphabet, bs[i])
		bs[i] = alphabet[(j+1)%64]
		return string(bs)
	}
	cases := map[string]string{
		"truncated":  good[:len(good)-1],
		"half":       good[:len(good)/2],
		"empty":      "",
		"oversized":  good + strings.Repeat("A", 5000),
		"not base64": "!!" + good[2:],
		"other secret": func() string {
			s, _, _ := mintWith([]byte(strings.Repeat("z", 32)), "login", "", "+447400123456", time.Now(), time.Hour)
			return s
		}(),
		"expired": func() string {
			s, _, _ := mintWith([]byte(gateSecret), "login", "", "+447400123456", time.Now().Add(-2*time.Hour), time.Hour)
			return s
		}(),
		"idle": func() string {
			sm := session.NewKeyring([]byte(gateSecret))
			now := time.Now()
			c := session.Session{Issued: now.Add(-time.Hour).Unix(), Seen: now.Add(-31 * time.Minute).Unix(), Expires: now.Add(time.Hour).Unix(), Realm: "login", Mobile: "+447400123456"}
			tok, _ := sm.SealSession(c)
			return tok
		}(),
		"other realm": func() string {
			s, _, _ := mintWith([]byte(gateSecret), "signup", "", "+447400123456", time.Now(), time.Hour)
			return s
		}(),
		"not allowed mobile": func() string {
			s, _, _ := mintWith([]byte(gateSecret), "login", "", "+447400999999", time.Now(), time.Hour)
			return s
		}(),
	}
	for i := 0; i < len(good); i += 3 {
		cases[fmt.Sprintf("bit flip at %d", i)] = flip(good, i)
	}
	for name, tok := range cases {
		if s := try(name, tok); s != 401 {
			t.Errorf("%s: expected 401, got %d", name, s)
		}
	}
	// A token signed with the same secret and still in its limits passes: the cases above
	// fail for what they are named after, not for being made outside the gate.
	fresh, _, _ := mintWith([]byte(gateSecret), "login", "", "+447400123456", time.Now(), time.Hour)
	if s := try("fresh", fresh); s != 200 {
		t.Fatalf("expected a freshly minted token to pass, got %d", s)
	}
	// Revoked: log out, then present the old token again.
	p := b.get(t, env.base+"/admin/.otp/logout")
	b.post(t, env.base+"/admin/.otp/logout", url.Values{"_otp_csrf": {p.csrf(t)}})
	if s := try("revoked", good); s != 401 {
		t.Errorf("revoked: expected 401, got %d", s)
	}
}

// mintWith seals a new session for realm and mobile with secret, as a gate with that secret
// would mint it at now for life.
func mintWith(secret []byte, realm, user, mobile string, now time.Time, life time.Duration) (string, session.Session, error) {
	s := session.Session{Issued: now.Unix(), Seen: now.Unix(), Expires: now.Add(life).Unix(), Realm: realm, User: user, Mobile: mobile}
	rand.Read(s.ID[:])
	tok, err := session.NewKeyring(secret).SealSession(s)
	return tok, s, err
}
