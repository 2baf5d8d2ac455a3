// Package twiliodouble is a Twilio Programmable Messaging test double: it speaks the REST
// API's shape for Create Message (a form POST to
// /2010-04-01/Accounts/{AccountSid}/Messages.json with HTTP basic auth, a JSON Message
// resource back, JSON error bodies with code, message, more_info and status) well enough
// for twilio-go's CreateMessage, records every accepted message, and injects the faults a
// sender must survive: error answers, a bare 5xx, a reply that never comes, and a message
// accepted whose reply is lost.
//
// It listens on 127.0.0.1 only, and knows one account: AccountSID, whose requests
// authenticate with AuthToken, or with the API key APIKey and its secret APISecret.
package twiliodouble

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/internal/awsdouble"
)

// The credentials of the one account the double knows. Twilio's SIDs are two letters and
// 32 hex digits; tokens and secrets are letters and digits.
const (
	AccountSID = "AC0123456789abcdef0123456789abcdef"
	AuthToken  = "f0e1d2c3b4a5968778695a4b3c2d1e0f"
	APIKey     = "SK00112233445566778899aabbccddeeff"
	APISecret  = "Secret0123456789abcdefGHIJKLMNOP"
)

// messagesPath is the Messages resource of an account, whose POST is Create Message.
var messagesPath = regexp.MustCompile(`^/2010-04-01/Accounts/([^/]+)/Messages\.json$`)

const (
	opCreateMessage = "CreateMessage"
	maxRequestBody  = 1 << 20
	defaultUnit     = "USD"
)

// Kinds of Fault.
const (
	KindNone   = ""       // answer normally
	KindError  = "error"  // answer with a Twilio error body: Status, Code and Message
	KindStatus = "status" // answer with a bare Status and a body that is no Twilio error (a proxy's page)
	KindHang   = "hang"   // never answer, until the client gives up or the double closes
	KindDrop   = "drop"   // accept and record the message, then drop the connection without a reply
)

// Fault is what the double does with a Create Message instead of answering normally.
type Fault struct {
	Kind    string `json:"kind"`
	Status  int    `json:"status,omitempty"`  // the HTTP status, for KindError and KindStatus
	Code    int    `json:"code,omitempty"`    // Twilio's error code, for KindError
	Message string `json:"message,omitempty"` // the error's message, for KindError
}

// The faults a sender meets in practice, with the codes of Twilio's error dictionary.
var (
	// InvalidTo is error 21211 (400): the To number is no valid phone number.
	InvalidTo = ErrorFault(http.StatusBadRequest, 21211, "The 'To' number is not a valid phone number.")
	// TooManyRequests is error 20429 (429): the account's concurrency limit is reached.
	TooManyRequests = ErrorFault(http.StatusTooManyRequests, 20429, "Too Many Requests")
	// InternalError is error 20500 (500).
	InternalError = ErrorFault(http.StatusInternalServerError, 20500, "Internal Server Error")
	// Unavailable is error 20503 (503).
	Unavailable = ErrorFault(http.StatusServiceUnavailable, 20503, "Service Unavailable")
	// BadGateway is a bare 502 without a Twilio error body, as a proxy in front answers.
	BadGateway = Fault{Kind: KindStatus, Status: http.StatusBadGateway}
	// Hang never answers.
	Hang = Fault{Kind: KindHang}
	// Drop accepts and records the message, then closes the connection without a reply.
	Drop = Fault{Kind: KindDrop}
)

// ErrorFault is a fault that answers with the HTTP status and Twilio error code given.
func ErrorFault(status, code int, message string) Fault {
	return Fault{Kind: KindError, Status: status, Code: code, Message: message}
}

// Message is one Create Message the double accepted.
type Message struct {
	SID                 string `json:"sid"`
	AccountSID          string `json:"account_sid"` // the account in the path
	AuthUser            string `json:"auth_user"`   // the basic auth username: AccountSID or APIKey
	To                  string `json:"to"`
	From                string `json:"from,omitempty"`
	MessagingServiceSID string `json:"messaging_service_sid,omitempty"`
	Body                string `json:"body"`
	ValidityPeriod      int    `json:"validity_period,omitempty"` // 0 when the request had none
	// Params lists the form parameters the request carried, sorted, so that a test can
	// tell an absent parameter from an empty one.
	Params []string  `json:"params"`
	Time   time.Time `json:"time"`
}

// Double is a running Twilio test double. Its methods are safe for concurrent use.
type Double struct {
	awsdouble.Base[Fault] // URL, Close, FailNext, SetFault and Attempts
	control               awsdouble.Control[Fault]
	messages              awsdouble.Record[Message]

	mu        sync.Mutex
	price     *string // nil: the answers' price is null
	priceUnit string
}

// New starts a double on a free port of 127.0.0.1 and closes it when the test ends.
func New(t testing.TB) *Double {
	t.Helper()
	return awsdouble.Start(t, "twilio double", Listen)
}

// Listen starts a double on addr, which must be a 127.0.0.1 address (port 0 for any free one).
func Listen(addr string) (*Double, error) {
	srv, err := awsdouble.Listen(addr)
	if err != nil {
		return nil, err
	}
	d := &Double{Base: awsdouble.Base[Fault]{Server: srv}, priceUnit: defaultUnit}
	d.control = awsdouble.Control[Fault]{ListPath: "/_sent", List: d.list, Faults: &d.Faults, Check: checkFault, Reset: d.Reset}
	srv.Serve(d)
	return d, nil
}

// SetPrice makes the answers carry price (a decimal string as Twilio writes it, negative
// for a charge, such as "-0.00750") in unit (such as "USD"). An empty price makes it null,
// as Twilio's answer to a Create Message has it; an empty unit is USD.
func (d *Double) SetPrice(price, unit string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.price = nil
	if price != "" {
		d.price = &price
	}
	d.priceUnit = unit
	if unit == "" {
		d.priceUnit = defaultUnit
	}
}

// answerPrice is the price and unit the answers carry.
func (d *Double) answerPrice() (*string, string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.price, d.priceUnit
}

// Messages returns a copy of the messages accepted so far, oldest first.
func (d *Double) Messages() []Message {
	out := d.messages.Items()
	for i := range out {
		out[i].Params = slices.Clone(out[i].Params)
	}
	return out
}

// Count is how many messages were accepted (answered, reply dropped or not).
func (d *Double) Count() int { return d.messages.Len() }

// Reset forgets the messages and attempts, clears every fault and makes the price null.
func (d *Double) Reset() {
	d.messages.Reset()
	d.Faults.Reset()
	d.SetPrice("", "")
}

// WaitFor waits until at least n messages were accepted, and returns them. It returns an
// error naming the count reached if timeout passes first.
func (d *Double) WaitFor(n int, timeout time.Duration) ([]Message, error) {
	err := d.messages.WaitFor(n, "messages", timeout, d.Server.Closing())
	return d.Messages(), err
}

// ServeHTTP answers one Create Message, or one of the control requests: those of
// awsdouble.Control (GET /_sent answers {"count":N,"attempts":N,"messages":[…],…}; POST
// /_fault takes a Fault, such as {"kind":"error","status":429,"code":20429,"count":1}), and
// POST /_price, which takes {"price":"-0.00750","price_unit":"USD"} as SetPrice does.
func (d *Double) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/_price" && r.Method == http.MethodPost {
		d.servePrice(w, r)
		return
	}
	if awsdouble.IsControl(r) {
		d.control.ServeHTTP(w, r)
		return
	}
	match := messagesPath.FindStringSubmatch(r.URL.Path)
	if match == nil {
		writeError(w, errNotFound(r.URL.Path))
		return
	}
	if r.Method != http.MethodPost {
		writeError(w, errMethodNotAllowed(r.Method))
		return
	}
	account := match[1]
	user, ok := authenticate(r, account)
	if !ok {
		writeError(w, errAuthenticate)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxRequestBody)
	if err := r.ParseForm(); err != nil {
		writeError(w, apiError{Status: http.StatusBadRequest, Message: "Unable to read the request's parameters: " + err.Error()})
		return
	}

	fault := d.Faults.Take(opCreateMessage, nil)
	switch fault.Kind {
	case KindError:
		writeError(w, faultError(fault))
		return
	case KindStatus:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(fault.Status)
		fmt.Fprintf(w, "<html><body><h1>%d %s</h1></body></html>\n", fault.Status, http.StatusText(fault.Status))
		return
	case KindHang:
		d.Server.Hang(w, r)
		return
	}

	m, bad := parseCreateMessage(r.PostForm, account, user)
	if bad != nil {
		writeError(w, *bad)
		return
	}
	m.SID = newSID("SM")
	m.Time = time.Now()
	d.messages.Add(m)
	if fault.Kind == KindDrop {
		awsdouble.DropConnection(w)
		return
	}
	price, unit := d.answerPrice()
	writeJSON(w, http.StatusCreated, resource(m, price, unit))
}

// authenticate checks the request's basic auth for account: its SID and auth token, or
// the API key and its secret. It returns the username.
func authenticate(r *http.Request, account string) (string, bool) {
	user, pass, ok := r.BasicAuth()
	if !ok || account != AccountSID {
		return "", false
	}
	return user, (user == AccountSID && pass == AuthToken) || (user == APIKey && pass == APISecret)
}

// faultError is the error answer of an error fault.
func faultError(f Fault) apiError {
	e := newError(f.Status, f.Code, f.Message)
	if e.Message == "" {
		e.Message = http.StatusText(f.Status)
	}
	return e
}

// newSID is a new SID of the resource type prefix (such as "SM"): the prefix and 32 hex digits.
func newSID(prefix string) string {
	b := make([]byte, 16)
	rand.Read(b) //nolint:errcheck // crypto/rand.Read never fails
	return prefix + hex.EncodeToString(b)
}

// list is the answer of GET /_sent.
func (d *Double) list() any {
	price, unit := d.answerPrice()
	return map[string]any{"count": d.Count(), "attempts": d.Attempts(), "messages": d.Messages(),
		"price": price, "price_unit": unit}
}

// pricePlan is the body of POST /_price.
type pricePlan struct {
	Price     string `json:"price"`
	PriceUnit string `json:"price_unit"`
}

// servePrice sets the answers' price from POST /_price.
func (d *Double) servePrice(w http.ResponseWriter, r *http.Request) {
	var plan pricePlan
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 4096))
	if err == nil {
		err = json.Unmarshal(body, &plan)
	}
	if err == nil && plan.Price != "" {
		_, err = strconv.ParseFloat(plan.Price, 64)
	}
	if err != nil {
		awsdouble.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "expected {\"price\":\"<decimal>\",\"price_unit\":\"<currency>\"}: " + err.Error()})
		return
	}
	d.SetPrice(plan.Price, plan.PriceUnit)
	awsdouble.WriteJSON(w, http.StatusOK, plan)
}

// checkFault says why POST /_fault refuses f; "" when it is fine.
func checkFault(f Fault) string {
	switch f.Kind {
	case KindNone, KindHang, KindDrop:
		return ""
	case KindError:
		if f.Code <= 0 || f.Status < 400 || f.Status > 599 {
			return "an error fault needs a Twilio error code and a 4xx or 5xx status"
		}
		return ""
	case KindStatus:
		if f.Status < 400 || f.Status > 599 {
			return "a status fault needs a 4xx or 5xx status"
		}
		return ""
	}
	return "unknown fault kind " + strconv.Quote(f.Kind)
}
