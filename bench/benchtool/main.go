// Command benchtool is the helper of bench/run.sh. It mints what the load needs and serves
// the small peers the measured Caddy talks to:
//
//	benchtool sessions -secret S -realm R -mobile M -n N   gate session tokens, one a line
//	benchtool jwt -key K -n N                              HS256 JWTs for caddy-security
//	benchtool serve -upstream A -auth A -sns A             the upstream, the forward_auth
//	                                                       endpoint and the SNS double
//	benchtool cycle -api URL -key K -sns URL …             the send → verify cycle rate
//	benchtool summary results.tsv machine.txt              the Markdown table of a run
//
// The session tokens are made with the gate's own token package (caddyotp/session); run.sh
// still checks every token against the gate before it measures.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/caddyotp/caddyotp/caddyotp/session"
	"github.com/caddyotp/caddyotp/internal/snsdouble"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("benchtool: ")
	if len(os.Args) < 2 {
		log.Fatal("usage: benchtool sessions|jwt|serve|cycle|summary [flags]")
	}
	cmds := map[string]func([]string){"sessions": sessions, "jwt": jwts, "serve": serve, "cycle": cycle, "summary": summary}
	run, ok := cmds[os.Args[1]]
	if !ok {
		log.Fatalf("unknown command %q", os.Args[1])
	}
	run(os.Args[2:])
}

// sessions prints n distinct gate session tokens, as the app with secret would mint them.
func sessions(args []string) {
	fs := flag.NewFlagSet("sessions", flag.ExitOnError)
	secret := fs.String("secret", "", "the otp app's secret")
	realm := fs.String("realm", "default", "the gate's template")
	mobile := fs.String("mobile", "+447400123456", "the session's mobile")
	n := fs.Int("n", 1, "how many tokens")
	life := fs.Duration("life", time.Hour, "absolute lifetime")
	fs.Parse(args)
	if len(*secret) < 32 {
		log.Fatal("sessions: -secret of at least 32 bytes is required")
	}
	keys := session.NewKeyring([]byte(*secret))
	now := time.Now().Unix()
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for range *n {
		s := session.Session{Issued: now, Seen: now, Expires: now + int64(life.Seconds()), Realm: *realm, Mobile: *mobile}
		rand.Read(s.ID[:])
		tok, err := keys.SealSession(s)
		if err != nil {
			log.Fatalf("sessions: %v", err)
		}
		fmt.Fprintln(out, tok)
	}
}

// jwts prints n distinct HS256 JWTs with the role the caddy-security policy allows.
func jwts(args []string) {
	fs := flag.NewFlagSet("jwt", flag.ExitOnError)
	key := fs.String("key", "", "the shared HS256 key")
	n := fs.Int("n", 1, "how many tokens")
	fs.Parse(args)
	enc := base64.RawURLEncoding
	head := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	now := time.Now().Unix()
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for i := range *n {
		claims, _ := json.Marshal(map[string]any{
			"sub": fmt.Sprintf("bench-%d", i), "email": fmt.Sprintf("bench-%d@example.com", i),
			"name": "Bench User", "roles": []string{"authp/admin"},
			"iss": "https://localhost/auth", "iat": now, "nbf": now - 60, "exp": now + 3600,
		})
		signed := head + "." + enc.EncodeToString(claims)
		mac := hmac.New(sha256.New, []byte(*key))
		mac.Write([]byte(signed))
		fmt.Fprintln(out, signed+"."+enc.EncodeToString(mac.Sum(nil)))
	}
}

// serve runs the upstream, the forward_auth endpoint and the SNS double until SIGTERM.
func serve(args []string) {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	upstream := fs.String("upstream", "127.0.0.1:18480", "upstream address: answers 200 ok")
	auth := fs.String("auth", "127.0.0.1:18481", "forward_auth endpoint: 200 with the cookie, 401 without")
	cookie := fs.String("cookie", "auth_session=bench-session-0123456789", "the cookie the endpoint wants")
	sns := fs.String("sns", "127.0.0.1:18482", "SNS double address")
	fs.Parse(args)

	listen(*upstream, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok")
	}))
	name, value, _ := strings.Cut(*cookie, "=")
	listen(*auth, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie(name); err == nil && hmac.Equal([]byte(c.Value), []byte(value)) {
			w.Header().Set("Remote-User", "bench")
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
	}))
	d, err := snsdouble.NewServer()
	if err != nil {
		log.Fatalf("serve: sns double: %v", err)
	}
	defer d.Close()
	listen(*sns, newCodeIndex(d))

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	<-stop
}

func listen(addr string, h http.Handler) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatalf("serve: %v", err)
	}
	go (&http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}).Serve(ln)
}

// codeIndex sits in front of the SNS double and remembers the newest code sent to each
// mobile, so that the load can verify right codes: GET /_codes lists "mobile code" lines,
// GET /_code?mobile=… answers one, POST /_forget empties the index.
type codeIndex struct {
	d     *snsdouble.Double
	mu    sync.Mutex
	codes map[string]string
	order []string
}

func newCodeIndex(d *snsdouble.Double) *codeIndex {
	return &codeIndex{d: d, codes: make(map[string]string)}
}

var codeInText = regexp.MustCompile(`\b(\d{6,10})\b`)

func (ci *codeIndex) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/_codes":
		ci.mu.Lock()
		var b bytes.Buffer
		for _, m := range ci.order {
			fmt.Fprintf(&b, "%s %s\n", m, ci.codes[m])
		}
		ci.mu.Unlock()
		w.Write(b.Bytes())
		return
	case "/_code":
		ci.mu.Lock()
		c := ci.codes[r.URL.Query().Get("mobile")]
		ci.mu.Unlock()
		if c == "" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, c)
		return
	case "/_forget":
		ci.mu.Lock()
		ci.codes, ci.order = make(map[string]string), nil
		ci.mu.Unlock()
		ci.d.Reset()
		return
	}
	if r.Method == http.MethodPost {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if form, err := url.ParseQuery(string(body)); err == nil && form.Get("Action") == "Publish" {
			if c := codeInText.FindString(form.Get("Message")); c != "" {
				m := form.Get("PhoneNumber")
				ci.mu.Lock()
				if _, seen := ci.codes[m]; !seen {
					ci.order = append(ci.order, m)
				}
				ci.codes[m] = c
				ci.mu.Unlock()
			}
		}
	}
	ci.d.ServeHTTP(w, r)
	// The double keeps every publish; the index is what the load needs, so keep it small.
	if ci.d.Count() > 10_000 {
		ci.d.Reset()
	}
}

// cycle drives send-otp then verify-otp with the code the SNS double got, on -c
// connections for -d, and prints the cycles per second.
func cycle(args []string) {
	fs := flag.NewFlagSet("cycle", flag.ExitOnError)
	api := fs.String("api", "", "the otp_api base URL, such as http://127.0.0.1:18406/otp")
	key := fs.String("key", "", "template-key")
	sns := fs.String("sns", "", "the SNS double (benchtool serve) URL")
	conns := fs.Int("c", 32, "concurrent clients")
	dur := fs.Duration("d", 10*time.Second, "duration")
	base := fs.Int("base", 0, "first mobile number (+4474 and 8 digits)")
	fs.Parse(args)

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 2 * *conns}}
	post := func(path, body string) (int, error) {
		req, _ := http.NewRequest(http.MethodPost, *api+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Template-Key", *key)
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	var next, done, failed atomic.Int64
	next.Store(int64(*base))
	ctx, cancel := context.WithTimeout(context.Background(), *dur)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for range *conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				mobile := fmt.Sprintf("+4474%08d", next.Add(1)%100_000_000)
				if st, err := post("/send-otp", `{"mobile":"`+mobile+`"}`); err != nil || st != http.StatusOK {
					failed.Add(1)
					continue
				}
				resp, err := client.Get(*sns + "/_code?mobile=" + url.QueryEscape(mobile))
				if err != nil {
					failed.Add(1)
					continue
				}
				code, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if st, err := post("/verify-otp", `{"mobile":"`+mobile+`","otp":"`+string(code)+`"}`); err != nil || st != http.StatusOK {
					failed.Add(1)
					continue
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	fmt.Printf("cycles %d failed %d seconds %.2f cycles/s %.1f\n", done.Load(), failed.Load(), secs, float64(done.Load())/secs)
}
