package logsdouble

import (
	"encoding/json"
	"testing"
)

func TestSamples(t *testing.T) {
	tests := []struct {
		name, sample, status, id string
	}{
		{"success", SampleSuccess, "SUCCESS", "34d9b400-c6dd-5444-820d-fbeb0f1f54cf"},
		{"failure", SampleFailure, "FAILURE", "1077257a-92f3-5ca3-bc97-6a915b310625"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m struct {
				Notification struct {
					MessageID string `json:"messageId"`
				} `json:"notification"`
				Delivery struct {
					PriceInUSD float64 `json:"priceInUSD"`
				} `json:"delivery"`
				Status string `json:"status"`
			}
			if err := json.Unmarshal([]byte(tt.sample), &m); err != nil {
				t.Fatalf("expected JSON, got %v", err)
			}
			if m.Status != tt.status || m.Notification.MessageID != tt.id || m.Delivery.PriceInUSD != 0.00645 {
				t.Errorf("expected %s of %s at 0.00645 USD, got %+v", tt.status, tt.id, m)
			}
		})
	}
}
