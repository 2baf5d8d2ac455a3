package logsreports

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/internal/logsdouble"
)

func TestParseDeliveryLog(t *testing.T) {
	const ts = int64(1_750_000_000_123)
	at := time.UnixMilli(ts).UTC()
	tests := []struct {
		name    string
		message string
		millis  int64
		want    caddyotp.Report
		final   bool
	}{
		{
			name: "documentation's success", message: logsdouble.SampleSuccess, millis: ts, final: true,
			want: caddyotp.Report{MessageID: "34d9b400-c6dd-5444-820d-fbeb0f1f54cf", Provider: "sns", Status: caddyotp.ReportDelivered,
				BilledUSD: 0.00645, HasPrice: true, Carrier: "My Phone Carrier", Parts: 1,
				Description: "Message has been accepted by phone carrier", At: at},
		},
		{
			name: "documentation's failure", message: logsdouble.SampleFailure, millis: ts, final: true,
			want: caddyotp.Report{MessageID: "1077257a-92f3-5ca3-bc97-6a915b310625", Provider: "sns", Status: caddyotp.ReportFailed,
				BilledUSD: 0.00645, HasPrice: true, Parts: 1, Description: "Unknown error attempting to reach phone", At: at},
		},
		{
			name: "a real destination gives the country", message: logMessage("m1", "SUCCESS", 0.0371), millis: ts, final: true,
			want: caddyotp.Report{MessageID: "m1", Provider: "sns", Status: caddyotp.ReportDelivered, BilledUSD: 0.0371, HasPrice: true,
				Carrier: "EE", Country: "GB", Parts: 1, Description: "Message has been accepted by phone carrier", At: at},
		},
		{
			name:    "no price, no event time",
			message: `{"notification":{"messageId":"m2","timestamp":"2016-06-28 00:40:34.558"},"delivery":{"numberOfMessageParts":2,"destination":"+12025550123"},"status":"FAILURE"}`,
			final:   true,
			want: caddyotp.Report{MessageID: "m2", Provider: "sns", Status: caddyotp.ReportFailed, Parts: 2, Country: "US",
				At: time.Date(2016, 6, 28, 0, 40, 34, 558_000_000, time.UTC)},
		},
		{
			name:    "a price of zero is a price",
			message: `{"notification":{"messageId":"m3"},"delivery":{"priceInUSD":0},"status":"SUCCESS"}`,
			millis:  ts, final: true,
			want: caddyotp.Report{MessageID: "m3", Provider: "sns", Status: caddyotp.ReportDelivered, HasPrice: true, At: at},
		},
		{
			name:    "no time at all",
			message: `{"notification":{"messageId":"m4","timestamp":"yesterday"},"status":"SUCCESS"}`,
			final:   true,
			want:    caddyotp.Report{MessageID: "m4", Provider: "sns", Status: caddyotp.ReportDelivered},
		},
		{
			name:    "status that is not final",
			message: `{"notification":{"messageId":"m5"},"status":"PENDING"}`,
			millis:  ts,
			want:    caddyotp.Report{MessageID: "m5", Provider: "sns", At: at},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, final, err := parseDeliveryLog(tt.message, tt.millis)
			if err != nil {
				t.Fatalf("expected a report, got %v", err)
			}
			if final != tt.final {
				t.Errorf("expected final %v, got %v", tt.final, final)
			}
			if got != tt.want {
				t.Errorf("expected %+v, got %+v", tt.want, got)
			}
		})
	}
}

func TestParseDeliveryLogErrors(t *testing.T) {
	tests := []struct {
		name, message, want string
	}{
		{"not json", "Message has been accepted by phone carrier", "not JSON"},
		{"empty", "", "not JSON"},
		{"a json array", `[1,2]`, "not JSON"},
		{"price as text", `{"notification":{"messageId":"m"},"delivery":{"priceInUSD":"0.04"},"status":"SUCCESS"}`, "not JSON"},
		{"no message id", `{"notification":{"timestamp":"2016-06-28 00:40:34.558"},"status":"SUCCESS"}`, "messageId"},
		{"no notification", `{"status":"SUCCESS"}`, "messageId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, final, err := parseDeliveryLog(tt.message, 1)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("expected an error with %q, got %v", tt.want, err)
			}
			if final {
				t.Errorf("expected no final report with an error, got one")
			}
		})
	}
	if _, _, err := parseDeliveryLog(`{}`, 1); !errors.Is(err, errNoMessageID) {
		t.Errorf("expected errNoMessageID, got %v", err)
	}
}
