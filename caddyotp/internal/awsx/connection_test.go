package awsx

import (
	"encoding/json"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddyotp/caddyotp/internal/testcaddy"
)

// guest is an AWS guest as the modules embed the connection.
type guest struct {
	Name string `json:"name,omitempty"`
	Connection
	Wait string `json:"wait,omitempty"`
}

func TestConnectionJSONIsInline(t *testing.T) {
	g := guest{Name: "g", Connection: Connection{Region: "eu-west-2", Endpoint: "http://127.0.0.1:4566", Profile: "otp"}, Wait: "1s"}
	b, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"name":"g","region":"eu-west-2","endpoint":"http://127.0.0.1:4566","profile":"otp","wait":"1s"}`
	if string(b) != want {
		t.Errorf("expected %s, got %s", want, b)
	}
	var back guest
	if err := json.Unmarshal(b, &back); err != nil || back != g {
		t.Errorf("expected %+v back, got %+v (%v)", g, back, err)
	}
	if b, _ := json.Marshal(guest{}); string(b) != `{}` {
		t.Errorf("expected the empty settings left out, got %s", b)
	}
}

func TestConnectionReplace(t *testing.T) {
	t.Setenv("OTP_TEST_REGION", "eu-west-1")
	t.Setenv("OTP_TEST_ENDPOINT", "http://127.0.0.1:4566")
	c := Connection{Region: "{env.OTP_TEST_REGION}", Endpoint: "{env.OTP_TEST_ENDPOINT}", Profile: "{env.OTP_TEST_UNSET}"}
	c.Replace(caddy.NewReplacer())
	if c != (Connection{Region: "eu-west-1", Endpoint: "http://127.0.0.1:4566"}) {
		t.Errorf("expected the placeholders resolved, got %+v", c)
	}
}

func TestConnectionValidate(t *testing.T) {
	tests := []struct {
		endpoint, want string
	}{
		{"", ""},
		{"http://127.0.0.1:4566", ""},
		{"https://vpce-1.sqs.eu-west-2.vpce.amazonaws.com", ""},
		{"127.0.0.1:4566", `sns sender: endpoint "127.0.0.1:4566" must start with http:// or https://`},
		{"ftp://example.com", `sns sender: endpoint "ftp://example.com" must start with http://`},
	}
	for _, tt := range tests {
		testcaddy.CheckErr(t, Connection{Endpoint: tt.endpoint}.Validate("sns sender"), tt.want)
	}
}

func TestConnectionKey(t *testing.T) {
	base := Connection{Region: "eu-west-2", Endpoint: "http://127.0.0.1:4566", Profile: "otp"}
	if got := base.Key(); got != `region "eu-west-2", endpoint "http://127.0.0.1:4566", profile "otp"` {
		t.Errorf("expected the three settings quoted, got %s", got)
	}
	keys := map[string]Connection{}
	for _, c := range []Connection{
		base, {}, {Region: "eu-west-1", Endpoint: base.Endpoint, Profile: base.Profile},
		{Region: base.Region, Endpoint: "http://127.0.0.1:4567", Profile: base.Profile},
		{Region: base.Region, Endpoint: base.Endpoint},
		{Region: `eu", endpoint "x`}, {Region: "eu", Endpoint: "x"}, // quoting keeps them apart
	} {
		if other, dup := keys[c.Key()]; dup {
			t.Errorf("expected %+v and %+v to have keys of their own, got %s for both", c, other, c.Key())
		}
		keys[c.Key()] = c
	}
}

func TestConnectionSetEndpoint(t *testing.T) {
	resolved := "https://sns.example" // what the SDK chose, such as AWS_ENDPOINT_URL_SNS
	base := &resolved
	Connection{}.SetEndpoint(&base)
	if base != &resolved {
		t.Errorf("expected no endpoint to leave the SDK's, got %v", *base)
	}
	Connection{Endpoint: "http://127.0.0.1:4566"}.SetEndpoint(&base)
	if base == nil || *base != "http://127.0.0.1:4566" {
		t.Errorf("expected the configured endpoint, got %v", base)
	}
}

func TestConnectionUnmarshalBlock(t *testing.T) {
	// other knows "wait", with one value
	parse := func(input string) (Connection, string, error) {
		d := caddyfile.NewTestDispenser(input)
		d.Next()
		var c Connection
		var wait string
		err := c.UnmarshalBlock(d, func(word string) error {
			if word != "wait" {
				return Unrecognized(d, word)
			}
			if !d.NextArg() {
				return d.ArgErr()
			}
			wait = d.Val()
			return nil
		})
		return c, wait, err
	}

	c, wait, err := parse("guest {\n\tregion eu-west-2\n\twait 5s\n\tendpoint http://127.0.0.1:4566\n\tprofile otp\n}")
	if err != nil {
		t.Fatalf("expected no error, got %v", err)
	}
	if c != (Connection{Region: "eu-west-2", Endpoint: "http://127.0.0.1:4566", Profile: "otp"}) || wait != "5s" {
		t.Errorf("expected every setting read, got %+v and wait %q", c, wait)
	}
	for _, input := range []string{"guest", "guest {\n}"} {
		if c, _, err := parse(input); err != nil || c != (Connection{}) {
			t.Errorf("expected %q to set nothing, got %+v (%v)", input, c, err)
		}
	}

	bad := []struct {
		name, input, want string
	}{
		{"region without value", "guest {\n\tregion\n}", "'region' needs a value"},
		{"endpoint without value", "guest {\n\tendpoint\n}", "'endpoint' needs a value"},
		{"profile with two values", "guest {\n\tprofile a b\n}", "'profile' takes one value, got another: 'b'"},
		{"repeated region", "guest {\n\tregion eu-west-2\n\tregion eu-west-1\n}", "'region' is given more than once"},
		{"repeated profile", "guest {\n\tprofile a\n\tprofile b\n}", "'profile' is given more than once"},
		{"repeated guest word", "guest {\n\twait 1s\n\twait 2s\n}", "'wait' is given more than once"},
		{"guest word's own error", "guest {\n\twait\n}", "wrong argument count"},
		{"unknown word", "guest {\n\tbucket x\n}", "unrecognized subdirective 'bucket'"},
		{"nested block", "guest {\n\tregion {\n\t}\n}", "'region' needs a value"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := parse(tt.input)
			testcaddy.CheckErr(t, err, tt.want)
		})
	}
}
