package otpapi_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// TestAPILocale: send-otp's `locale` picks the template's message of that language (a
// region falls back to its language), an unknown language or none gets the plain message,
// and a locale that is not a BCP 47 tag of at most 35 bytes is 400 invalid_json naming
// locale, with nothing sent.
func TestAPILocale(t *testing.T) {
	env := startAPI(t, "memory", "", "resend 0s\n\t\t\t"+
		"message fr \"{code} est votre code Acme.\"\n\t\t\t"+
		"message pt \"{code} é o seu código Acme.\"")
	sendIn := func(t *testing.T, locale string) reply {
		t.Helper()
		body := fmt.Sprintf(`{"mobile":%q}`, gbMobile)
		if locale != "" {
			body = fmt.Sprintf(`{"mobile":%q,"locale":%q}`, gbMobile, locale)
		}
		return env.do(t, "POST", "/otp/send-otp", loginKey, "application/json", body)
	}

	for _, tt := range []struct {
		locale string
		text   *regexp.Regexp
	}{
		{"fr", regexp.MustCompile(`^(\d{6}) est votre code Acme\.$`)},
		{"fr-CA", regexp.MustCompile(`^(\d{6}) est votre code Acme\.$`)},
		{"pt-BR", regexp.MustCompile(`^(\d{6}) é o seu código Acme\.$`)},
		{"ja", regexp.MustCompile(`^(\d{6}) is your Acme code\. It expires in 5 minutes\.$`)},
		{"", regexp.MustCompile(`^(\d{6}) is your Acme code\. It expires in 5 minutes\.$`)},
	} {
		t.Run("locale "+tt.locale, func(t *testing.T) {
			r := sendIn(t, tt.locale)
			if r.status != 200 || r.body["status"] != "sent" {
				t.Fatalf("expected 200 sent, got %d %s", r.status, r.raw)
			}
			pubs := env.sns.Published()
			m := tt.text.FindStringSubmatch(pubs[len(pubs)-1].Message)
			if m == nil {
				t.Fatalf("expected a text matching %s, got %q", tt.text, pubs[len(pubs)-1].Message)
			}
			if r := env.verify(t, gbMobile, m[1]); r.status != 200 {
				t.Errorf("expected the code in the text to verify, got %d %s", r.status, r.raw)
			}
		})
	}

	for _, tt := range []struct{ name, body, want string }{
		{"not a tag", `{"mobile":"+447400123456","locale":"fr-"}`, "locale is not a BCP 47 language tag"},
		{"unknown subtag", `{"mobile":"+447400123456","locale":"zz"}`, "locale is not a BCP 47 language tag"},
		{"words", `{"mobile":"+447400123456","locale":"le français"}`, "locale is not a BCP 47 language tag"},
		{"too long", `{"mobile":"+447400123456","locale":"en-` + strings.Repeat("x", 33) + `"}`, "locale is 36 bytes; at most 35"},
		{"a number", `{"mobile":"+447400123456","locale":33}`, "locale"},
		{"twice", `{"mobile":"+447400123456","locale":"fr","locale":"pt"}`, "locale"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := env.sns.Attempts()
			r := env.do(t, "POST", "/otp/send-otp", loginKey, "application/json", tt.body)
			expectStatus(t, r, 400, "invalid_json")
			e, _ := r.body["error"].(map[string]any)
			if msg, _ := e["message"].(string); !strings.Contains(msg, tt.want) {
				t.Errorf("expected a message containing %q, got %q", tt.want, msg)
			}
			if env.sns.Attempts() != before {
				t.Errorf("expected nothing sent for a bad locale")
			}
		})
	}
}
