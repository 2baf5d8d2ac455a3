package logsdouble

import _ "embed"

// The example delivery-status log messages of the SNS documentation (see testdata/README.md):
// what SNS writes as one log event's message for an SMS delivered and for one that failed.
var (
	//go:embed testdata/sms-delivery-success.json
	SampleSuccess string
	//go:embed testdata/sms-delivery-failure.json
	SampleFailure string
)
