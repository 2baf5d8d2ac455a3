// Package otpapi is the `otp_api` handler (http.handlers.otp_api): the otp app's service as
// a JSON API, over the app's exported API only.
package otpapi

import (
	"github.com/caddyotp/caddyotp/caddyotp/internal/httpx"

	"github.com/caddyotp/caddyotp/caddyotp"

	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
)

func init() {
	caddy.RegisterModule(API{})
}

// API is the `otp_api` handler: the OTP service as a JSON API, the shape that hosted OTP
// services offer. It answers requests whose path ends in:
//
//   - `/send-otp` (POST, `{"mobile"}` and optionally `sender_id`, `origination_number` and
//     `locale`, a BCP 47 tag that picks the template's message of that language): sends a
//     code. 200 `{"status":"sent","message_id","mobile","expires_in"}`.
//   - `/verify-otp` (POST): checks a code. 200 `{"status":"verified","mobile"}`.
//   - `/sms-log` (GET, `?limit=1..1000`, default 100): the template's recent SMS with totals.
//   - `/sms-stats` (GET, `?days=1..400`, default 30): counts per day and country, and the budget.
//
// Every request carries the template's key, which selects the template and authenticates
// the caller: as `Authorization: Bearer <key>` (recommended: Caddy's access log redacts
// it) or in the `template-key` header (which the access log prints); when both are given
// they must be the same key. Bodies are `application/json`, at most 4 KiB. Errors are
// `{"error":{"code","message"}}` with the status docs/api.md gives: 400 invalid_json, invalid_mobile,
// invalid_otp, invalid_sender_id, invalid_origination_number, invalid_limit, invalid_days; 401
// invalid_template_key, otp_incorrect (with attempts_left); 403 country_not_allowed;
// 404 not_found; 405 method_not_allowed; 410 otp_expired; 413 body_too_large; 415
// unsupported_media_type; 429 rate_limited, resend_too_soon, budget_exhausted,
// too_many_attempts, locked (with Retry-After); 502 send_failed; 503 store_unavailable.
// Any other path is answered 404; the handler never calls the next one.
type API struct {
	app    *caddyotp.App
	logger *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (API) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.otp_api",
		New: func() caddy.Module { return new(API) },
	}
}

// Provision gets the otp app.
func (h *API) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	app, err := ctx.App("otp")
	if err != nil {
		return fmt.Errorf("loading the otp app: %w", err)
	}
	h.app = app.(*caddyotp.App)
	return nil
}

// ServeHTTP answers the API.
func (h *API) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	httpx.SetSecurityHeaders(w.Header())
	path := r.URL.Path
	var op, method string
	switch {
	case strings.HasSuffix(path, "/send-otp"):
		op, method = "send", http.MethodPost
	case strings.HasSuffix(path, "/verify-otp"):
		op, method = "verify", http.MethodPost
	case strings.HasSuffix(path, "/sms-log"):
		op, method = "log", http.MethodGet
	case strings.HasSuffix(path, "/sms-stats"):
		op, method = "stats", http.MethodGet
	default:
		return h.fail(w, r, caddyotp.NewError(caddyotp.CodeNotFound, "no such API endpoint: use …/send-otp, …/verify-otp, …/sms-log or …/sms-stats"))
	}
	if r.Method != method {
		w.Header().Set("Allow", method)
		return h.fail(w, r, caddyotp.NewError(caddyotp.CodeMethodNotAllowed, "%s takes %s only", path[strings.LastIndex(path, "/")+1:], method))
	}
	t := h.app.TemplateForKey(requestKey(r))
	if t == nil {
		return h.fail(w, r, caddyotp.NewError(caddyotp.CodeInvalidTemplateKey, "the key (Authorization: Bearer, or the template-key header) is missing or matches no template"))
	}
	switch op {
	case "send":
		var body sendBody
		if err := decodeBody(r, w, &body); err != nil {
			return h.fail(w, r, err)
		}
		if body.Locale != "" {
			if err := caddyotp.CheckLocale(body.Locale); err != nil {
				return h.fail(w, r, caddyotp.NewError(caddyotp.CodeInvalidJSON, "locale %v", err))
			}
		}
		res, err := h.app.Send(r.Context(), caddyotp.SendRequest{Template: t, Mobile: body.Mobile, SenderID: body.SenderID,
			OriginationNumber: body.OriginationNumber, Locale: body.Locale, ClientIP: httpx.ClientIP(r)})
		if err != nil {
			return h.fail(w, r, err)
		}
		return httpx.WriteJSON(w, http.StatusOK, map[string]any{"status": "sent", "message_id": res.MessageID,
			"mobile": res.Mobile, "expires_in": int(res.ExpiresIn.Seconds())})
	case "verify":
		var body verifyBody
		if err := decodeBody(r, w, &body); err != nil {
			return h.fail(w, r, err)
		}
		mobile, err := h.app.Verify(r.Context(), caddyotp.VerifyRequest{Template: t, Mobile: body.Mobile, Code: body.OTP})
		if err != nil {
			return h.fail(w, r, err)
		}
		return httpx.WriteJSON(w, http.StatusOK, map[string]any{"status": "verified", "mobile": mobile})
	case "stats":
		return h.serveStats(w, r, t)
	default:
		return h.serveLog(w, r, t)
	}
}

// serveStats answers GET …/sms-stats.
func (h *API) serveStats(w http.ResponseWriter, r *http.Request, t *caddyotp.Template) error {
	days := caddyotp.DefaultStatsRange
	if s := r.URL.Query().Get("days"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > caddyotp.MaxStatsRange {
			return h.fail(w, r, caddyotp.NewError(caddyotp.CodeInvalidDays, "days must be a whole number from 1 to %d", caddyotp.MaxStatsRange))
		}
		days = n
	}
	st, err := h.app.Stats(r.Context(), t, days)
	if err != nil {
		return h.fail(w, r, err)
	}
	return httpx.WriteJSON(w, http.StatusOK, st)
}

// serveLog answers GET …/sms-log.
func (h *API) serveLog(w http.ResponseWriter, r *http.Request, t *caddyotp.Template) error {
	limit := 100
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			return h.fail(w, r, caddyotp.NewError(caddyotp.CodeInvalidLimit, "limit must be a whole number from 1 to 1000"))
		}
		limit = n
	}
	entries, err := h.app.RecentSMS(r.Context(), t, limit)
	if err != nil {
		return h.fail(w, r, err)
	}
	// total_usd counts what was billed where a report said so, the estimate elsewhere;
	// billed_usd only what was billed
	total, billed := 0.0, 0.0
	for _, e := range entries {
		if e.BilledUSD != nil {
			total += *e.BilledUSD
			billed += *e.BilledUSD
		} else {
			total += e.PriceUSD
		}
	}
	if entries == nil {
		entries = []caddyotp.LedgerEntry{}
	}
	return httpx.WriteJSON(w, http.StatusOK, map[string]any{"messages": entries, "count": len(entries),
		"total_usd": roundUSD(total), "billed_usd": roundUSD(billed)})
}

// requestKey is the template key a request carries: `Authorization: Bearer <key>` or the
// `template-key` header. Both at once must agree; another Authorization scheme (such as
// basic_auth's in front of the API) carries no key. "" when there is none or they disagree.
func requestKey(r *http.Request) string {
	header := r.Header.Get("template-key")
	scheme, bearer, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return header
	}
	bearer = strings.TrimSpace(bearer)
	if header != "" && subtle.ConstantTimeCompare([]byte(header), []byte(bearer)) != 1 {
		return ""
	}
	return bearer
}

// fail writes err as the API's JSON error and logs what is worth logging.
func (h *API) fail(w http.ResponseWriter, r *http.Request, err error) error {
	var e *caddyotp.Error
	if !errors.As(err, &e) {
		e = &caddyotp.Error{Code: caddyotp.CodeInternal, Message: "internal error", Err: err}
	}
	if e.Status() >= 500 {
		h.logger.Error("otp api request failed", zap.String("code", e.Code), zap.Error(e.Err))
	}
	return httpx.WriteError(w, e)
}

func roundUSD(v float64) float64 {
	return float64(int64(v*1e6+0.5)) / 1e6
}

type sendBody struct {
	Mobile            string `json:"mobile"`
	SenderID          string `json:"sender_id"`
	OriginationNumber string `json:"origination_number"`
	Locale            string `json:"locale"` // picks the template's message of that language
}

type verifyBody struct {
	Mobile string `json:"mobile"`
	OTP    string `json:"otp"`
}

// decodeBody checks the media type and size and decodes one JSON object strictly: unknown
// fields, duplicate keys, wrong types and trailing data are all invalid_json.
func decodeBody(r *http.Request, w http.ResponseWriter, v any) *caddyotp.Error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return caddyotp.NewError(caddyotp.CodeUnsupportedMediaType, "the body must be application/json")
	}
	if r.ContentLength > httpx.MaxBodyBytes {
		return caddyotp.NewError(caddyotp.CodeBodyTooLarge, "the body is larger than %d bytes", httpx.MaxBodyBytes)
	}
	var raw []byte
	err = httpx.WithBodyDeadline(w, func() (err error) {
		raw, err = io.ReadAll(io.LimitReader(r.Body, httpx.MaxBodyBytes+1))
		return err
	})
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return caddyotp.NewError(caddyotp.CodeInvalidJSON, "the body did not arrive within %s", httpx.BodyReadTimeout)
	}
	if err != nil {
		return caddyotp.NewError(caddyotp.CodeInvalidJSON, "the body could not be read")
	}
	if len(raw) > httpx.MaxBodyBytes {
		return caddyotp.NewError(caddyotp.CodeBodyTooLarge, "the body is larger than %d bytes", httpx.MaxBodyBytes)
	}
	if err := httpx.DecodeStrict(raw, v); err != nil {
		return &caddyotp.Error{Code: caddyotp.CodeInvalidJSON, Message: err.Error()}
	}
	return nil
}

// Interface guards
var (
	_ caddyhttp.MiddlewareHandler = (*API)(nil)
	_ caddy.Provisioner           = (*API)(nil)
)
