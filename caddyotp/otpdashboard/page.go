package otpdashboard

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"html/template"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddyotp/caddyotp/caddyotp/internal/httpx"
)

//go:embed pages/dashboard.html pages/dashboard.css
var pageFiles embed.FS

var (
	pageTemplate = template.Must(template.New("dashboard.html").Funcs(template.FuncMap{
		"usd":     usd,
		"percent": percent,
		"stamp":   func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
		"clock":   func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") },
		"iso":     func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"billed": func(p *float64) string {
			if p == nil {
				return "—"
			}
			return usd(*p)
		},
	}).ParseFS(pageFiles, "pages/dashboard.html"))
	pageCSS = func() string { b, _ := pageFiles.ReadFile("pages/dashboard.css"); return string(b) }()
	// pageCSP allows exactly the inline stylesheet, by its hash, and nothing else: the
	// page has no script, no image, no font and no form.
	pageCSP = func() string {
		sum := sha256.Sum256([]byte(pageCSS))
		return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
			"'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
	}()
)

// writePage renders v with the security headers of the gate's pages.
func writePage(w http.ResponseWriter, r *http.Request, v pageView) error {
	v.CSS = template.CSS(pageCSS)
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, v); err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	h := w.Header()
	httpx.SetSecurityHeaders(h)
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return nil
	}
	_, err := w.Write(buf.Bytes())
	return err
}
