package sqsreports

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddyotp/caddyotp/caddyotp/internal/awsx"
	"github.com/caddyotp/caddyotp/caddyotp/internal/awsx/awsxtest"
	"github.com/caddyotp/caddyotp/internal/awsdouble"
	"github.com/caddyotp/caddyotp/internal/sqsdouble"
	"github.com/caddyotp/caddyotp/internal/testcaddy"
)

const exampleQueue = "https://sqs.eu-west-2.amazonaws.com/123456789012/otp-events"

// conn is a connection in region, at endpoint, with profile.
func conn(region, endpoint, profile string) awsx.Connection {
	return awsx.Connection{Region: region, Endpoint: endpoint, Profile: profile}
}

func TestReaderProvision(t *testing.T) {
	t.Run("placeholders and defaults", func(t *testing.T) {
		awsdouble.OfflineAWS(t)
		t.Setenv("OTP_TEST_SQS_QUEUE", exampleQueue)
		t.Setenv("OTP_TEST_SQS_REGION", "eu-west-1")
		t.Setenv("OTP_TEST_SQS_ENDPOINT", "http://127.0.0.1:4566")
		t.Setenv("OTP_TEST_SQS_PROFILE", "")
		r := &Reader{QueueURL: "{env.OTP_TEST_SQS_QUEUE}",
			Connection: conn("{env.OTP_TEST_SQS_REGION}", "{env.OTP_TEST_SQS_ENDPOINT}", "{env.OTP_TEST_SQS_PROFILE}")}
		if err := r.Provision(testcaddy.Context(t)); err != nil {
			t.Fatalf("expected no error, got %v", err)
		}
		if r.QueueURL != exampleQueue || r.Region != "eu-west-1" || r.Endpoint != "http://127.0.0.1:4566" || r.Profile != "" {
			t.Errorf("expected the placeholders resolved, got %+v", r)
		}
		if time.Duration(r.Wait) != 20*time.Second {
			t.Errorf("expected wait 20s, got %v", time.Duration(r.Wait))
		}
	})

	bad := []struct {
		name string
		r    Reader
		want string
	}{
		{"no queue", Reader{Connection: conn("eu-west-2", "", "")}, "queue_url is required"},
		{"no region", Reader{QueueURL: exampleQueue}, "region"},
		{"unknown profile", Reader{QueueURL: exampleQueue, Connection: conn("eu-west-2", "", "nope")}, "nope"},
		{"endpoint without scheme", Reader{QueueURL: exampleQueue, Connection: conn("eu-west-2", "127.0.0.1:4566", "")}, "sqs reports: endpoint"},
		{"bad wait", Reader{QueueURL: exampleQueue, Connection: conn("eu-west-2", "", ""), Wait: caddy.Duration(30 * time.Second)}, "wait"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			awsdouble.OfflineAWS(t)
			r := tt.r
			testcaddy.CheckErr(t, r.Provision(testcaddy.Context(t)), tt.want)
		})
	}
}

func TestReaderProvisionMakesNoAWSCall(t *testing.T) {
	d := sqsdouble.New(t)
	d.Put(sqsdouble.Sample(sqsdouble.SampleEvent))
	r := &Reader{QueueURL: d.QueueURL(), Connection: conn("eu-west-2", d.URL(), "")}
	awsxtest.NoAWSCallAtProvision(t, r, d.Attempts, nil)
}

func TestReaderValidate(t *testing.T) {
	ok := Reader{QueueURL: exampleQueue, Wait: caddy.Duration(20 * time.Second)}
	tests := []struct {
		name   string
		change func(r *Reader)
		want   string
	}{
		{"valid", func(r *Reader) {}, ""},
		{"http queue", func(r *Reader) { r.QueueURL = "http://127.0.0.1:4566/000000000000/q" }, ""},
		{"default wait", func(r *Reader) { r.Wait = 0 }, ""},
		{"shortest wait", func(r *Reader) { r.Wait = caddy.Duration(time.Second) }, ""},
		{"endpoint", func(r *Reader) { r.Endpoint = "https://vpce-1.sqs.eu-west-2.vpce.amazonaws.com" }, ""},
		{"no queue", func(r *Reader) { r.QueueURL = "" }, "queue_url is required"},
		{"queue name only", func(r *Reader) { r.QueueURL = "otp-events" }, "queue_url"},
		{"queue without scheme", func(r *Reader) { r.QueueURL = "sqs.eu-west-2.amazonaws.com/123456789012/otp-events" }, "queue_url"},
		{"queue arn", func(r *Reader) { r.QueueURL = "arn:aws:sqs:eu-west-2:123456789012:otp-events" }, "queue_url"},
		{"queue without path", func(r *Reader) { r.QueueURL = "https://sqs.eu-west-2.amazonaws.com/" }, "queue_url"},
		{"queue ftp", func(r *Reader) { r.QueueURL = "ftp://sqs.eu-west-2.amazonaws.com/1/q" }, "queue_url"},
		{"queue without host", func(r *Reader) { r.QueueURL = "https:///123456789012/otp-events" }, "queue_url"},
		{"endpoint without scheme", func(r *Reader) { r.Endpoint = "127.0.0.1:4566" }, "endpoint"},
		{"wait too short", func(r *Reader) { r.Wait = caddy.Duration(500 * time.Millisecond) }, "wait 500ms is outside 1s..20s"},
		{"wait too long", func(r *Reader) { r.Wait = caddy.Duration(21 * time.Second) }, "wait 21s is outside 1s..20s"},
		{"negative wait", func(r *Reader) { r.Wait = caddy.Duration(-time.Second) }, "wait"},
		{"wait not whole seconds", func(r *Reader) { r.Wait = caddy.Duration(1500 * time.Millisecond) }, "wait 1.5s is not a whole number of seconds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ok
			tt.change(&r)
			testcaddy.CheckErr(t, r.Validate(), tt.want)
		})
	}
}

func TestReporterKey(t *testing.T) {
	base := Reader{QueueURL: exampleQueue, Connection: conn("eu-west-2", "", "")}
	same := base
	same.Wait = caddy.Duration(5 * time.Second) // how it reads is not what it reads
	if base.ReporterKey() != same.ReporterKey() {
		t.Errorf("expected the wait not to change the key, got %q and %q", base.ReporterKey(), same.ReporterKey())
	}
	for _, other := range []Reader{
		{QueueURL: exampleQueue + "-2", Connection: conn("eu-west-2", "", "")},
		{QueueURL: exampleQueue, Connection: conn("eu-west-1", "", "")},
		{QueueURL: exampleQueue, Connection: conn("eu-west-2", "http://127.0.0.1:4566", "")},
		{QueueURL: exampleQueue, Connection: conn("eu-west-2", "", "otp")},
	} {
		if other.ReporterKey() == base.ReporterKey() {
			t.Errorf("expected %+v to have a key of its own, got %q", other, other.ReporterKey())
		}
	}
	if !strings.Contains(base.ReporterKey(), exampleQueue) {
		t.Errorf("expected the key to name the queue, got %q", base.ReporterKey())
	}
}

func TestReaderUnmarshalCaddyfile(t *testing.T) {
	good := []struct {
		name  string
		input string
		want  Reader
	}{
		{"bare", "sqs " + exampleQueue, Reader{QueueURL: exampleQueue}},
		{"empty block", "sqs " + exampleQueue + " {\n}", Reader{QueueURL: exampleQueue}},
		{
			"everything",
			"sqs " + exampleQueue + " {\n\tregion eu-west-2\n\tendpoint http://127.0.0.1:4566\n\tprofile otp\n\twait 5s\n}",
			Reader{QueueURL: exampleQueue, Connection: conn("eu-west-2", "http://127.0.0.1:4566", "otp"), Wait: caddy.Duration(5 * time.Second)},
		},
		{"placeholder", "sqs {env.OTP_QUEUE} {\n\tregion {env.AWS_REGION}\n}", Reader{QueueURL: "{env.OTP_QUEUE}", Connection: conn("{env.AWS_REGION}", "", "")}},
	}
	for _, tt := range good {
		r, err := awsxtest.Unmarshal[Reader](tt.input)
		if err != nil || r.QueueURL != tt.want.QueueURL || r.Connection != tt.want.Connection || r.Wait != tt.want.Wait {
			t.Errorf("%s: expected %+v, got %+v (%v)", tt.name, tt.want, r, err)
		}
	}

	bad := []struct {
		name  string
		input string
		want  string
	}{
		{"no queue", "sqs", "'sqs' needs a queue URL"},
		{"no queue, a block", "sqs {\n\tregion eu-west-2\n}", "'sqs' needs a queue URL"},
		{"two queues", "sqs " + exampleQueue + " " + exampleQueue, "'sqs' takes one queue URL"},
		{"unknown", "sqs " + exampleQueue + " {\n\tinterval 1m\n}", "unrecognized subdirective 'interval'"},
		{"repeated wait", "sqs " + exampleQueue + " {\n\twait 1s\n\twait 2s\n}", "'wait' is given more than once"},
		{"two endpoints", "sqs " + exampleQueue + " {\n\tendpoint a b\n}", "'endpoint' takes one value"},
		{"bad wait", "sqs " + exampleQueue + " {\n\twait soon\n}", "'wait': 'soon' is not a duration"},
		{"wait without value", "sqs " + exampleQueue + " {\n\twait\n}", "'wait' needs a value"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := awsxtest.Unmarshal[Reader](tt.input)
			testcaddy.CheckErr(t, err, tt.want)
		})
	}
}

// TestReaderInTheGlobalOption: the otp global option's `reports sqs` reaches this module
// and the JSON it writes names every field as documented.
func TestReaderInTheGlobalOption(t *testing.T) {
	raw := awsxtest.CheckAdapted(t, `{
	otp {
		reports sqs `+exampleQueue+` {
			region eu-west-2
			endpoint http://127.0.0.1:4566
			profile otp
			wait 10s
		}
	}
}
`, "reports", map[string]any{"reporter": "sqs", "queue_url": exampleQueue, "region": "eu-west-2",
		"endpoint": "http://127.0.0.1:4566", "profile": "otp", "wait": float64(10 * time.Second)})

	// the JSON loads back into the module
	var r Reader
	if err := json.Unmarshal(raw, &r); err != nil || r.QueueURL != exampleQueue || r.Profile != "otp" || time.Duration(r.Wait) != 10*time.Second {
		t.Errorf("expected the JSON to load into the reader, got %+v (%v)", r, err)
	}
}
