package caddyotp

import (
	"errors"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the app's Prometheus series in Caddy's registry. Labels are small fixed sets:
// template names, ISO countries, outcomes and limit kinds; never a mobile or an IP.
type metrics struct {
	sends          *prometheus.CounterVec   // template, country, outcome (sent|failed|unknown), provider
	verifications  *prometheus.CounterVec   // template, country, outcome
	limitHits      *prometheus.CounterVec   // template, kind
	lockouts       *prometheus.CounterVec   // template
	providerErrors *prometheus.CounterVec   // template, kind (retryable|permanent), provider
	spend          *prometheus.CounterVec   // template, country
	sendDuration   *prometheus.HistogramVec // template
	reports        *prometheus.CounterVec   // template, country, status (delivered|failed)
	billed         *prometheus.CounterVec   // template, country
	feedback       *prometheus.CounterVec   // provider
	guardBlocks    *prometheus.CounterVec   // template, scope (country|prefix), mode (block|shadow)
}

func newMetrics(reg *prometheus.Registry) (*metrics, error) {
	const ns, sub = "caddy", "otp"
	m := &metrics{
		sends: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "sms_sends_total", Help: "SMS send attempts by template, destination country, outcome (sent, failed, unknown: no answer, may be billed) and provider (the sender, or the failover route, that made the attempt)."},
			[]string{"template", "country", "outcome", "provider"}),
		verifications: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "verifications_total", Help: "Code checks by template, country of the mobile and outcome; verified against sms_sends_total by country shows SMS pumping."},
			[]string{"template", "country", "outcome"}),
		limitHits: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "limit_hits_total", Help: "Sends refused before the provider, by template and kind (" + strings.Join(append(limitKindNames(), "resend", "budget", "country", "locked", "guard"), ", ") + ")."},
			[]string{"template", "kind"}),
		lockouts: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "lockouts_total", Help: "Mobiles locked after a run of wrong codes, by template."},
			[]string{"template"}),
		providerErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "provider_errors_total", Help: "Failed send attempts at the provider, by template, kind (retryable, permanent) and provider."},
			[]string{"template", "kind", "provider"}),
		spend: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "spend_usd_total", Help: "Estimated SMS spend in USD by template and destination country."},
			[]string{"template", "country"}),
		sendDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "send_duration_seconds", Help: "Time at the provider per send, all attempts, by template.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2, 5, 10, 30}},
			[]string{"template"}),
		reports: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "sms_reports_total", Help: "Delivery reports applied to the ledger, by template, destination country and status (delivered, failed)."},
			[]string{"template", "country", "status"}),
		billed: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "billed_usd_total", Help: "SMS spend in USD as the provider billed it (in a delivery report, or in its answer to the send), by template and destination country."},
			[]string{"template", "country"}),
		feedback: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "sms_feedback_total", Help: "Used codes told to the provider (End User Messaging's message feedback), by provider."},
			[]string{"provider"}),
		guardBlocks: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "guard_blocks_total", Help: "Destinations the pumping guard blocked, by template, scope (country, prefix) and mode (block; shadow: only reported)."},
			[]string{"template", "scope", "mode"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	m.sends, err = register(reg, m.sends)
	if err == nil {
		m.verifications, err = register(reg, m.verifications)
	}
	if err == nil {
		m.limitHits, err = register(reg, m.limitHits)
	}
	if err == nil {
		m.lockouts, err = register(reg, m.lockouts)
	}
	if err == nil {
		m.providerErrors, err = register(reg, m.providerErrors)
	}
	if err == nil {
		m.spend, err = register(reg, m.spend)
	}
	if err == nil {
		m.sendDuration, err = register(reg, m.sendDuration)
	}
	if err == nil {
		m.reports, err = register(reg, m.reports)
	}
	if err == nil {
		m.billed, err = register(reg, m.billed)
	}
	if err == nil {
		m.feedback, err = register(reg, m.feedback)
	}
	if err == nil {
		m.guardBlocks, err = register(reg, m.guardBlocks)
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

// register adds c to reg. Where the same series is registered already, it returns that
// one: counting into an unregistered copy would never show.
func register[C prometheus.Collector](reg *prometheus.Registry, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, err
}
