// Package logsender is the otp.senders.log guest: it writes each SMS to the log instead of
// sending it, for development.
package logsender

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"

	"github.com/caddyotp/caddyotp/caddyotp"
)

func init() {
	caddy.RegisterModule(LogSender{})
}

// LogSender sends no SMS: it writes each one, text and code included, to its logger at
// info level and answers with a made-up message id (`log-` and 16 hex digits). It is for
// development only, and says so in a warning at start.
type LogSender struct {
	logger *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (LogSender) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "otp.senders.log",
		New: func() caddy.Module { return new(LogSender) },
	}
}

// Provision takes the module's logger and warns that codes will be logged.
func (s *LogSender) Provision(ctx caddy.Context) error {
	s.start(ctx.Logger())
	return nil
}

func (s *LogSender) start(logger *zap.Logger) {
	s.logger = logger
	s.logger.Warn("sender log writes every code to the log: for development only")
}

// Send logs msg in full and returns a random message id.
func (s *LogSender) Send(ctx context.Context, msg caddyotp.SMS) (string, error) {
	if err := ctx.Err(); err != nil {
		// Nothing leaves the process: a log sender's failure is never maybe delivered.
		return "", &caddyotp.SendError{Code: "Canceled", Err: err}
	}
	b := make([]byte, 8)
	rand.Read(b) //nolint:errcheck // crypto/rand.Read never fails
	id := "log-" + hex.EncodeToString(b)
	logger := s.logger
	if logger == nil {
		logger = zap.NewNop()
	}
	logger.Info("sms",
		zap.String("message_id", id),
		zap.String("to", msg.To),
		zap.String("text", msg.Text),
		zap.String("sender_id", msg.SenderID),
		zap.String("origination_number", msg.OriginationNumber),
		zap.Float64("max_price_usd", msg.MaxPriceUSD),
	)
	return id, nil
}

// UnmarshalCaddyfile sets up the sender from Caddyfile tokens. Syntax:
//
//	sender log
//
// It takes no arguments and no block.
func (s *LogSender) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the module name, "log"
	if d.NextArg() {
		return d.ArgErr()
	}
	if d.NextBlock(0) {
		return d.Errf("unrecognized subdirective '%s'", d.Val())
	}
	return nil
}

// Interface guards
var (
	_ caddyotp.Sender       = (*LogSender)(nil)
	_ caddy.Provisioner     = (*LogSender)(nil)
	_ caddyfile.Unmarshaler = (*LogSender)(nil)
)
