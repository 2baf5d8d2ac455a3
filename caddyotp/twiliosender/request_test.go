package twiliosender

import (
	"testing"
	"time"

	openapi "github.com/twilio/twilio-go/rest/api/v2010"
)

func TestValidityPeriod(t *testing.T) {
	for _, tt := range []struct {
		ttl  time.Duration
		want int
		set  bool
	}{
		{0, 0, false},
		{-time.Second, 0, false},
		{time.Millisecond, 1, true},
		{1999 * time.Millisecond, 1, true}, // never past the code's expiry
		{5 * time.Minute, 300, true},
		{10 * time.Hour, 36000, true},
		{24 * time.Hour, 36000, true},
	} {
		if got, set := validityPeriod(tt.ttl); got != tt.want || set != tt.set {
			t.Errorf("%v: expected %d (%v), got %d (%v)", tt.ttl, tt.want, tt.set, got, set)
		}
	}
}

func TestPriceUSD(t *testing.T) {
	str := func(s string) *string { return &s }
	for _, tt := range []struct {
		price, unit *string
		want        float64
		ok          bool
	}{
		{nil, str("USD"), 0, false},
		{str("-0.00750"), str("USD"), 0.0075, true},
		{str("-0.0075"), str("usd"), 0.0075, true},
		{str("0.0400"), str("USD"), 0.04, true},
		{str("-0.0075"), str("EUR"), 0, false},
		{str("-0.0075"), nil, 0, false},
		{str(""), str("USD"), 0, false},
		{str("NaN"), str("USD"), 0, false},
		{str("-Inf"), str("USD"), 0, false},
	} {
		got, ok := priceUSD(tt.price, tt.unit)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%v %v: expected %v (%v), got %v (%v)", deref(tt.price), deref(tt.unit), tt.want, tt.ok, got, ok)
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

func TestReceipt(t *testing.T) {
	sid, price, unit := "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "-0.0075", "USD"
	r, err := receipt(openapi.ApiV2010Message{Sid: &sid, Price: &price, PriceUnit: &unit})
	if err != nil || r.MessageID != sid || !r.HasPrice || r.BilledUSD != 0.0075 {
		t.Errorf("expected %s at 0.0075 USD, got %+v (%v)", sid, r, err)
	}
	empty := ""
	for _, m := range []openapi.ApiV2010Message{{}, {Sid: &empty}} {
		if _, err := receipt(m); err == nil {
			t.Errorf("expected an answer without a sid refused, got none for %+v", m)
		}
	}
}

func TestValidFrom(t *testing.T) {
	for from, want := range map[string]bool{
		"+15005550006": true, "+447400123456": true, "ACME": true, "Acme Co": true, "A1": true, "Acme1234567": true,
		"": false, "15005550006": false, "+0123456": false, "+1234567890123456": false, "12345": false,
		"Acme12345678": false, "Acme-Co": false, "Acmé": false,
	} {
		if got := validFrom(from); got != want {
			t.Errorf("%q: expected %v, got %v", from, want, got)
		}
	}
}
