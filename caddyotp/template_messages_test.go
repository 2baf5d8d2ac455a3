package caddyotp

import (
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// TestMessageFor: the SMS text of a locale is the Messages entry of the best-matching
// language, and Message when no locale is given, it does not parse or nothing matches.
func TestMessageFor(t *testing.T) {
	tmpl := &Template{Message: "en {code}", Messages: map[string]string{
		"fr": "fr {code}", "pt": "pt {code}", "de-CH": "de-CH {code}", "es-419": "es-419 {code}",
	}}
	tmpl.provision("login", caddy.NewReplacer())
	if err := tmpl.validate(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		locale, want string
	}{
		{"fr", "fr {code}"},                    // exact
		{"FR", "fr {code}"},                    // case does not matter
		{"fr-CA", "fr {code}"},                 // region fallback
		{"pt-BR", "pt {code}"},                 // region fallback
		{"pt_BR", "pt {code}"},                 // the underscore form parses too
		{"de", "de-CH {code}"},                 // the only German there is
		{"es-MX", "es-419 {code}"},             // Latin American Spanish
		{"ja", "en {code}"},                    // unknown: the plain message
		{"", "en {code}"},                      // none given
		{"und", "en {code}"},                   // no language
		{"not a tag", "en {code}"},             // does not parse
		{"zz-ZZ", "en {code}"},                 // well-formed, unknown
		{strings.Repeat("a", 40), "en {code}"}, // longer than MaxLocaleLen
	}
	for _, tt := range tests {
		if got := tmpl.messageFor(tt.locale); got != tt.want {
			t.Errorf("locale %q: expected %q, got %q", tt.locale, tt.want, got)
		}
	}

	plain := &Template{Message: "en {code}"}
	plain.provision("plain", caddy.NewReplacer())
	if got := plain.messageFor("fr"); got != "en {code}" {
		t.Errorf("without Messages: expected the plain message, got %q", got)
	}
}

// TestRenderPicksTheLocale: {code}, {minutes} and the web_otp line apply to a Messages text
// as to Message.
func TestRenderPicksTheLocale(t *testing.T) {
	tmpl := &Template{Messages: map[string]string{"fr": "{code} est votre code ({minutes} min)."}, WebOTP: "example.com",
		TTL: caddy.Duration(3 * time.Minute)}
	tmpl.provision("login", caddy.NewReplacer())
	got := tmpl.render(tmpl.messageFor("fr-FR"), "123456")
	if want := "123456 est votre code (3 min).\n\n@example.com #123456"; got != want {
		t.Errorf("expected %q, got %q", want, got)
	}
	if got := tmpl.render(tmpl.messageFor("en"), "123456"); !strings.HasPrefix(got, "Your verification code is 123456. It expires in 3 minutes.") {
		t.Errorf("expected the default message for en, got %q", got)
	}
}

// TestMessagesValidate: each entry of Messages has a language for a key, one per language,
// and a text under Message's rules; the error names the entry.
func TestMessagesValidate(t *testing.T) {
	t.Setenv("OTP_FR_MESSAGE", "{code} est votre code.")
	long := strings.Repeat("é", 480) + "{code}"
	tests := []struct {
		name     string
		messages map[string]string
		want     string // "" for valid
	}{
		{"one language", map[string]string{"fr": "{code} est votre code."}, ""},
		{"a region", map[string]string{"pt-BR": "{code}", "pt-PT": "{code}"}, ""},
		{"a placeholder", map[string]string{"fr": "{env.OTP_FR_MESSAGE}"}, ""},
		{"not a tag", map[string]string{"fr_": "{code}"}, `message "fr_" is not a BCP 47 language tag`},
		{"unknown subtag", map[string]string{"zz": "{code}"}, `message "zz" is not a BCP 47 language tag`},
		{"empty key", map[string]string{"": "{code}"}, `message "" is empty`},
		{"too long", map[string]string{"en-" + strings.Repeat("abcdefgh-", 4): "{code}"}, "bytes; at most 35"},
		{"und", map[string]string{"und": "{code}"}, `message "und" names no language`},
		{"private use", map[string]string{"x-acme": "{code}"}, `message "x-acme" names no language`},
		{"the same language twice", map[string]string{"pt-br": "{code}", "pt-BR": "{code}"}, "message pt-br: the same language (pt-BR) as message pt-BR"},
		{"no code", map[string]string{"fr": "votre code"}, "message fr: the text must contain {code}"},
		{"placeholder without code", map[string]string{"fr": "{env.OTP_NOT_SET}"}, "message fr: the text must contain {code}"},
		{"too long a text", map[string]string{"de": long}, "message de: the text is 486 characters; at most 480"},
	}
	for _, tt := range tests {
		tmpl := &Template{Messages: tt.messages}
		tmpl.provision("login", caddy.NewReplacer())
		err := tmpl.validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: expected no error, got %v", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: expected an error containing %q, got %v", tt.name, tt.want, err)
		}
	}

	tmpl := &Template{Messages: map[string]string{"fr": "{env.OTP_FR_MESSAGE}"}}
	tmpl.provision("login", caddy.NewReplacer())
	if got := tmpl.messageFor("fr"); got != "{code} est votre code." {
		t.Errorf("expected the placeholder resolved at provision, got %q", got)
	}
}

// TestCheckLocale: the API's locale is a BCP 47 tag of known subtags, at most 35 bytes.
func TestCheckLocale(t *testing.T) {
	for _, ok := range []string{"fr", "pt-BR", "zh-Hant-TW", "en-GB-oxendict", "und", "en-GB-u-ca-gregory-nu-latn-hc-h23"} {
		if len(ok) > MaxLocaleLen {
			t.Fatalf("bad case %q: longer than %d", ok, MaxLocaleLen)
		}
		if err := CheckLocale(ok); err != nil {
			t.Errorf("%q: expected no error, got %v", ok, err)
		}
	}
	for _, tt := range []struct{ locale, want string }{
		{"", "is empty"},
		{"fr-", "is not a BCP 47 language tag"},
		{"français", "is not a BCP 47 language tag"},
		{"zz", "is not a BCP 47 language tag"},
		{"en-" + strings.Repeat("x", 33), "is 36 bytes; at most 35"},
	} {
		if err := CheckLocale(tt.locale); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: expected an error containing %q, got %v", tt.locale, tt.want, err)
		}
	}
}

// TestTestNumbersValidate: a test number is a mobile in E.164 with a code of exactly the
// template's length in ASCII digits (placeholders resolved); the error names test_number
// and never the code.
func TestTestNumbersValidate(t *testing.T) {
	t.Setenv("OTP_TEST_CODE", "24680135")
	tests := []struct {
		name    string
		length  int
		numbers map[string]string
		want    string // "" for valid
	}{
		{"one", 0, map[string]string{"+447400000001": "123456"}, ""},
		{"two", 0, map[string]string{"+447400000001": "123456", "+12025550123": "000000"}, ""},
		{"a placeholder", 8, map[string]string{"+447400000001": "{env.OTP_TEST_CODE}"}, ""},
		{"short code", 0, map[string]string{"+447400000001": "12345"}, "test_number +447400000001: the code must be 6 ASCII digits"},
		{"code of another length", 8, map[string]string{"+447400000001": "123456"}, "the code must be 8 ASCII digits"},
		{"letters", 0, map[string]string{"+447400000001": "12345a"}, "test_number +447400000001: the code must be 6 ASCII digits"},
		{"placeholder not set", 0, map[string]string{"+447400000001": "{env.OTP_NOT_SET}"}, "the code must be 6 ASCII digits"},
		{"not E.164", 0, map[string]string{"07400000001": "975310"}, `test_number "07400000001": mobile must be in E.164 form`},
		{"not a mobile", 0, map[string]string{"+442079460000": "975310"}, `test_number "+442079460000": mobile is not a number that can receive SMS`},
		{"not valid", 0, map[string]string{"+447700900123": "975310"}, `test_number "+447700900123": mobile is not a valid phone number`},
	}
	for _, tt := range tests {
		tmpl := &Template{Length: tt.length, TestNumbers: tt.numbers}
		tmpl.provision("login", caddy.NewReplacer())
		err := tmpl.validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: expected no error, got %v", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: expected an error containing %q, got %v", tt.name, tt.want, err)
		}
		if err != nil {
			for _, code := range tt.numbers {
				if len(code) >= 6 && strings.Contains(err.Error(), code) {
					t.Errorf("%s: expected the error not to show the code, got %v", tt.name, err)
				}
			}
		}
	}
}

// TestWarnTestNumbers: each test number is a warning, its mobile masked, its code unsaid.
func TestWarnTestNumbers(t *testing.T) {
	tmpl := &Template{TestNumbers: map[string]string{"+447400000001": "123456", "+12025550123": "654321"}}
	tmpl.provision("login", caddy.NewReplacer())
	core, logs := observer.New(zapcore.DebugLevel)
	tmpl.warnTestNumbers(zap.New(core))
	entries := logs.All()
	if len(entries) != 2 {
		t.Fatalf("expected 2 warnings, got %d", len(entries))
	}
	var masked []string
	for _, e := range entries {
		if e.Level != zapcore.WarnLevel {
			t.Errorf("expected a warning, got %s", e.Level)
		}
		fields := e.ContextMap()
		if fields["template"] != "login" {
			t.Errorf("expected the template login, got %v", fields["template"])
		}
		masked = append(masked, fields["mobile"].(string))
		line := e.Message
		for k, v := range fields {
			line += " " + k + "=" + v.(string)
		}
		for _, secret := range []string{"+447400000001", "+12025550123", "123456", "654321"} {
			if strings.Contains(line, secret) {
				t.Errorf("expected %q not to be logged, got %q", secret, line)
			}
		}
	}
	if want := []string{"+1•••••••123", "+44•••••••001"}; strings.Join(masked, " ") != strings.Join(want, " ") {
		t.Errorf("expected the masked mobiles %v, in order, got %v", want, masked)
	}
}
