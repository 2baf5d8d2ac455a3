package caddyotp_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/internal/apptest"
	"github.com/caddyotp/caddyotp/internal/testcaddy"
)

// TestCaddyfileTemplateErrors: `message <lang> <text>` and `test_number <mobile> <code>`
// refuse what they cannot take, naming the word.
func TestCaddyfileTemplateErrors(t *testing.T) {
	frame := "{\n otp {\n  template a {\n%s\n  }\n }\n}"
	tests := []struct {
		name, lines, want string
	}{
		{"message twice", "message \"{code}\"\nmessage \"{code} again\"", "'message' is given more than once"},
		{"message no value", "message", "message takes a text, or a language and a text"},
		{"message three values", "message fr \"{code}\" extra", "message takes a text, or a language and a text"},
		{"message bad language", "message fr- \"{code}\"", `message "fr-" is not a BCP 47 language tag`},
		{"message unknown language", "message zz \"{code}\"", `message "zz" is not a BCP 47 language tag`},
		{"message und", "message und \"{code}\"", `message "und" names no language`},
		{"message private use", "message x-acme \"{code}\"", `message "x-acme" names no language`},
		{"message language twice", "message fr \"{code}\"\nmessage fr \"{code} encore\"", "message fr is given more than once"},
		{"message language twice in other forms", "message pt-br \"{code}\"\nmessage PT_BR \"{code}\"", "message pt-BR is given more than once"},
		{"test_number one value", "test_number +447400000001", "test_number takes a mobile and a code"},
		{"test_number three values", "test_number +447400000001 123456 7", "test_number takes a mobile and a code"},
		{"test_number not E.164", "test_number 07400000001 123456", "test_number 07400000001: mobile must be in E.164 form"},
		{"test_number not a mobile", "test_number +442079460000 123456", "test_number +442079460000: mobile is not a number that can receive SMS"},
		{"test_number letters", "test_number +447400000001 12345a", "test_number +447400000001: the code must be ASCII digits"},
		{"test_number twice", "test_number +447400000001 123456\ntest_number +447400000001 654321", "test_number +447400000001 is given more than once"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := adapt(t, strings.ReplaceAll(frame, "%s", tt.lines))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("expected an error containing %q, got %v", tt.want, err)
			}
		})
	}
}

// TestCaddyfileTemplatesV2Provision: the golden templates_v2 config provisions (its test
// code from the environment) and picks its messages; a test code that the environment
// leaves empty fails at provision, naming test_number.
func TestCaddyfileTemplatesV2Provision(t *testing.T) {
	in, err := os.ReadFile("testdata/adapt/templates_v2.caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	out, err := adapt(t, string(in))
	if err != nil {
		t.Fatal(err)
	}
	load := func(t *testing.T) *caddyotp.App {
		var cfg struct {
			Apps struct {
				OTP *caddyotp.App `json:"otp"`
			} `json:"apps"`
		}
		if err := json.Unmarshal(out, &cfg); err != nil {
			t.Fatal(err)
		}
		cfg.Apps.OTP.Secret = apptest.Secret
		return cfg.Apps.OTP
	}

	t.Setenv("OTP_TEST_CODE", "13572468")
	app := apptest.Provision(t, load(t))
	login := app.Template("login")
	for mobile, code := range map[string]string{"+447400000001": "24681357", "+12025550123": "13572468"} {
		res, err := app.Send(context.Background(), caddyotp.SendRequest{Template: login, Mobile: mobile})
		if err != nil || !strings.HasPrefix(res.MessageID, "test-") {
			t.Fatalf("%s: expected a test send, got %+v, %v", mobile, res, err)
		}
		if _, err := app.Verify(context.Background(), caddyotp.VerifyRequest{Template: login, Mobile: mobile, Code: code}); err != nil {
			t.Errorf("%s: expected its code to verify, got %v", mobile, err)
		}
	}

	t.Setenv("OTP_TEST_CODE", "")
	app = load(t)
	if err := app.Provision(testcaddy.Context(t)); err != nil {
		t.Fatal(err)
	}
	err = app.Validate()
	if want := "template login: test_number +12025550123: the code must be 8 ASCII digits"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("expected an error containing %q, got %v", want, err)
	}
}
