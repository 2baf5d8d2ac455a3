package httpsender

import "go.uber.org/zap"

// SetLoggerForTest makes the sender warn to logger, for a test to read the warnings.
func (s *HTTPSender) SetLoggerForTest(logger *zap.Logger) { s.logger = logger }
