package logsender

import (
	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/sendertest"
	"github.com/caddyotp/caddyotp/internal/testcaddy"

	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// observedLogSender is a LogSender writing to an in-memory log.
func observedLogSender(t *testing.T) (*LogSender, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	s := &LogSender{}
	s.start(zap.New(core))
	return s, logs
}

func TestLogSenderWarnsAtStart(t *testing.T) {
	_, logs := observedLogSender(t)
	warns := logs.FilterLevelExact(zapcore.WarnLevel).All()
	if len(warns) != 1 {
		t.Fatalf("expected 1 warning, got %d", len(warns))
	}
	if want := "sender log writes every code to the log: for development only"; warns[0].Message != want {
		t.Errorf("expected %q, got %q", want, warns[0].Message)
	}
}

func TestLogSenderSend(t *testing.T) {
	s, logs := observedLogSender(t)
	msg := caddyotp.SMS{To: "+447400123456", Text: "042137 is your Acme code.", SenderID: "ACME",
		OriginationNumber: "+447400100200", MaxPriceUSD: 0.1}
	id, err := s.Send(context.Background(), msg)
	if err != nil {
		t.Fatalf("expected a send, got %v", err)
	}
	if !regexp.MustCompile(`^log-[0-9a-f]{16}$`).MatchString(id) {
		t.Errorf("expected an id like log-<16 hex>, got %q", id)
	}
	infos := logs.FilterLevelExact(zapcore.InfoLevel).All()
	if len(infos) != 1 {
		t.Fatalf("expected 1 info entry, got %d", len(infos))
	}
	fields := infos[0].ContextMap()
	want := map[string]any{
		"message_id":         id,
		"to":                 msg.To,
		"text":               msg.Text,
		"sender_id":          "ACME",
		"origination_number": "+447400100200",
		"max_price_usd":      0.1,
	}
	for k, v := range want {
		if fields[k] != v {
			t.Errorf("expected %s=%v, got %v", k, v, fields[k])
		}
	}

	id2, err := s.Send(context.Background(), msg)
	if err != nil || id2 == id {
		t.Errorf("expected a second, different id, got %q (%v)", id2, err)
	}
}

func TestLogSenderCanceled(t *testing.T) {
	s, logs := observedLogSender(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Send(ctx, caddyotp.SMS{To: "+447400123456", Text: "123456"})
	se := sendertest.AsSendError(t, err)
	if se.Code != "Canceled" || se.Retryable || se.MaybeDelivered {
		t.Errorf("expected Canceled, not retryable, not maybe delivered, got %s, %v, %v", se.Code, se.Retryable, se.MaybeDelivered)
	}
	if n := logs.FilterLevelExact(zapcore.InfoLevel).Len(); n != 0 {
		t.Errorf("expected nothing logged, got %d entries", n)
	}
}

func TestLogSenderProvision(t *testing.T) {
	s := &LogSender{}
	if err := s.Provision(testcaddy.Context(t)); err != nil {
		t.Fatalf("expected provision to work, got %v", err)
	}
	if s.logger == nil {
		t.Error("expected a logger after provision, got none")
	}
}

func TestLogSenderUnmarshalCaddyfile(t *testing.T) {
	tests := []struct {
		input string
		want  string // "" for no error
	}{
		{"log", ""},
		{"log extra", "wrong argument count"},
		{"log {\n\tlevel debug\n}", "unrecognized subdirective 'level'"},
	}
	for _, tt := range tests {
		t.Run(tt.input, func(t *testing.T) {
			var s LogSender
			err := s.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input))
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("expected no error, got %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("expected an error containing %q, got %v", tt.want, err)
			}
		})
	}
}
