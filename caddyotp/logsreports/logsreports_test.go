package logsreports

import (
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddyotp/caddyotp/caddyotp/internal/awsx"
	"github.com/caddyotp/caddyotp/caddyotp/internal/awsx/awsxtest"
	"github.com/caddyotp/caddyotp/internal/testcaddy"
)

// conn is a connection in region, at endpoint, with profile.
func conn(region, endpoint, profile string) awsx.Connection {
	return awsx.Connection{Region: region, Endpoint: endpoint, Profile: profile}
}

func TestModuleInfo(t *testing.T) {
	info := Reader{}.CaddyModule()
	if info.ID != "otp.reports.cloudwatch_logs" {
		t.Errorf("expected id otp.reports.cloudwatch_logs, got %s", info.ID)
	}
	if _, ok := info.New().(*Reader); !ok {
		t.Errorf("expected New to make a *Reader, got %T", info.New())
	}
}

func TestUnmarshalCaddyfile(t *testing.T) {
	good := []struct {
		name  string
		input string
		want  Reader
	}{
		{"bare", "cloudwatch_logs " + group, Reader{LogGroup: group}},
		{"empty block", "cloudwatch_logs " + group + " {\n}", Reader{LogGroup: group}},
		{
			"everything",
			"cloudwatch_logs " + group + " {\n\tregion eu-west-2\n\tendpoint http://127.0.0.1:4566\n\tprofile otp\n\tinterval 30s\n}",
			Reader{LogGroup: group, Connection: conn("eu-west-2", "http://127.0.0.1:4566", "otp"), Interval: caddy.Duration(30 * time.Second)},
		},
		{"interval bounds", "cloudwatch_logs g {\n\tinterval 1h\n}", Reader{LogGroup: "g", Interval: caddy.Duration(time.Hour)}},
		{"placeholder", "cloudwatch_logs {env.SMS_LOG_GROUP} {\n\tregion {env.AWS_REGION}\n}", Reader{LogGroup: "{env.SMS_LOG_GROUP}", Connection: conn("{env.AWS_REGION}", "", "")}},
	}
	for _, tt := range good {
		if r, err := awsxtest.Unmarshal[Reader](tt.input); err != nil || r != tt.want {
			t.Errorf("%s: expected %+v, got %+v (%v)", tt.name, tt.want, r, err)
		}
	}

	bad := []struct {
		name  string
		input string
		want  string
	}{
		{"no log group", "cloudwatch_logs", "'cloudwatch_logs' needs a log group"},
		{"no log group before the block", "cloudwatch_logs {\n\tregion eu-west-2\n}", "'cloudwatch_logs' needs a log group"},
		{"two log groups", "cloudwatch_logs a b", "takes one log group, got another: 'b'"},
		{"unknown subdirective", "cloudwatch_logs g {\n\tqueue x\n}", "unrecognized subdirective 'queue'"},
		{"region with two values", "cloudwatch_logs g {\n\tregion eu-west-2 eu-west-1\n}", "'region' takes one value"},
		{"repeated interval", "cloudwatch_logs g {\n\tinterval 1m\n\tinterval 2m\n}", "'interval' is given more than once"},
		{"bad interval", "cloudwatch_logs g {\n\tinterval soon\n}", "'interval': 'soon' is not a duration"},
		{"interval too short", "cloudwatch_logs g {\n\tinterval 9s\n}", "'interval' 9s is outside 10s..1h0m0s"},
		{"interval too long", "cloudwatch_logs g {\n\tinterval 61m\n}", "'interval' 1h1m0s is outside 10s..1h0m0s"},
		{"zero interval", "cloudwatch_logs g {\n\tinterval 0s\n}", "outside 10s..1h0m0s"},
		{"profile without value", "cloudwatch_logs g {\n\tprofile\n}", "'profile' needs a value"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := awsxtest.Unmarshal[Reader](tt.input)
			testcaddy.CheckErr(t, err, tt.want)
		})
	}
}

// TestCaddyfileAdapt: `reports cloudwatch_logs` in the otp global option becomes the
// reporter's JSON in the otp app.
func TestCaddyfileAdapt(t *testing.T) {
	awsxtest.CheckAdapted(t, `{
	otp {
		reports cloudwatch_logs sns/eu-west-2/123456789012/DirectPublishToPhoneNumber {
			region eu-west-2
			endpoint http://127.0.0.1:4566
			interval 2m
		}
	}
}`, "reports", map[string]any{"reporter": "cloudwatch_logs", "log_group": group, "region": "eu-west-2",
		"endpoint": "http://127.0.0.1:4566", "interval": float64(2 * time.Minute)})
}

func TestValidate(t *testing.T) {
	valid := Reader{LogGroup: group, Interval: caddy.Duration(time.Minute)}
	tests := []struct {
		name   string
		change func(r *Reader)
		want   string
	}{
		{"valid", func(*Reader) {}, ""},
		{"https endpoint", func(r *Reader) { r.Endpoint = "https://logs.eu-west-2.amazonaws.com" }, ""},
		{"shortest interval", func(r *Reader) { r.Interval = caddy.Duration(10 * time.Second) }, ""},
		{"longest interval", func(r *Reader) { r.Interval = caddy.Duration(time.Hour) }, ""},
		{"longest log group", func(r *Reader) { r.LogGroup = strings.Repeat("a", 504) }, ""},
		{"every allowed character", func(r *Reader) { r.LogGroup = "aZ09._-/#" }, ""},
		{"empty log group", func(r *Reader) { r.LogGroup = "" }, "log_group is required"},
		{"log group too long", func(r *Reader) { r.LogGroup = strings.Repeat("a", 505) }, "log_group is 505 characters long"},
		{"log group with a space", func(r *Reader) { r.LogGroup = "sns/eu-west-2 x" }, `log_group "sns/eu-west-2 x" may hold only`},
		{"endpoint without scheme", func(r *Reader) { r.Endpoint = "127.0.0.1:4566" }, `cloudwatch_logs reports: endpoint "127.0.0.1:4566" must start with http://`},
		{"interval too short", func(r *Reader) { r.Interval = caddy.Duration(9 * time.Second) }, "interval 9s is outside 10s..1h0m0s"},
		{"interval too long", func(r *Reader) { r.Interval = caddy.Duration(2 * time.Hour) }, "interval 2h0m0s is outside"},
		{"negative interval", func(r *Reader) { r.Interval = caddy.Duration(-time.Minute) }, "interval -1m0s is outside"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := valid
			tt.change(&r)
			testcaddy.CheckErr(t, r.Validate(), tt.want)
		})
	}
}

func TestProvision(t *testing.T) {
	t.Setenv("SMS_LOG_GROUP", group)
	t.Setenv("SMS_REGION", "eu-west-2")
	r := &Reader{LogGroup: "{env.SMS_LOG_GROUP}", Connection: conn("{env.SMS_REGION}", "http://127.0.0.1:1", "")}
	if err := r.Provision(testcaddy.Context(t)); err != nil {
		t.Fatalf("expected no error, got %v", err)
	}
	if r.LogGroup != group || r.Region != "eu-west-2" {
		t.Errorf("expected the placeholders resolved, got %q and %q", r.LogGroup, r.Region)
	}
	if time.Duration(r.Interval) != time.Minute {
		t.Errorf("expected the default interval of 1m, got %v", time.Duration(r.Interval))
	}
	if r.logger == nil {
		t.Errorf("expected a logger, got none")
	}

	bad := &Reader{LogGroup: "{env.SMS_UNSET_GROUP}"}
	testcaddy.CheckErr(t, bad.Provision(testcaddy.Context(t)), "log_group is required")
	short := &Reader{LogGroup: group, Interval: caddy.Duration(time.Second)}
	testcaddy.CheckErr(t, short.Provision(testcaddy.Context(t)), "interval 1s is outside")
}

func TestReporterKey(t *testing.T) {
	base := Reader{LogGroup: group, Connection: conn("eu-west-2", "http://127.0.0.1:4566", "otp")}
	keys := map[string]string{base.ReporterKey(): "base"}
	variants := map[string]Reader{
		"group":    {LogGroup: group + "2", Connection: base.Connection},
		"region":   {LogGroup: group, Connection: conn("eu-west-1", base.Endpoint, base.Profile)},
		"endpoint": {LogGroup: group, Connection: conn(base.Region, "http://127.0.0.1:4567", base.Profile)},
		"profile":  {LogGroup: group, Connection: conn(base.Region, base.Endpoint, "other")},
		"no extra": {LogGroup: group},
	}
	for name, r := range variants {
		k := r.ReporterKey()
		if other, dup := keys[k]; dup {
			t.Errorf("expected %s to change the key, got the key of %s: %s", name, other, k)
		}
		keys[k] = name
	}
	same := base
	same.Interval = caddy.Duration(time.Hour)
	if same.ReporterKey() != base.ReporterKey() {
		t.Errorf("expected the interval not to change the key, got %q and %q", same.ReporterKey(), base.ReporterKey())
	}
	if !strings.HasPrefix(base.ReporterKey(), group+" ") {
		t.Errorf("expected the key to start with the log group, got %q", base.ReporterKey())
	}
}
