package testcaddy

import (
	"context"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

// Helpers for unit tests of modules outside a running Caddy: a context, provisioning, and
// checking an error's text.

// Context is a bare Caddy context that ends with the test.
func Context(tb testing.TB) caddy.Context {
	tb.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	tb.Cleanup(cancel)
	return ctx
}

// Provisioner is a module that provisions and cleans up, such as a store or a sender.
type Provisioner interface {
	Provision(caddy.Context) error
	Cleanup() error
}

// Provision provisions m in a context of its own and cleans it up when the test ends.
func Provision(tb testing.TB, m Provisioner) {
	tb.Helper()
	if err := m.Provision(Context(tb)); err != nil {
		tb.Fatalf("Provision: expected no error, got %v", err)
	}
	tb.Cleanup(func() {
		if err := m.Cleanup(); err != nil {
			tb.Errorf("Cleanup: expected no error, got %v", err)
		}
	})
}

// CheckErr fails t unless err contains want, or, with want empty, unless err is nil.
func CheckErr(t testing.TB, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("expected no error, got %v", err)
	case want != "" && err == nil:
		t.Fatalf("expected an error with %q, got none", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Fatalf("expected an error with %q, got %v", want, err)
	}
}
