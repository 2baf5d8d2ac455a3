package httpsender

import (
	"encoding/json"
	"net/url"
	"reflect"
	"regexp"
	"testing"

	"github.com/caddyotp/caddyotp/caddyotp"
)

// trickyText has what a pasted body would break on: quotes, a backslash, & and =, + and
// %, newlines, HTML, non-ASCII and an emoji.
const trickyText = "Code \"123456\" for O'Brien & Co = ok\\\n100% + more\r\n<b>Ünïcödé 😀 中文</b>"

func TestRequestEncode(t *testing.T) {
	ref := "00112233445566778899aabbccddeeff"
	tests := []struct {
		name string
		msg  caddyotp.SMS
		want map[string]string
	}{
		{"every field", caddyotp.SMS{To: "+447400123456", Text: trickyText, SenderID: "ACME", OriginationNumber: "+447400100200"},
			map[string]string{"to": "+447400123456", "text": trickyText, "sender_id": "ACME", "origination_number": "+447400100200", "reference": ref}},
		{"no sender id nor origination number", caddyotp.SMS{To: "+12025550123", Text: "123456 is your code", MaxPriceUSD: 0.05},
			map[string]string{"to": "+12025550123", "text": "123456 is your code", "reference": ref}},
	}
	for _, tt := range tests {
		r := newRequest(tt.msg, ref)

		body, ct, err := r.encode(formatJSON)
		if err != nil || ct != "application/json" {
			t.Fatalf("%s: expected a JSON body, got %q (%v)", tt.name, ct, err)
		}
		var fromJSON map[string]string
		if err := json.Unmarshal(body, &fromJSON); err != nil || !reflect.DeepEqual(fromJSON, tt.want) {
			t.Errorf("%s: expected JSON %v, got %v (%v) from %s", tt.name, tt.want, fromJSON, err, body)
		}

		body, ct, err = r.encode(formatForm)
		if err != nil || ct != "application/x-www-form-urlencoded" {
			t.Fatalf("%s: expected a form body, got %q (%v)", tt.name, ct, err)
		}
		values, err := url.ParseQuery(string(body))
		fromForm := map[string]string{}
		for k, v := range values {
			if len(v) != 1 {
				t.Errorf("%s: expected one value of %s, got %q", tt.name, k, v)
			}
			fromForm[k] = v[0]
		}
		if err != nil || !reflect.DeepEqual(fromForm, tt.want) {
			t.Errorf("%s: expected form %v, got %v (%v) from %s", tt.name, tt.want, fromForm, err, body)
		}
	}
}

func TestNewReference(t *testing.T) {
	hex32 := regexp.MustCompile(`^[0-9a-f]{32}$`)
	seen := map[string]bool{}
	for range 100 {
		ref := newReference()
		if !hex32.MatchString(ref) || seen[ref] {
			t.Fatalf("expected a new reference of 32 hex digits, got %q", ref)
		}
		seen[ref] = true
	}
}

// TestSignature checks the header against a value computed apart from Go:
//
//	printf '%s' '1700000000.<body>' | openssl dgst -sha256 -hmac 'a-secret-of-24-bytes-xyz' -hex
func TestSignature(t *testing.T) {
	body := `{"to":"+447400123456","text":"123456 is your code","reference":"00112233445566778899aabbccddeeff"}`
	want := "t=1700000000,v1=0ac47d17a6a81b361a1616bce469915689934bd0e1c232dcd5095641dbee4ce1"
	if got := signature([]byte("a-secret-of-24-bytes-xyz"), 1700000000, []byte(body)); got != want {
		t.Errorf("expected %s, got %s", want, got)
	}
	if got := signature([]byte("a-secret-of-24-bytes-xyz"), 1700000001, []byte(body)); got == want {
		t.Error("expected another timestamp to change the signature")
	}
}
