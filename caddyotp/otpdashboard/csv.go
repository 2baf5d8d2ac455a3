package otpdashboard

import (
	"bytes"
	"encoding/csv"
	"net/http"
	"strconv"
	"time"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/internal/httpx"
)

// csvHeader is the CSV's first row: the ledger's fields, mobiles masked.
var csvHeader = []string{"time", "template", "provider", "message_id", "mobile", "country", "parts",
	"estimated_usd", "billed_usd", "status", "error", "carrier", "reported_at"}

// writeCSV answers with entries as a CSV download, one row each after the header.
func writeCSV(w http.ResponseWriter, r *http.Request, entries []caddyotp.LedgerEntry, now time.Time) error {
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	for _, e := range entries {
		billed, reported := "", ""
		if e.BilledUSD != nil {
			billed = strconv.FormatFloat(*e.BilledUSD, 'f', -1, 64)
		}
		if e.ReportedAt != nil {
			reported = e.ReportedAt.UTC().Format(time.RFC3339)
		}
		row := []string{e.Time.UTC().Format(time.RFC3339), e.Template, e.Provider, cell(e.MessageID), maskedMobile(e.Mobile),
			e.Country, strconv.Itoa(e.Parts), strconv.FormatFloat(e.PriceUSD, 'f', -1, 64), billed, e.Status,
			cell(e.Error), cell(e.Carrier), reported}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	h := w.Header()
	httpx.SetSecurityHeaders(h)
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="otp-sms-`+now.UTC().Format("2006-01-02")+`.csv"`)
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return nil
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// cell keeps a spreadsheet from reading a provider's text (an error, a carrier name, a
// message id) as a formula: one that starts with = + - @ or a control character gets a
// leading apostrophe (OWASP, "CSV Injection").
func cell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r', '\n':
		return "'" + s
	}
	return s
}
