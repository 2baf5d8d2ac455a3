package caddyotp_test

import (
	_ "github.com/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/otpapi"
	"github.com/caddyotp/caddyotp/caddyotp/otpgate"
	"github.com/caddyotp/caddyotp/caddyotp/redisstore"
	"github.com/caddyotp/caddyotp/caddyotp/snssender"

	"github.com/caddyotp/caddyotp/caddyotp"

	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

var update = flag.Bool("update", false, "rewrite the golden JSON files of testdata/adapt")

func adapt(t *testing.T, caddyfile string) ([]byte, error) {
	t.Helper()
	out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), map[string]any{"filename": "Caddyfile"})
	return out, err
}

// TestCaddyfileGolden adapts every testdata/adapt/*.caddyfile and compares the JSON with
// the .json beside it (go test -run Golden -update rewrites them).
func TestCaddyfileGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/adapt/*.caddyfile")
	if err != nil || len(files) == 0 {
		t.Fatalf("expected golden files, got %v (%v)", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			in, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			out, err := adapt(t, string(in))
			if err != nil {
				t.Fatalf("expected no error, got %v", err)
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, out, "", "\t"); err != nil {
				t.Fatal(err)
			}
			pretty.WriteByte('\n')
			golden := strings.TrimSuffix(f, ".caddyfile") + ".json"
			if *update {
				if err := os.WriteFile(golden, pretty.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("reading %s: %v (run with -update to write it)", golden, err)
			}
			if !bytes.Equal(want, pretty.Bytes()) {
				t.Errorf("expected %s, got\n%s", golden, pretty.String())
			}
		})
	}
}

// TestCaddyfileErrors feeds bad global options and directives and expects an error that
// names what was wrong.
func TestCaddyfileErrors(t *testing.T) {
	tests := []struct {
		name, input, want string
	}{
		{"unknown word", "{\n otp {\n  sekret x\n }\n}", "unrecognized subdirective 'sekret'"},
		{"secret twice", "{\n otp {\n  secret a\n  secret b\n }\n}", "'secret' is given more than once"},
		{"secret no value", "{\n otp {\n  secret\n }\n}", "'secret' needs a value"},
		{"secret two values", "{\n otp {\n  secret a b\n }\n}", "takes one value"},
		{"unknown store", "{\n otp {\n  store mongo\n }\n}", "otp.stores.mongo"},
		{"unknown sender", "{\n otp {\n  sender pigeon\n }\n}", "otp.senders.pigeon"},
		{"store without name", "{\n otp {\n  store\n }\n}", "wrong argument count"},
		{"template without name", "{\n otp {\n  template {\n  }\n }\n}", "wrong argument count"},
		{"template twice", "{\n otp {\n  template a {\n  }\n  template a {\n  }\n }\n}", "template 'a' is given more than once"},
		{"template unknown word", "{\n otp {\n  template a {\n   colour red\n  }\n }\n}", "unrecognized subdirective 'colour'"},
		{"length not a number", "{\n otp {\n  template a {\n   length six\n  }\n }\n}", "'length': 'six' is not a whole number"},
		{"ttl not a duration", "{\n otp {\n  template a {\n   ttl soon\n  }\n }\n}", "'ttl': 'soon' is not a duration"},
		{"ttl twice", "{\n otp {\n  template a {\n   ttl 1m\n   ttl 2m\n  }\n }\n}", "'ttl' is given more than once"},
		{"limit arity", "{\n otp {\n  template a {\n   limit mobile 5\n  }\n }\n}", "limit takes a kind, a count and a window"},
		{"limit kind", "{\n otp {\n  template a {\n   limit planet 5 1h\n  }\n }\n}", "unknown limit kind 'planet'"},
		{"limit twice", "{\n otp {\n  template a {\n   limit ip 5 1h\n   limit ip 6 1h\n  }\n }\n}", "limit 'ip' is given more than once"},
		{"limit count", "{\n otp {\n  template a {\n   limit ip five 1h\n  }\n }\n}", "count 'five' is not a whole number"},
		{"countries empty", "{\n otp {\n  template a {\n   countries\n  }\n }\n}", "wrong argument count"},
		{"price not a number", "{\n otp {\n  prices {\n   GB cheap\n  }\n }\n}", "'GB': 'cheap' is not a number"},
		{"price twice", "{\n otp {\n  prices {\n   GB 1\n   gb 2\n  }\n }\n}", "price for 'GB' is given more than once"},
		{"budget unknown", "{\n otp {\n  budget {\n   weekly 3\n  }\n }\n}", "unrecognized subdirective 'weekly'"},
		{"lockout unknown", "{\n otp {\n  lockout {\n   forever 3\n  }\n }\n}", "unrecognized subdirective 'forever'"},
		{"ceiling not a number", "{\n otp {\n  lockout {\n   ceiling many\n  }\n }\n}", "'ceiling': 'many' is not a whole number"},
		{"ceiling twice", "{\n otp {\n  lockout {\n   ceiling 50\n   ceiling 60\n  }\n }\n}", "'ceiling' is given more than once"},
		{"lock_group no value", "{\n otp {\n  template a {\n   lock_group\n  }\n }\n}", "'lock_group' needs a value"},
		{"lock_group two values", "{\n otp {\n  template a {\n   lock_group a b\n  }\n }\n}", "'lock_group' takes one value"},
		{"lock_group twice", "{\n otp {\n  template a {\n   lock_group a\n   lock_group b\n  }\n }\n}", "'lock_group' is given more than once"},
		{"otp arguments", "{\n otp extra {\n }\n}", "wrong argument count"},
		{"api arguments", "http://localhost {\n otp_api extra\n}", "wrong argument count"},
		{"gate extra arg", "http://localhost {\n otp_gate login extra\n}", "wrong argument count"},
		{"gate unknown", "http://localhost {\n otp_gate {\n  allowed any\n }\n}", "unrecognized subdirective 'allowed'"},
		{"gate allow empty", "http://localhost {\n otp_gate {\n  allow\n }\n}", "allow needs mobiles in E.164, or 'any'"},
		{"gate allow any mixed", "http://localhost {\n otp_gate {\n  allow any +447400123456\n }\n}", "'allow any' stands alone"},
		{"gate twice", "http://localhost {\n otp_gate {\n  idle 1m\n  idle 2m\n }\n}", "'idle' is given more than once"},
		{"gate idle", "http://localhost {\n otp_gate {\n  idle forever\n }\n}", "'idle': 'forever' is not a duration"},
		{"gate mobiles arity", "http://localhost {\n otp_gate {\n  mobiles {\n   alice\n  }\n }\n}", "mobiles: 'alice' needs exactly one mobile"},
		{"gate mobiles dup", "http://localhost {\n otp_gate {\n  mobiles {\n   a +447400123456\n   a +447400123457\n  }\n }\n}", "mobiles: 'a' is given more than once"},
		{"gate secure_cookies value", "http://localhost {\n otp_gate {\n  secure_cookies on\n }\n}", "'secure_cookies' takes no value, got 'on'"},
		{"gate secure_cookies twice", "http://localhost {\n otp_gate {\n  secure_cookies\n  secure_cookies\n }\n}", "'secure_cookies' is given more than once"},
		{"api block", "http://localhost {\n otp_api {\n  foo\n }\n}", "unrecognized subdirective 'foo'"},
		{"guard unknown", "{\n otp {\n  template a {\n   guard {\n    limit 5\n   }\n  }\n }\n}", "guard: unrecognized subdirective 'limit'"},
		{"guard twice", "{\n otp {\n  template a {\n   guard {\n    block 1h\n    block 2h\n   }\n  }\n }\n}", "guard: 'block' is given more than once"},
		{"guard min_sends word", "{\n otp {\n  template a {\n   guard {\n    min_sends many\n   }\n  }\n }\n}", "'min_sends': 'many' is not a whole number"},
		{"guard shadow value", "{\n otp {\n  template a {\n   guard {\n    shadow yes\n   }\n  }\n }\n}", "wrong argument count"},
		{"guard argument", "{\n otp {\n  template a {\n   guard on\n  }\n }\n}", "wrong argument count"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := adapt(t, tt.input)
			if err == nil {
				t.Fatalf("expected an error containing %q, got none", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("expected an error containing %q, got %q", tt.want, err.Error())
			}
		})
	}
}

// caddyfileFuzzFrames are the places arbitrary text goes into: the otp global option, a
// template, the redis store, the sns sender, and the two directives.
var caddyfileFuzzFrames = []string{
	"{\n\totp {\n%s\n\t}\n}\n",
	"{\n\totp {\n\t\ttemplate login {\n%s\n\t\t}\n\t}\n}\n",
	"{\n\totp {\n\t\tstore redis {\n%s\n\t\t}\n\t}\n}\n",
	"{\n\totp {\n\t\tsender sns {\n%s\n\t\t}\n\t}\n}\n",
	"http://localhost {\n\totp_gate %s\n}\n",
	"http://localhost {\n\totp_api %s\n}\n",
	"{\n\totp {\n\t\tstore redis %s\n\t\tsender sns %s\n\t}\n}\n",
	"{\n\totp %s\n}\nhttp://localhost {\n\totp_gate {\n%s\n\t}\n}\n",
}

// strictDecode decodes raw into v, refusing unknown fields, after dropping the module's
// inline key.
func strictDecode(raw json.RawMessage, inlineKey string, v any) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return err
	}
	delete(m, inlineKey)
	b, _ := json.Marshal(m)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// checkOTPHandlers finds every otp_gate and otp_api handler in a config and decodes it
// strictly into its module.
func checkOTPHandlers(t *testing.T, v any) {
	switch v := v.(type) {
	case map[string]any:
		var into any
		switch v["handler"] {
		case "otp_gate":
			into = new(otpgate.Gate)
		case "otp_api":
			into = new(otpapi.API)
		}
		if into != nil {
			raw, _ := json.Marshal(v)
			if err := strictDecode(raw, "handler", into); err != nil {
				t.Fatalf("the Caddyfile made a %s handler that does not load: %v\n%s", v["handler"], err, raw)
			}
		}
		for _, e := range v {
			checkOTPHandlers(t, e)
		}
	case []any:
		for _, e := range v {
			checkOTPHandlers(t, e)
		}
	}
}

// FuzzCaddyfile adapts arbitrary text inside each frame: the parsers never panic (errors
// are fine), and what adapts is JSON that the otp modules load without an unknown field.
func FuzzCaddyfile(f *testing.F) {
	for _, s := range []string{
		"secret {env.OTP_SECRET}\nstore memory\nsender log",
		"template login {\nkey abcdefghijklmnop\nlength 6\nttl 5m\nlimit mobile 5 1h\ncountries GB IE\n}",
		"prices {\ndefault 0.05\nGB 0.0463\n}\nbudget {\ndaily 25\nmonthly 300\n}",
		"lockout {\nafter 20\nbase 15m\nmax 24h\nwindow 48h\nceiling 100\n}",
		"template public {\nlock_group staff\n}",
		"message \"{code} is your code. {minutes} minutes.\"\nresend 60s\nattempts 5\nmax_price 0.10\nweb_otp example.com",
		"sender_id ACME\norigination_number +447400100200",
		"address 127.0.0.1:6379 10.0.0.1:6379\npassword x\ndb 0\nkey_prefix otp:\nmaster_name m\ntls {\nca_file /x\nserver_name r\n}",
		"cluster\npool_size 20\ndial_timeout 2s\nread_timeout 1s\nwrite_timeout 1s\nsentinel_username u\nsentinel_password p",
		"region eu-west-2\nendpoint http://127.0.0.1:4566",
		"/admin/* login {\nallow +447400123456 +447400123457\nsession 8h\nidle 30m\nheader X-OTP-Mobile\ntitle \"Acme admin\"\n}",
		"{\nuser {http.auth.user.id}\nmobiles {\nalice +447400123456\n}\n}",
		"{\nallow any\n}", "login extra", "{\n}", "}", "{", "\"", "`", "<<EOF\nx\nEOF", "import x", "{$OTP}", "{\n\tfoo\n}",
		"limit ip 0 1h\nlimit prefix 50 1h\nlimit template 1000 24h", "length 99999999999999999999", "ttl -5m",
		"message fr \"{code} est votre code.\"\nmessage pt-BR \"{code}\"\ntest_number +447400000001 123456",
		"/admin/* login {\nallow any\nremember 30d\nmax_age 5m\nlang fr\npage /tmp/p.html\nmobile {http.request.header.X-Auth-Phone}\n}",
	} {
		for frame := range caddyfileFuzzFrames {
			f.Add(uint8(frame), s)
		}
	}
	f.Fuzz(func(t *testing.T, frame uint8, s string) {
		if len(s) > 2000 {
			return
		}
		tmpl := caddyfileFuzzFrames[int(frame)%len(caddyfileFuzzFrames)]
		input := strings.ReplaceAll(tmpl, "%s", s)
		if strings.Contains(input, "import") {
			return // import reads files and snippets: not our parser, and not for a fuzzer's disk
		}
		out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(input), map[string]any{"filename": "Caddyfile"})
		if err != nil {
			return
		}
		var cfg struct {
			Apps map[string]json.RawMessage `json:"apps"`
		}
		if err := json.Unmarshal(out, &cfg); err != nil {
			t.Fatalf("adapted to invalid JSON: %v\n%s", err, out)
		}
		if raw, ok := cfg.Apps["otp"]; ok {
			var app caddyotp.App
			if err := strictDecode(raw, "", &app); err != nil {
				t.Fatalf("the Caddyfile made an otp app that does not load: %v\n%s", err, raw)
			}
			if len(app.StoreRaw) > 0 && strings.Contains(string(app.StoreRaw), `"store":"redis"`) {
				if err := strictDecode(app.StoreRaw, "store", new(redisstore.RedisStore)); err != nil {
					t.Fatalf("the Caddyfile made a redis store that does not load: %v\n%s", err, app.StoreRaw)
				}
			}
			if len(app.SenderRaw) > 0 && strings.Contains(string(app.SenderRaw), `"sender":"sns"`) {
				if err := strictDecode(app.SenderRaw, "sender", new(snssender.SNSSender)); err != nil {
					t.Fatalf("the Caddyfile made an sns sender that does not load: %v\n%s", err, app.SenderRaw)
				}
			}
		}
		var all any
		_ = json.Unmarshal(out, &all)
		checkOTPHandlers(t, all)
	})
}
