package awsx

import (
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddyotp/caddyotp/internal/testcaddy"
)

func TestTimeoutArg(t *testing.T) {
	tests := []struct {
		input string
		want  time.Duration
		err   string
	}{
		{"timeout 3s", 3 * time.Second, ""},
		{"timeout 1ms", time.Millisecond, ""},
		{"timeout", 0, "'timeout' needs a value"},
		{"timeout 1s 2s", 0, "'timeout' takes one value"},
		{"timeout soon", 0, "'timeout': 'soon' is not a duration"},
		{"timeout 0s", 0, "'timeout' must be positive, got 0s"},
		{"timeout -1s", 0, "'timeout' must be positive, got -1s"},
	}
	for _, tt := range tests {
		t.Run(tt.input, func(t *testing.T) {
			d := caddyfile.NewTestDispenser(tt.input)
			d.Next()
			var got caddy.Duration
			err := TimeoutArg(d, &got)
			testcaddy.CheckErr(t, err, tt.err)
			if time.Duration(got) != tt.want {
				t.Errorf("expected %v, got %v", tt.want, time.Duration(got))
			}
		})
	}
}

func TestUnrecognized(t *testing.T) {
	d := caddyfile.NewTestDispenser("bucket x")
	d.Next()
	testcaddy.CheckErr(t, Unrecognized(d, d.Val()), "unrecognized subdirective 'bucket'")
}
