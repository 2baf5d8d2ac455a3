// Package caddyotp is the host of the caddyotp plugin: the `otp` app and its service (send
// a code, verify a code, gate sessions, the SMS ledger), the contracts its guests fill
// (Store in the otp.stores namespace, Sender in otp.senders), templates, limits, errors,
// metrics and the `otp` global option. It imports no provider SDK and no database client:
// the stores (memorystore, redisstore) and senders (logsender, snssender) are packages of
// their own, and the handlers (otpgate, otpapi) use only the exported API.
package caddyotp

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
)

func init() {
	caddy.RegisterModule(App{})
}

// App is the `otp` app: it holds the secret, the store, the sender, the templates, the
// prices and the budget, and offers the one service (send a code, verify a code) that the
// otp_api and otp_gate handlers put on the web.
type App struct {
	// The key for code hashes and session tokens: at least 32 bytes. Required with a shared
	// store (all instances must use the same). With the memory store and none set, a random
	// one is made at start, so codes and sessions end with the process. Takes {env.*}
	// placeholders; never logged. Default: random, memory store only.
	Secret string `json:"secret,omitempty"`

	// Earlier secrets that still verify gate sessions, so that a new secret can be rolled
	// out without signing everyone out. Remove them once the longest session has ended
	// (24h at most). Codes in flight are only good under the current secret.
	// Default: none
	PreviousSecrets []string `json:"previous_secrets,omitempty"`

	// Where codes, counters, the budget and the ledger live: a module in the otp.stores
	// namespace. Default: `memory`
	StoreRaw json.RawMessage `json:"store,omitempty" caddy:"namespace=otp.stores inline_key=store"`

	// How SMS leave: a module in the otp.senders namespace (`sns`, or `log` for
	// development). Required.
	SenderRaw json.RawMessage `json:"sender,omitempty" caddy:"namespace=otp.senders inline_key=sender"`

	// Readers of the providers' delivery reports, modules in the otp.reports namespace
	// (`sqs`, `cloudwatch_logs`): they give the ledger each SMS's outcome and billed price,
	// and correct the budget by what was billed. Default: none (the ledger keeps the
	// estimates)
	ReportsRaw []json.RawMessage `json:"reports,omitempty" caddy:"namespace=otp.reports inline_key=reporter"`

	// The templates by name. A template named `default` always exists; it is used where no
	// template is named. Default: `default` with the defaults of a template.
	Templates map[string]*Template `json:"templates,omitempty"`

	// Estimated USD per SMS part by ISO country code, with `default` for the rest; used for
	// the ledger, the budget and the spend metric. Default: `default` 0.05
	Prices map[string]float64 `json:"prices,omitempty"`

	// Hard caps on spend, checked and reserved before every send. Default: none
	Budget *Budget `json:"budget,omitempty"`

	// The most time one send may take at the provider, both attempts together, 1s to 30s.
	// Default: 10s
	SendTimeout caddy.Duration `json:"send_timeout,omitempty"`

	// When a run of failed verifications locks a mobile. Default: see Lockout
	Lockout *Lockout `json:"lockout,omitempty"`

	secret    []byte
	store     Store
	sender    Sender
	provider  string         // the sender's module name, for the ledger
	feedback  FeedbackSender // the sender, when it wants feedback
	reporters []Reporter
	templates map[string]*Template
	keyed     []*Template // the templates with an API key, for otp_api
	policy    LockPolicy
	metrics   *metrics
	sessions  *sessionManager
	bg        *background
	logger    *zap.Logger
}

// Budget caps spend in USD per UTC day and month. A cap of 0 is no cap.
type Budget struct {
	// USD per UTC day. Default: 0 (no cap)
	Daily float64 `json:"daily,omitempty"`
	// USD per UTC calendar month. Default: 0 (no cap)
	Monthly float64 `json:"monthly,omitempty"`
}

// Lockout says when a mobile is locked after wrong codes (SECURITY.md, "Guessing").
type Lockout struct {
	// Every After-th wrong code in a run locks the mobile, 3 to 100. Default: 20
	After int `json:"after,omitempty"`
	// The first lock of a run, 1m to 24h; each further lock in the run doubles. Default: 15m
	Base caddy.Duration `json:"base,omitempty"`
	// The longest lock, up to 7 days. Default: 24h
	Max caddy.Duration `json:"max,omitempty"`
	// A run is forgotten this long after its last wrong code, 1h to 14 days, and longer
	// than max (a run must outlive its longest lock, or locks would stop growing).
	// Default: 48h
	Window caddy.Duration `json:"window,omitempty"`
	// The guessing ceiling, 1 to 100 wrong codes in a run: the ceiling-th locks the mobile
	// for window, every further one of the run locks it for window again, and the run is
	// kept until window after its lock ends. A new code does not end a run; a right one
	// does. Default: 100
	Ceiling int `json:"ceiling,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "otp",
		New: func() caddy.Module { return new(App) },
	}
}

// Provision sets up the app. It touches no network.
func (a *App) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()
	repl := caddy.NewReplacer()

	if a.StoreRaw == nil {
		a.StoreRaw = json.RawMessage(`{"store":"memory"}`)
	}
	mod, err := ctx.LoadModule(a, "StoreRaw")
	if err != nil {
		return fmt.Errorf("loading store: %w", err)
	}
	a.store = mod.(Store)

	if a.SenderRaw == nil {
		return errors.New("no sender configured: add `sender eum { … }` or `sender sns { … }` (or `sender log` for development) to the otp global option")
	}
	mod, err = ctx.LoadModule(a, "SenderRaw")
	if err != nil {
		return fmt.Errorf("loading sender: %w", err)
	}
	a.sender = mod.(Sender)
	a.provider = caddy.GetModuleName(a.sender)
	if fs, ok := a.sender.(FeedbackSender); ok && fs.WantsFeedback() {
		a.feedback = fs
	}

	if a.ReportsRaw != nil {
		mods, err := ctx.LoadModule(a, "ReportsRaw")
		if err != nil {
			return fmt.Errorf("loading reports: %w", err)
		}
		seen := map[string]bool{}
		for _, m := range mods.([]any) {
			r := m.(Reporter)
			if seen[r.ReporterKey()] {
				return fmt.Errorf("reports: %s %s is given more than once", caddy.GetModuleName(r), r.ReporterKey())
			}
			seen[r.ReporterKey()] = true
			a.reporters = append(a.reporters, r)
		}
	}

	a.Secret = repl.ReplaceKnown(a.Secret, "")
	a.secret = []byte(a.Secret)
	if len(a.secret) == 0 {
		if local, ok := a.store.(ProcessLocal); !ok || !local.ProcessLocal() {
			return errors.New("secret is required with a shared store: set `secret` to at least 32 bytes, the same on every instance")
		}
		a.secret = make([]byte, 32)
		if _, err := rand.Read(a.secret); err != nil {
			return fmt.Errorf("making a secret: %w", err)
		}
		a.logger.Info("no secret set: using a random one; codes and sessions end when Caddy stops")
	}

	secrets := [][]byte{a.secret}
	for i, p := range a.PreviousSecrets {
		p = repl.ReplaceKnown(p, "")
		if len(p) < 32 {
			return fmt.Errorf("previous_secrets[%d] is %d bytes; at least 32 are needed", i, len(p))
		}
		secrets = append(secrets, []byte(p))
	}
	a.sessions = newSessionManager(secrets)
	a.bg = new(background)

	a.templates = make(map[string]*Template, len(a.Templates)+1)
	for name, t := range a.Templates {
		if t == nil {
			t = new(Template)
		}
		a.templates[name] = t
	}
	if a.templates[DefaultTemplate] == nil {
		a.templates[DefaultTemplate] = new(Template)
	}
	for name, t := range a.templates {
		t.provision(name, repl)
		t.warnTestNumbers(a.logger)
		if t.Key != "" {
			a.keyed = append(a.keyed, t)
		}
	}

	if a.Prices == nil {
		a.Prices = map[string]float64{"default": 0.05}
	}
	if _, ok := a.Prices["default"]; !ok {
		a.Prices["default"] = 0.05
	}
	if a.SendTimeout == 0 {
		a.SendTimeout = caddy.Duration(10 * time.Second)
	}
	lo := Lockout{After: 20, Base: caddy.Duration(15 * time.Minute), Max: caddy.Duration(24 * time.Hour), Window: caddy.Duration(48 * time.Hour), Ceiling: 100}
	if a.Lockout != nil {
		if a.Lockout.After != 0 {
			lo.After = a.Lockout.After
		}
		if a.Lockout.Base != 0 {
			lo.Base = a.Lockout.Base
		}
		if a.Lockout.Max != 0 {
			lo.Max = a.Lockout.Max
		}
		if a.Lockout.Window != 0 {
			lo.Window = a.Lockout.Window
		}
		if a.Lockout.Ceiling != 0 {
			lo.Ceiling = a.Lockout.Ceiling
		}
	}
	a.Lockout = &lo
	a.policy = LockPolicy{After: lo.After, Base: time.Duration(lo.Base), Max: time.Duration(lo.Max), Window: time.Duration(lo.Window), Ceiling: lo.Ceiling}

	m, err := newMetrics(ctx.GetMetricsRegistry())
	if err != nil {
		return fmt.Errorf("registering metrics: %w", err)
	}
	a.metrics = m
	return nil
}

// Validate checks the provisioned config; every message names the setting.
func (a *App) Validate() error {
	if len(a.secret) < 32 {
		return fmt.Errorf("secret is %d bytes; at least 32 are needed", len(a.secret))
	}
	names := make([]string, 0, len(a.templates))
	for name := range a.templates {
		names = append(names, name)
	}
	sort.Strings(names)
	keys := make(map[string]string)
	for _, name := range names {
		t := a.templates[name]
		if !templateNamePattern.MatchString(name) {
			return fmt.Errorf("template %q: the name must be letters, digits, '-' and '_', at most 64", name)
		}
		if err := t.validate(); err != nil {
			return fmt.Errorf("template %s: %w", name, err)
		}
		if t.Key != "" {
			if other, dup := keys[t.Key]; dup {
				return fmt.Errorf("template %s: key is the same as template %s's; each key selects one template", name, other)
			}
			keys[t.Key] = name
		}
	}
	for country, price := range a.Prices {
		if country != "default" && !knownRegion(strings.ToUpper(country)) {
			return fmt.Errorf("prices: %q is not an ISO 3166-1 alpha-2 code with a phone plan", country)
		}
		if price < 0 || price > 10 || math.IsNaN(price) {
			return fmt.Errorf("prices: %s %v is outside 0..10 USD", country, price)
		}
	}
	if b := a.Budget; b != nil {
		if b.Daily < 0 || b.Monthly < 0 || math.IsNaN(b.Daily) || math.IsNaN(b.Monthly) {
			return errors.New("budget: daily and monthly must not be negative")
		}
		if b.Daily > 1e6 || b.Monthly > 1e7 {
			return errors.New("budget: daily is at most 1,000,000 USD and monthly at most 10,000,000 USD")
		}
	}
	if st := time.Duration(a.SendTimeout); st < time.Second || st > 30*time.Second {
		return fmt.Errorf("send_timeout %s is outside 1s..30s", st)
	}
	lo := a.Lockout
	if lo.After < 3 || lo.After > 100 {
		return fmt.Errorf("lockout after %d is outside 3..100", lo.After)
	}
	if b := time.Duration(lo.Base); b < time.Minute || b > 24*time.Hour {
		return fmt.Errorf("lockout base %s is outside 1m..24h", b)
	}
	if m := time.Duration(lo.Max); m < time.Duration(lo.Base) || m > 7*24*time.Hour {
		return fmt.Errorf("lockout max %s is outside base..168h", m)
	}
	if w := time.Duration(lo.Window); w < time.Hour || w > 14*24*time.Hour || w <= time.Duration(lo.Max) {
		return fmt.Errorf("lockout window %s is outside 1h..336h or not longer than max %s", w, time.Duration(lo.Max))
	}
	if lo.Ceiling < 1 || lo.Ceiling > 100 {
		return fmt.Errorf("lockout ceiling %d is outside 1..100", lo.Ceiling)
	}
	return nil
}

// Start follows the store's session revocations and starts the report readers.
func (a *App) Start() error {
	a.sessions.start(a.store, a.logger)
	a.startReporters()
	return nil
}

// Stop waits for the gate's background sends, stops following revocations and lets go of
// the report readers (a reader the next config keeps goes on).
func (a *App) Stop() error {
	a.stopReporters()
	a.bg.stop()
	a.sessions.stop()
	return nil
}

// Template returns the template by name ("" is the default template), or nil when the
// app defines none of that name.
func (a *App) Template(name string) *Template {
	if name == "" {
		name = DefaultTemplate
	}
	return a.templates[name]
}

// template is Template under its first name, which the package's tests still use.
func (a *App) template(name string) *Template { return a.Template(name) }

// TemplateNames returns the names of every template of the app, sorted.
func (a *App) TemplateNames() []string {
	names := make([]string, 0, len(a.templates))
	for name := range a.templates {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// TemplateForKey returns the template whose API key is key, or nil when none is. Every
// key is compared, in constant time, so the answer takes as long whichever matches.
func (a *App) TemplateForKey(key string) *Template {
	if key == "" {
		return nil
	}
	var found *Template
	for _, t := range a.keyed {
		if subtle.ConstantTimeCompare([]byte(t.Key), []byte(key)) == 1 {
			found = t
		}
	}
	return found
}

// RecentSMS returns the template's newest SMS ledger entries, newest first, at most n. A
// store that fails gives a store_unavailable *Error.
func (a *App) RecentSMS(ctx context.Context, t *Template, n int) ([]LedgerEntry, error) {
	entries, err := a.store.RecentLedger(ctx, t.name, n)
	if err != nil {
		return nil, StoreError(err)
	}
	return entries, nil
}

// DecoyMobile is a stable, made-up number for user, derived from the secret: a page can
// show it, masked, to a user who has no mobile, so that it looks like every other user's.
func (a *App) DecoyMobile(user string) string {
	m := hmac.New(sha256.New, a.secret)
	m.Write([]byte("caddyotp decoy mobile\x00" + user))
	sum := m.Sum(nil)
	return fmt.Sprintf("+4474%08d", (uint32(sum[0])<<24|uint32(sum[1])<<16|uint32(sum[2])<<8|uint32(sum[3]))%100000000)
}

// priceUSD is the estimated price of one SMS part to region.
func (a *App) priceUSD(region string) float64 {
	if p, ok := a.Prices[region]; ok {
		return p
	}
	return a.Prices["default"]
}

// budgetCaps converts the budget to the store's micro-USD.
func (a *App) budgetCaps() BudgetCaps {
	if a.Budget == nil {
		return BudgetCaps{}
	}
	return BudgetCaps{DailyMicroUSD: toMicroUSD(a.Budget.Daily), MonthlyMicroUSD: toMicroUSD(a.Budget.Monthly)}
}

func toMicroUSD(usd float64) int64 { return ToMicroUSD(usd) }

// Interface guards
var (
	_ caddy.App         = (*App)(nil)
	_ caddy.Provisioner = (*App)(nil)
	_ caddy.Validator   = (*App)(nil)
)
