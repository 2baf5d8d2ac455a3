// Package otpdashboard is the `otp_dashboard` handler (http.handlers.otp_dashboard): the
// operator's page of what the SMS did and cost, drawn on the server from the otp app's
// exported API (Stats, RecentSMS), with no script and no outside asset.
package otpdashboard

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/internal/httpx"
)

func init() {
	caddy.RegisterModule(Dashboard{})
}

// Dashboard is the `otp_dashboard` handler: an HTML page with, per template, today's and
// this month's spend against the budget, bar charts of the SMS sent and verified and of
// the estimated and billed USD per day (each with a table of the same numbers), a table
// per destination country (sent, verified, conversion, spend, blocked by the guard), and
// the most recent SMS (masked mobiles only: never a full mobile, a code or a key).
//
// It answers GET and HEAD:
//
//   - 200 with the page; `?days=1..400` sets the charts' range (default 30).
//   - 200 with `?format=csv`: the most recent SMS as a CSV download.
//   - 403 unless an earlier handler vouched for the request: `{http.auth.user.id}` set by
//     basic_auth or forward_auth, or `{http.otp.mobile}` set by otp_gate; `public` turns
//     the check off.
//   - 400 for a bad `days` or `format`, 405 for another method, 503 when the store is down.
//
// It sets no placeholder.
type Dashboard struct {
	// The templates shown, by name, each defined in the otp app. Default: every template
	Templates []string `json:"templates,omitempty"`

	// Shows the page without a first factor in front of it (Caddyfile: `public`). Only for
	// a site that is itself private. Default: false (403 unless basic_auth, forward_auth
	// or otp_gate let the request through)
	Public bool `json:"public,omitempty"`

	app    *caddyotp.App
	reader reader
	logger *zap.Logger
}

// reader is what the dashboard reads from the otp app, by template name. The app is one
// (appReader); the tests and the benchmark use a fake that needs no store.
type reader interface {
	Stats(ctx context.Context, template string, days int) (caddyotp.Stats, error)
	RecentSMS(ctx context.Context, template string, n int) ([]caddyotp.LedgerEntry, error)
	GuardBlocks(ctx context.Context, template string) (map[string]time.Duration, error)
}

// CaddyModule returns the Caddy module information.
func (Dashboard) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.otp_dashboard",
		New: func() caddy.Module { return new(Dashboard) },
	}
}

// Provision gets the otp app and fills in the templates.
func (d *Dashboard) Provision(ctx caddy.Context) error {
	d.logger = ctx.Logger()
	app, err := ctx.App("otp")
	if err != nil {
		return fmt.Errorf("loading the otp app: %w", err)
	}
	d.setup(app.(*caddyotp.App))
	return nil
}

// setup binds the dashboard to app and fills in the templates.
func (d *Dashboard) setup(app *caddyotp.App) {
	d.app = app
	d.reader = appReader{app}
	if len(d.Templates) == 0 {
		d.Templates = app.TemplateNames()
	}
}

// Validate checks that every template named exists, once.
func (d *Dashboard) Validate() error {
	seen := map[string]bool{}
	for _, name := range d.Templates {
		if seen[name] {
			return fmt.Errorf("templates: %q is given more than once", name)
		}
		seen[name] = true
		if d.app != nil && d.app.Template(name) == nil {
			return fmt.Errorf("templates: %q is not defined in the otp app", name)
		}
	}
	return nil
}

// The most recent SMS the page lists, and the CSV.
const (
	pageRecent = 50
	csvRecent  = 1000
)

// ServeHTTP answers with the page or the CSV.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	if !d.Public && !vouched(r) {
		return plain(w, http.StatusForbidden, "403 Forbidden: the SMS dashboard needs a signed-in operator "+
			"(basic_auth, forward_auth or otp_gate in front of otp_dashboard)\n")
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		return plain(w, http.StatusMethodNotAllowed, "405 Method Not Allowed: the SMS dashboard takes GET or HEAD\n")
	}
	q := r.URL.Query()
	days := caddyotp.DefaultStatsRange
	if s := q.Get("days"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > caddyotp.MaxStatsRange {
			return plain(w, http.StatusBadRequest, fmt.Sprintf("400 Bad Request: days must be a whole number from 1 to %d\n", caddyotp.MaxStatsRange))
		}
		days = n
	}
	now := time.Now().UTC()
	switch q.Get("format") {
	case "":
		v, err := d.load(r.Context(), days, now)
		if err != nil {
			return d.unavailable(w, err)
		}
		return writePage(w, r, v)
	case "csv":
		entries, err := recent(r.Context(), d.reader, d.Templates, csvRecent)
		if err != nil {
			return d.unavailable(w, err)
		}
		return writeCSV(w, r, entries, now)
	default:
		return plain(w, http.StatusBadRequest, "400 Bad Request: format must be csv, or absent for the page\n")
	}
}

// vouched reports whether an earlier handler let the request through: a first factor set
// {http.auth.user.id}, or otp_gate set {http.otp.mobile}. Nothing the client sends sets
// either.
func vouched(r *http.Request) bool {
	repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if !ok {
		return false
	}
	for _, key := range []string{"http.auth.user.id", "http.otp.mobile"} {
		if v, _ := repl.GetString(key); v != "" {
			return true
		}
	}
	return false
}

// unavailable answers 503 when the store could not answer, and 500 for anything else.
func (d *Dashboard) unavailable(w http.ResponseWriter, err error) error {
	var e *caddyotp.Error
	if errors.As(err, &e) && e.Code == caddyotp.CodeStoreUnavailable {
		d.logger.Error("otp dashboard cannot read the store", zap.Error(err))
		return plain(w, http.StatusServiceUnavailable, "503 Service Unavailable: the store did not answer; try again in a minute\n")
	}
	return caddyhttp.Error(http.StatusInternalServerError, err)
}

// plain writes a short text answer with the security headers.
func plain(w http.ResponseWriter, status int, msg string) error {
	h := w.Header()
	httpx.SetSecurityHeaders(h)
	h.Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, err := w.Write([]byte(msg))
	return err
}

// appReader reads from the otp app.
type appReader struct{ app *caddyotp.App }

func (a appReader) template(name string) (*caddyotp.Template, error) {
	t := a.app.Template(name)
	if t == nil {
		return nil, fmt.Errorf("template %q is not defined in the otp app", name)
	}
	return t, nil
}

func (a appReader) Stats(ctx context.Context, name string, days int) (caddyotp.Stats, error) {
	t, err := a.template(name)
	if err != nil {
		return caddyotp.Stats{}, err
	}
	return a.app.Stats(ctx, t, days)
}

func (a appReader) RecentSMS(ctx context.Context, name string, n int) ([]caddyotp.LedgerEntry, error) {
	t, err := a.template(name)
	if err != nil {
		return nil, err
	}
	return a.app.RecentSMS(ctx, t, n)
}

func (a appReader) GuardBlocks(ctx context.Context, name string) (map[string]time.Duration, error) {
	t, err := a.template(name)
	if err != nil {
		return nil, err
	}
	return a.app.GuardBlocks(ctx, t)
}

// Interface guards
var (
	_ caddyhttp.MiddlewareHandler = (*Dashboard)(nil)
	_ caddy.Provisioner           = (*Dashboard)(nil)
	_ caddy.Validator             = (*Dashboard)(nil)
)
