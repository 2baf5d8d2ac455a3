package otpdashboard

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

	"github.com/caddyotp/caddyotp/internal/testcaddy"
)

var update = flag.Bool("update", false, "rewrite the golden JSON files of testdata/adapt")

// TestCaddyfileGolden adapts testdata/adapt/*.caddyfile and compares the JSON with the
// .json beside it (go test -run Golden -update rewrites them). The golden file shows the
// order the plugin gives the directive: after basic_auth and otp_gate, before respond,
// whatever order the Caddyfile writes them in.
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
			out := testcaddy.Adapt(t, string(in))
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

// TestCaddyfileErrors: every bad directive is an error that names the word.
func TestCaddyfileErrors(t *testing.T) {
	tests := []struct {
		name, block, want string
	}{
		{"argument", "otp_dashboard /d/* login", "otp_dashboard takes no argument besides a matcher, got 'login'"},
		{"unknown", "otp_dashboard {\n\t\ttemplate login\n\t}", "unrecognized subdirective 'template'"},
		{"templates empty", "otp_dashboard {\n\t\ttemplates\n\t}", "'templates' needs at least one template name"},
		{"templates twice", "otp_dashboard {\n\t\ttemplates a\n\t\ttemplates b\n\t}", "'templates' is given more than once"},
		{"public value", "otp_dashboard {\n\t\tpublic yes\n\t}", "'public' takes no value, got 'yes'"},
		{"public twice", "otp_dashboard {\n\t\tpublic\n\t\tpublic\n\t}", "'public' is given more than once"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := "{\n\totp {\n\t\tsender log\n\t}\n}\n\nhttp://admin.localhost {\n\t" + tt.block + "\n}\n"
			_, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(in), map[string]any{"filename": "Caddyfile"})
			testcaddy.CheckErr(t, err, tt.want)
		})
	}
}
