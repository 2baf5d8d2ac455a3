package httpsender_test

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/httpsender"
)

// TestHTTPSenderAnswers: the message id and the price come from the JSON pointers into a
// 2xx answer; whatever the answer lacks costs a warning naming the setting, never the send.
func TestHTTPSenderAnswers(t *testing.T) {
	tests := []struct {
		name     string
		idField  string
		price    string
		answer   string
		wantID   string // "" for the reference
		wantUSD  float64
		hasPrice bool
		warnings []string // the setting each warning names
	}{
		{"top-level id and number price", "/id", "/price", `{"id":"abc-1","price":0.0075}`, "abc-1", 0.0075, true, nil},
		{"nested", "/data/message/id", "/data/billing/usd", `{"data":{"message":{"id":"n-9"},"billing":{"usd":0.05}}}`, "n-9", 0.05, true, nil},
		{"array index", "/messages/1/sid", "/messages/1/price", `{"messages":[{"sid":"SM0"},{"sid":"SM1","price":"0.0420"}]}`, "SM1", 0.042, true, nil},
		{"escaped keys", "/a~1b/m~0n", "/cost~1usd", `{"a/b":{"m~n":"esc-1"},"cost/usd":1.5}`, "esc-1", 1.5, true, nil},
		{"string price", "/id", "/price", `{"id":"s-1","price":"0.0463"}`, "s-1", 0.0463, true, nil},
		{"number id", "/id", "", `{"id":12345678901234567890}`, "12345678901234567890", 0, false, nil},
		{"price 0 in an array", "", "/p/0", `{"p":[0]}`, "", 0, true, nil},
		{"price 100", "", "/p", `{"p":100}`, "", 100, true, nil},
		{"no fields configured", "", "", `not json at all`, "", 0, false, nil},
		{"missing id", "/id", "/price", `{"price":0.01}`, "", 0.01, true, []string{"message_id_field"}},
		{"empty id", "/id", "", `{"id":""}`, "", 0, false, []string{"message_id_field"}},
		{"object id", "/id", "", `{"id":{"v":1}}`, "", 0, false, []string{"message_id_field"}},
		{"too long an id", "/id", "", `{"id":"` + strings.Repeat("x", 257) + `"}`, "", 0, false, []string{"message_id_field"}},
		{"missing price", "/id", "/price", `{"id":"m-1"}`, "m-1", 0, false, []string{"price_field"}},
		{"negative price", "/id", "/price", `{"id":"m-1","price":-0.0075}`, "m-1", 0, false, []string{"price_field"}},
		{"price over 100", "", "/price", `{"price":"100.01"}`, "", 0, false, []string{"price_field"}},
		{"price not a number", "", "/price", `{"price":"cheap"}`, "", 0, false, []string{"price_field"}},
		{"price NaN", "", "/price", `{"price":"NaN"}`, "", 0, false, []string{"price_field"}},
		{"price with spaces", "", "/price", `{"price":" 0.01"}`, "", 0, false, []string{"price_field"}},
		{"price true", "", "/price", `{"price":true}`, "", 0, false, []string{"price_field"}},
		{"price too large to read", "", "/price", `{"price":1e999}`, "", 0, false, []string{"price_field"}},
		{"both missing", "/id", "/price", `[]`, "", 0, false, []string{"message_id_field", "price_field"}},
		{"not JSON", "/id", "/price", `<html>OK</html>`, "", 0, false, []string{""}},
		{"empty answer", "/id", "", ``, "", 0, false, []string{""}},
		{"two JSON values", "/id", "", `{"id":"a"} {"id":"b"}`, "", 0, false, []string{""}},
		{"larger than 64 KiB", "/id", "", `{"id":"big-1","pad":"` + strings.Repeat("x", 64<<10) + `"}`, "", 0, false, []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newReceiver(t, answering(http.StatusOK, tt.answer))
			s, logs := senderFor(t, httpsender.HTTPSender{URL: r.URL, MessageIDField: tt.idField, PriceField: tt.price})
			receipt, err := s.SendPriced(context.Background(), caddyotp.SMS{To: "+447400123456", Text: "123456"})
			if err != nil {
				t.Fatalf("expected a 2xx to be sent whatever its body, got %v", err)
			}
			ref := decodeBody(t, "json", r.received()[0].Body)["reference"]
			wantID := tt.wantID
			if wantID == "" {
				wantID = ref
			}
			if receipt.MessageID != wantID || receipt.HasPrice != tt.hasPrice || receipt.BilledUSD != tt.wantUSD {
				t.Errorf("expected id %s and price %v (%v), got %+v", wantID, tt.wantUSD, tt.hasPrice, receipt)
			}
			id, err := s.Send(context.Background(), caddyotp.SMS{To: "+447400123456", Text: "123456"})
			if err != nil || (tt.wantID != "" && id != tt.wantID) || (tt.wantID == "" && !hex32.MatchString(id)) {
				t.Errorf("expected Send to answer as SendPriced, got %q (%v)", id, err)
			}

			var named []string
			for _, e := range logs.All() {
				fields := e.ContextMap()
				if fields["reference"] != ref {
					continue // the Send's
				}
				setting := ""
				for _, k := range []string{"message_id_field", "price_field"} {
					if _, ok := fields[k]; ok {
						setting = k
					}
				}
				named = append(named, setting)
				if strings.Contains(fmt.Sprint(fields), "+447400123456") {
					t.Errorf("expected no mobile in a warning, got %v", fields)
				}
			}
			if !reflect.DeepEqual(named, tt.warnings) && !(len(named) == 0 && len(tt.warnings) == 0) {
				t.Errorf("expected warnings naming %q, got %q (%v)", tt.warnings, named, logs.All())
			}
		})
	}
}

// TestHTTPSenderAnswerCut: a 2xx whose body is cut short is still sent (the provider took
// the message), but nothing is read from the part that came: the reference is the id.
func TestHTTPSenderAnswerCut(t *testing.T) {
	r := newReceiver(t, func(w http.ResponseWriter, _ *http.Request) {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Errorf("hijacking: %v", err)
			return
		}
		defer conn.Close()
		buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n" + `{"id":"cut","price":1}`)
		buf.Flush()
	})
	s, logs := senderFor(t, httpsender.HTTPSender{URL: r.URL, MessageIDField: "/id", PriceField: "/price"})
	receipt, err := s.SendPriced(context.Background(), caddyotp.SMS{To: "+447400123456", Text: "123456"})
	if err != nil || !hex32.MatchString(receipt.MessageID) || receipt.HasPrice {
		t.Errorf("expected sent with the reference as id and no price, got %+v (%v)", receipt, err)
	}
	if warnings := logs.FilterMessageSnippet("not JSON").Len(); warnings != 1 {
		t.Errorf("expected one warning, got %v", logs.All())
	}
}
