package caddyotp

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestMetricsRegisteredTwice: a second set of metrics on the same registry counts into the
// series already there, not into copies nobody scrapes.
func TestMetricsRegisteredTwice(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	first, err := newMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	second, err := newMetrics(reg)
	if err != nil {
		t.Fatalf("expected the second registration to reuse the series, got %v", err)
	}
	first.limitHits.WithLabelValues("login", "mobile").Inc()
	second.limitHits.WithLabelValues("login", "mobile").Inc()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := -1.0
	for _, f := range families {
		if f.GetName() == "caddy_otp_limit_hits_total" && len(f.GetMetric()) == 1 {
			got = f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	if got != 2 {
		t.Errorf("expected 2 limit hits in the registered series, got %v", got)
	}
}
