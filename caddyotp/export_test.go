package caddyotp

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// Hooks for this package's external tests (package caddyotp_test). Those run the app with
// the memory store and the log sender, guests that the host's own tests cannot import, and
// reach inside it only through these.

func (a *App) StoreForTest() Store     { return a.store }
func (a *App) SetStoreForTest(s Store) { a.store = s }
func (a *App) SetSenderForTest(s Sender) {
	a.sender, a.feedback = s, nil
	if fs, ok := s.(FeedbackSender); ok && fs.WantsFeedback() {
		a.feedback = fs
	}
}
func (a *App) SecretForTest() []byte                        { return a.secret }
func (a *App) PolicyForTest() LockPolicy                    { return a.policy }
func (a *App) SendsMetricForTest() *prometheus.CounterVec   { return a.metrics.sends }
func (a *App) ReportsMetricForTest() *prometheus.CounterVec { return a.metrics.reports }
func (a *App) BilledMetricForTest() *prometheus.CounterVec  { return a.metrics.billed }
func (t *Template) ProvisionForTest(name string)            { t.provision(name, caddy.NewReplacer()) }
func (t *Template) ValidateForTest() error                  { return t.validate() }
func (t *Template) LockGroupForTest() string                { return t.lockGroup }

func (a *App) GuardBlocksMetricForTest() *prometheus.CounterVec { return a.metrics.guardBlocks }
func (a *App) LimitHitsMetricForTest() *prometheus.CounterVec   { return a.metrics.limitHits }
