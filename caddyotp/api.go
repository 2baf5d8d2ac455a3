package caddyotp

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
)

func init() {
	caddy.RegisterModule(API{})
}

// maxBodyBytes bounds an API request body.
const maxBodyBytes = 4 << 10

// API is the `otp_api` handler: the OTP service as a JSON API, the shape that hosted OTP
// services offer. It answers requests whose path ends in:
//
//   - `/send-otp` (POST): sends a code. 200 `{"status":"sent","message_id","mobile","expires_in"}`.
//   - `/verify-otp` (POST): checks a code. 200 `{"status":"verified","mobile"}`.
//   - `/sms-log` (GET, `?limit=1..1000`, default 100): the template's recent SMS with totals.
//
// Every request carries the template's key, which selects the template and authenticates
// the caller: as `Authorization: Bearer <key>` (recommended: Caddy's access log redacts
// it) or in the `template-key` header (which the access log prints); when both are given
// they must be the same key. Bodies are `application/json`, at most 4 KiB. Errors are
// `{"error":{"code","message"}}` with the status docs/api.md gives: 400 invalid_json, invalid_mobile,
// invalid_otp, invalid_sender_id, invalid_origination_number, invalid_limit; 401
// invalid_template_key, otp_incorrect (with attempts_left); 403 country_not_allowed;
// 404 not_found; 405 method_not_allowed; 410 otp_expired; 413 body_too_large; 415
// unsupported_media_type; 429 rate_limited, resend_too_soon, budget_exhausted,
// too_many_attempts, locked (with Retry-After); 502 send_failed; 503 store_unavailable.
// Any other path is answered 404; the handler never calls the next one.
type API struct {
	app    *App
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
	h.app = app.(*App)
	return nil
}

// ServeHTTP answers the API.
func (h *API) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	setSecurityHeaders(w.Header())
	path := r.URL.Path
	var op, method string
	switch {
	case strings.HasSuffix(path, "/send-otp"):
		op, method = "send", http.MethodPost
	case strings.HasSuffix(path, "/verify-otp"):
		op, method = "verify", http.MethodPost
	case strings.HasSuffix(path, "/sms-log"):
		op, method = "log", http.MethodGet
	default:
		return h.fail(w, r, newError(CodeNotFound, "no such API endpoint: use …/send-otp, …/verify-otp or …/sms-log"))
	}
	if r.Method != method {
		w.Header().Set("Allow", method)
		return h.fail(w, r, newError(CodeMethodNotAllowed, "%s takes %s only", path[strings.LastIndex(path, "/")+1:], method))
	}
	t := h.app.TemplateForKey(requestKey(r))
	if t == nil {
		return h.fail(w, r, newError(CodeInvalidTemplateKey, "the key (Authorization: Bearer, or the template-key header) is missing or matches no template"))
	}
	switch op {
	case "send":
		var body sendBody
		if err := decodeBody(r, w, &body); err != nil {
			return h.fail(w, r, err)
		}
		res, err := h.app.Send(r.Context(), SendRequest{Template: t, Mobile: body.Mobile, SenderID: body.SenderID,
			OriginationNumber: body.OriginationNumber, ClientIP: clientIP(r)})
		if err != nil {
			return h.fail(w, r, err)
		}
		return writeJSON(w, http.StatusOK, map[string]any{"status": "sent", "message_id": res.MessageID,
			"mobile": res.Mobile, "expires_in": int(res.ExpiresIn.Seconds())})
	case "verify":
		var body verifyBody
		if err := decodeBody(r, w, &body); err != nil {
			return h.fail(w, r, err)
		}
		mobile, err := h.app.Verify(r.Context(), VerifyRequest{Template: t, Mobile: body.Mobile, Code: body.OTP})
		if err != nil {
			return h.fail(w, r, err)
		}
		return writeJSON(w, http.StatusOK, map[string]any{"status": "verified", "mobile": mobile})
	default:
		return h.serveLog(w, r, t)
	}
}

// serveLog answers GET …/sms-log.
func (h *API) serveLog(w http.ResponseWriter, r *http.Request, t *Template) error {
	limit := 100
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			return h.fail(w, r, newError(CodeInvalidLimit, "limit must be a whole number from 1 to 1000"))
		}
		limit = n
	}
	entries, err := h.app.RecentSMS(r.Context(), t, limit)
	if err != nil {
		return h.fail(w, r, err)
	}
	total := 0.0
	for _, e := range entries {
		total += e.PriceUSD
	}
	if entries == nil {
		entries = []LedgerEntry{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"messages": entries, "count": len(entries), "total_usd": roundUSD(total)})
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
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Code: CodeInternal, Message: "internal error", Err: err}
	}
	if e.Status() >= 500 {
		h.logger.Error("otp api request failed", zap.String("code", e.Code), zap.Error(e.Err))
	}
	return writeError(w, e)
}

// writeError writes e as `{"error":{"code","message"}}` with its status and headers.
func writeError(w http.ResponseWriter, e *Error) error {
	if e.Status() == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfterSeconds()))
	}
	body := map[string]any{"error": map[string]any{"code": e.Code, "message": e.Message}}
	if e.Code == CodeOTPIncorrect {
		body["attempts_left"] = e.AttemptsLeft
	}
	return writeJSON(w, e.Status(), body)
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

// setSecurityHeaders sets what every page and API answer carries (SECURITY.md).
func setSecurityHeaders(h http.Header) {
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
}

// clientIP is Caddy's {client_ip}: the remote address, or what trusted proxies said.
func clientIP(r *http.Request) string {
	if ip, ok := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string); ok && ip != "" {
		return ip
	}
	// Without Caddy's variable (outside a Caddy server), the peer without its port: a port
	// would give every connection a fresh ip limit.
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

func roundUSD(v float64) float64 {
	return float64(int64(v*1e6+0.5)) / 1e6
}

type sendBody struct {
	Mobile            string `json:"mobile"`
	SenderID          string `json:"sender_id"`
	OriginationNumber string `json:"origination_number"`
}

type verifyBody struct {
	Mobile string `json:"mobile"`
	OTP    string `json:"otp"`
}

// bodyReadTimeout bounds reading a request body of the API or of a gate form. Caddy sets no
// read timeout by default, so a body of a few bytes trickled slowly would hold its
// connection and goroutine for as long as the client likes.
const bodyReadTimeout = 5 * time.Second

// withBodyDeadline runs read, which reads the request body, with bodyReadTimeout as the
// connection's read deadline, and lifts the deadline afterwards: left in place, it would
// cancel the request's context in the middle of a slow SMS send.
func withBodyDeadline(w http.ResponseWriter, read func() error) error {
	rc := http.NewResponseController(w)
	if rc.SetReadDeadline(time.Now().Add(bodyReadTimeout)) != nil {
		return read()
	}
	defer rc.SetReadDeadline(time.Time{})
	return read()
}

// decodeBody checks the media type and size and decodes one JSON object strictly: unknown
// fields, duplicate keys, wrong types and trailing data are all invalid_json.
func decodeBody(r *http.Request, w http.ResponseWriter, v any) *Error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return newError(CodeUnsupportedMediaType, "the body must be application/json")
	}
	if r.ContentLength > maxBodyBytes {
		return newError(CodeBodyTooLarge, "the body is larger than %d bytes", maxBodyBytes)
	}
	var raw []byte
	err = withBodyDeadline(w, func() (err error) {
		raw, err = io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
		return err
	})
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return newError(CodeInvalidJSON, "the body did not arrive within %s", bodyReadTimeout)
	}
	if err != nil {
		return newError(CodeInvalidJSON, "the body could not be read")
	}
	if len(raw) > maxBodyBytes {
		return newError(CodeBodyTooLarge, "the body is larger than %d bytes", maxBodyBytes)
	}
	if err := decodeStrict(raw, v); err != nil {
		return &Error{Code: CodeInvalidJSON, Message: err.Error()}
	}
	return nil
}
