package caddyotp

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the app's Prometheus series in Caddy's registry. Labels are small fixed sets:
// template names, ISO countries, outcomes and limit kinds; never a mobile or an IP.
type metrics struct {
	sends          *prometheus.CounterVec   // template, country, outcome (sent|failed)
	verifications  *prometheus.CounterVec   // template, outcome
	limitHits      *prometheus.CounterVec   // template, kind
	lockouts       *prometheus.CounterVec   // template
	providerErrors *prometheus.CounterVec   // template, kind (retryable|permanent)
	spend          *prometheus.CounterVec   // template, country
	sendDuration   *prometheus.HistogramVec // template
}

func newMetrics(reg *prometheus.Registry) (*metrics, error) {
	const ns, sub = "caddy", "otp"
	m := &metrics{
		sends: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "sms_sends_total", Help: "SMS send attempts by template, destination country and outcome."},
			[]string{"template", "country", "outcome"}),
		verifications: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "verifications_total", Help: "Code checks by template and outcome."},
			[]string{"template", "outcome"}),
		limitHits: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "limit_hits_total", Help: "Sends refused before the provider, by template and kind (mobile, ip, prefix, template, resend, budget, country, locked)."},
			[]string{"template", "kind"}),
		lockouts: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "lockouts_total", Help: "Mobiles locked after a run of wrong codes, by template."},
			[]string{"template"}),
		providerErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "provider_errors_total", Help: "Failed send attempts at the provider, by template and kind (retryable, permanent)."},
			[]string{"template", "kind"}),
		spend: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "spend_usd_total", Help: "Estimated SMS spend in USD by template and destination country."},
			[]string{"template", "country"}),
		sendDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "send_duration_seconds", Help: "Time at the provider per send, all attempts, by template.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2, 5, 10, 30}},
			[]string{"template"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.sends, m.verifications, m.limitHits, m.lockouts, m.providerErrors, m.spend, m.sendDuration} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, err
			}
		}
	}
	return m, nil
}
