package integration

import (
	"fmt"
	"net/http"
	"sort"
	"testing"
	"time"
)

// timingSamples is how many verifies each class gets; docs/timing.md has the numbers.
const timingSamples = 300

// timingClass is one kind of verify whose answer time is measured.
type timingClass struct {
	name   string
	status int
	code   string
	body   func(i int) map[string]string
	took   []time.Duration
}

// TestTimingVerify measures verify-otp for an unknown mobile, a known mobile with a wrong
// code of the right length, and codes of the wrong length, interleaved, and reports
// medians and trimmed means. It asserts only what cannot flake: each class always gets the
// same answer, and the medians of the store-touching classes differ by less than 2 ms.
func TestTimingVerify(t *testing.T) {
	s := startAttackSite(t)
	known := make([]string, timingSamples)
	for i := range known {
		known[i] = fmt.Sprintf("+4474002%05d", i)
		expect(t, "send to "+known[i], sendOTP(t, s.spec, known[i]), http.StatusOK, `"status":"sent"`)
	}
	if _, err := s.sns.WaitFor(timingSamples, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	classes := []*timingClass{
		{name: "unknown mobile", status: http.StatusGone, code: "otp_expired",
			body: func(i int) map[string]string {
				return map[string]string{"mobile": fmt.Sprintf("+4474003%05d", i), "otp": "123456"}
			}},
		{name: "known mobile, wrong code", status: http.StatusUnauthorized, code: "otp_incorrect",
			body: func(i int) map[string]string {
				return map[string]string{"mobile": known[i], "otp": wrongCode(s, known[i])}
			}},
		{name: "known mobile, 5 digits", status: http.StatusBadRequest, code: "invalid_otp",
			body: func(i int) map[string]string { return map[string]string{"mobile": known[i], "otp": "12345"} }},
		{name: "known mobile, 7 digits", status: http.StatusBadRequest, code: "invalid_otp",
			body: func(i int) map[string]string { return map[string]string{"mobile": known[i], "otp": "1234567"} }},
	}
	// Warm up connections and code paths, then interleave, rotating the order each round.
	for i := 0; i < 20; i++ {
		verifyOTP(t, s.spec, fmt.Sprintf("+4474004%05d", i), "123456")
	}
	for i := 0; i < timingSamples; i++ {
		for j := range classes {
			c := classes[(i+j)%len(classes)]
			body := c.body(i)
			start := time.Now()
			a := request(t, "POST", s.spec+"/otp/verify-otp", nil, body, "", apiKey)
			c.took = append(c.took, time.Since(start))
			if a.status != c.status || errorCode(a) != c.code {
				t.Fatalf("%s, sample %d: expected %d %s every time, got %d %s", c.name, i, c.status, c.code, a.status, a.body)
			}
		}
	}
	medians := map[string]time.Duration{}
	for _, c := range classes {
		med, trimmed, p10, p90 := timingStats(c.took)
		medians[c.name] = med
		t.Logf("%-26s n=%d median %6.0f µs, 10%%-trimmed mean %6.0f µs, p10 %6.0f µs, p90 %6.0f µs", c.name, len(c.took),
			us(med), us(trimmed), us(p10), us(p90))
	}
	diff := medians["unknown mobile"] - medians["known mobile, wrong code"]
	if diff < 0 {
		diff = -diff
	}
	if diff > 2*time.Millisecond {
		t.Errorf("expected the medians of an unknown mobile and a wrong code to differ by less than 2ms, got %s", diff)
	}
}

// wrongCode is a 6-digit code that is not the one the double delivered to mobile.
func wrongCode(s *attackSite, mobile string) string {
	for _, p := range s.sns.Published() {
		if p.PhoneNumber == mobile {
			if m := smsCode.FindStringSubmatch(p.Message); m != nil {
				if m[1] == "000000" {
					return "000001"
				}
				return "000000"
			}
		}
	}
	return "000000"
}

// timingStats is the median, the mean of the middle 80%, and the 10th and 90th percentiles.
func timingStats(d []time.Duration) (median, trimmed, p10, p90 time.Duration) {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	n := len(s)
	cut := n / 10
	var sum time.Duration
	for _, v := range s[cut : n-cut] {
		sum += v
	}
	return s[n/2], sum / time.Duration(n-2*cut), s[cut], s[n-1-cut]
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
