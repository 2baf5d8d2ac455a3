package redisstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/caddyotp/caddyotp/caddyotp"
)

// AppendLedger implements Store: append_ledger.lua writes the entry and, for an SMS that
// left, its count, with the price its provider told at the send, if any. That price also
// goes on the stream beside the entry, for apply_report.lua's correction.
func (s *RedisStore) AppendLedger(ctx context.Context, e caddyotp.LedgerEntry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encoding ledger entry: %w", err)
	}
	date, counted, billed := caddyotp.StatsDate(e.Time), 0, ""
	if caddyotp.CountsSend(e) {
		counted = 1
	}
	if e.BilledUSD != nil {
		billed = strconv.FormatInt(caddyotp.ToMicroUSD(*e.BilledUSD), 10)
	}
	keys := append(s.ledgerKeys(e.Template), s.keys.statsDay(e.Template, date))
	err = appendLedgerScript.Run(ctx, s.client, keys,
		b, e.MessageID, caddyotp.LedgerKeep, millis(caddyotp.LedgerTTL),
		date, caddyotp.StatsCountry(e.Country), counted, caddyotp.ToMicroUSD(e.PriceUSD), millis(caddyotp.StatsTTL),
		billed).Err()
	if err != nil {
		return unavailable("append_ledger", err)
	}
	return nil
}

// RecentLedger implements Store: the entries and their reports, read in one step.
func (s *RedisStore) RecentLedger(ctx context.Context, template string, n int) ([]caddyotp.LedgerEntry, error) {
	out := []caddyotp.LedgerEntry{}
	if n <= 0 {
		return out, nil
	}
	v, err := readLedgerScript.Run(ctx, s.client,
		[]string{s.keys.ledger(template), s.keys.ledgerReports(template)}, n).Result()
	if err != nil {
		return nil, unavailable("read_ledger", err)
	}
	arr, ok := v.([]any)
	if !ok || len(arr)%2 != 0 {
		return nil, badReply("read_ledger")
	}
	for i := 0; i < len(arr); i += 2 {
		raw, ok1 := arr[i].(string)
		report, ok2 := arr[i+1].(string)
		if !ok1 || !ok2 {
			return nil, badReply("read_ledger")
		}
		var e caddyotp.LedgerEntry
		if err := json.Unmarshal([]byte(raw), &e); err != nil {
			return nil, unavailable("decoding ledger entry", err)
		}
		if report != "" {
			var lr ledgerReport
			if err := json.Unmarshal([]byte(report), &lr); err != nil {
				return nil, unavailable("decoding ledger report", err)
			}
			e = caddyotp.ReportedEntry(e, lr.report())
		}
		out = append(out, e)
	}
	return out, nil
}

// ApplyReport implements Store in two steps: apply_report.lua marks the entry and counts
// the report in the ledger's slot (the billed price less the one the entry's send counted,
// caddyotp.BilledCorrection), then correct_budget.lua corrects the budget in the
// {budget} slot. When the second step fails the correction is logged and lost, never
// applied twice: the report counts as applied.
func (s *RedisStore) ApplyReport(ctx context.Context, template string, r caddyotp.Report) (caddyotp.ReportOutcome, caddyotp.LedgerEntry, error) {
	if err := caddyotp.CheckReport(r); err != nil {
		return "", caddyotp.LedgerEntry{}, err
	}
	lr := newLedgerReport(r)
	b, err := json.Marshal(lr)
	if err != nil {
		return "", caddyotp.LedgerEntry{}, fmt.Errorf("encoding ledger report: %w", err)
	}
	counter, billed := counterFailed, ""
	if r.Status == caddyotp.ReportDelivered {
		counter = counterDelivered
	}
	if r.HasPrice {
		billed = strconv.FormatInt(caddyotp.ToMicroUSD(r.BilledUSD), 10)
	}
	v, err := applyReportScript.Run(ctx, s.client, s.ledgerKeys(template),
		r.MessageID, b, millis(caddyotp.LedgerTTL),
		s.keys.statsDays(template), counter, billed, millis(caddyotp.StatsTTL)).Result()
	if err != nil {
		return "", caddyotp.LedgerEntry{}, unavailable("apply_report", err)
	}
	raw, outcome, ok := applyReportReply(v)
	if !ok {
		return "", caddyotp.LedgerEntry{}, badReply("apply_report")
	}
	if outcome != caddyotp.ReportApplied {
		return outcome, caddyotp.LedgerEntry{}, nil
	}
	var e caddyotp.LedgerEntry
	if err := json.Unmarshal([]byte(raw), &e); err != nil {
		return "", caddyotp.LedgerEntry{}, unavailable("decoding ledger entry", err)
	}

	if delta := caddyotp.ReportCorrection(e, r); delta != 0 {
		// The report is marked: the correction must not be lost to the caller giving up now.
		_, err := s.runInt(context.WithoutCancel(ctx), "correct_budget", correctBudgetScript,
			[]string{s.keys.budgetDay(e.Time), s.keys.budgetMonth(e.Time)}, delta)
		if err != nil {
			s.logger.Error("budget correction of a delivery report lost",
				zap.String("template", template), zap.String("message_id", r.MessageID),
				zap.Int64("micro_usd", delta), zap.Error(err))
		}
	}
	return caddyotp.ReportApplied, caddyotp.ReportedEntry(e, lr.report()), nil
}

// applyReportReply reads apply_report.lua's reply: the outcome, and the entry's JSON with
// ReportApplied.
func applyReportReply(v any) (raw string, outcome caddyotp.ReportOutcome, ok bool) {
	arr, ok := v.([]any)
	if !ok || len(arr) == 0 {
		return "", "", false
	}
	code, ok := arr[0].(int64)
	switch {
	case !ok:
		return "", "", false
	case code == 0 && len(arr) == 1:
		return "", caddyotp.ReportUnknown, true
	case code == 1 && len(arr) == 1:
		return "", caddyotp.ReportDuplicate, true
	case code == 2 && len(arr) == 2:
		raw, ok = arr[1].(string)
		return raw, caddyotp.ReportApplied, ok
	}
	return "", "", false
}

// ledgerKeys are the keys of a template's ledger, in the order the scripts take them: the
// stream, its index of message ids, its reports.
func (s *RedisStore) ledgerKeys(template string) []string {
	return []string{s.keys.ledger(template), s.keys.ledgerIDs(template), s.keys.ledgerReports(template)}
}

// ledgerReport is the report an entry took, as the ledger's reports hash keeps it: what
// caddyotp.ReportedEntry reads of a report.
type ledgerReport struct {
	Status    string    `json:"status"`
	BilledUSD *float64  `json:"billed_usd,omitempty"`
	Carrier   string    `json:"carrier,omitempty"`
	At        time.Time `json:"at"`
}

func newLedgerReport(r caddyotp.Report) ledgerReport {
	lr := ledgerReport{Status: r.Status, Carrier: r.Carrier, At: r.At.UTC()}
	if r.HasPrice {
		billed := r.BilledUSD
		lr.BilledUSD = &billed
	}
	return lr
}

// report is the report lr keeps.
func (lr ledgerReport) report() caddyotp.Report {
	r := caddyotp.Report{Status: lr.Status, Carrier: lr.Carrier, At: lr.At}
	if lr.BilledUSD != nil {
		r.BilledUSD, r.HasPrice = *lr.BilledUSD, true
	}
	return r
}
