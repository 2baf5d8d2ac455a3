package caddyotp

import (
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
		{"api block", "http://localhost {\n otp_api {\n  foo\n }\n}", "unrecognized subdirective 'foo'"},
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
