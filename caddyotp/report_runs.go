package caddyotp

import (
	"context"
	"sort"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
)

// reportRuns holds the report readers running in this process, one per module and
// ReporterKey, across config reloads: Caddy starts the new config's apps before it stops
// the old ones, so a reader both configs have is taken by the new app (its reports go to
// the new app from then on) and let go by the old one, and never runs twice.
var reportRuns = caddy.NewUsagePool()

// reportRun is one running reader. It is the ReportSink the reader writes to, and passes
// every call to the newest app that uses it.
type reportRun struct {
	app    atomic.Pointer[App]
	cancel context.CancelFunc
	done   chan struct{}
}

// Destruct stops the reader and waits for it, once no app uses it.
func (r *reportRun) Destruct() error {
	r.cancel()
	<-r.done
	return nil
}

func (r *reportRun) ApplyReport(ctx context.Context, rep Report) (ReportOutcome, error) {
	return r.app.Load().ApplyReport(ctx, rep)
}

func (r *reportRun) TakeLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	return r.app.Load().store.TakeLease(ctx, name, holder, ttl)
}

func (r *reportRun) Cursor(ctx context.Context, name string) (string, error) {
	return r.app.Load().store.Cursor(ctx, name)
}

func (r *reportRun) SetCursor(ctx context.Context, name, value string) error {
	return r.app.Load().store.SetCursor(ctx, name, value)
}

// reportRunKey names a reader's run in the process.
func reportRunKey(r Reporter) string {
	return string(caddy.GetModuleID(r)) + " " + r.ReporterKey()
}

// startReporters starts each reader that is not running yet and takes over those that are.
func (a *App) startReporters() {
	for _, rep := range a.reporters {
		val, loaded, _ := reportRuns.LoadOrNew(reportRunKey(rep), func() (caddy.Destructor, error) {
			ctx, cancel := context.WithCancel(context.Background())
			run := &reportRun{cancel: cancel, done: make(chan struct{})}
			run.app.Store(a)
			go func() {
				defer close(run.done)
				rep.Run(ctx, run)
			}()
			return run, nil
		})
		if loaded {
			val.(*reportRun).app.Store(a)
		}
		a.logger.Info("reading delivery reports", zap.String("reports", string(caddy.GetModuleID(rep))),
			zap.String("source", rep.ReporterKey()), zap.Bool("already_running", loaded))
	}
}

// stopReporters lets go of this app's readers; the last app to let go of one stops it.
func (a *App) stopReporters() {
	for _, rep := range a.reporters {
		if _, err := reportRuns.Delete(reportRunKey(rep)); err != nil {
			a.logger.Error("stopping a report reader", zap.String("source", rep.ReporterKey()), zap.Error(err))
		}
	}
}

// ApplyReport applies a delivery report to the ledger entry of its message id, at most
// once, and counts it in the metrics. It looks in the template the report names first,
// then in every other. A report that fails CheckReport is an error wrapping
// ErrInvalidArgument (drop it); any other error means the store could not answer (keep the
// report and try again).
func (a *App) ApplyReport(ctx context.Context, r Report) (ReportOutcome, error) {
	if err := CheckReport(r); err != nil {
		return "", err
	}
	if r.At.IsZero() {
		r.At = time.Now()
	}
	for _, name := range a.reportTemplates(r.Template) {
		out, e, err := a.store.ApplyReport(ctx, name, r)
		if err != nil {
			return "", err
		}
		switch out {
		case ReportUnknown:
			continue
		case ReportApplied:
			a.metrics.reports.WithLabelValues(name, e.Country, r.Status).Inc()
			if r.HasPrice {
				a.metrics.billed.WithLabelValues(name, e.Country).Add(r.BilledUSD)
			}
			a.logger.Info("sms report applied", zap.String("template", name), zap.String("message_id", r.MessageID),
				zap.String("status", r.Status), zap.Float64("price_usd", e.PriceUSD), zap.Bool("priced", r.HasPrice),
				zap.Float64("billed_usd", r.BilledUSD), zap.String("description", r.Description))
		}
		return out, nil
	}
	return ReportUnknown, nil
}

// reportTemplates lists the templates to look in for a report: the one it names, if the
// app has it, then the others by name.
func (a *App) reportTemplates(hint string) []string {
	names := make([]string, 0, len(a.templates))
	if _, ok := a.templates[hint]; ok {
		names = append(names, hint)
	}
	rest := len(names)
	for name := range a.templates {
		if name != hint {
			names = append(names, name)
		}
	}
	sort.Strings(names[rest:])
	return names
}
