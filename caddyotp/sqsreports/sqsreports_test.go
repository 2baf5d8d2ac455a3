package sqsreports

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddyotp/caddyotp/internal/sqsdouble"
	"github.com/caddyotp/caddyotp/internal/testcaddy"
)

const exampleQueue = "https://sqs.eu-west-2.amazonaws.com/123456789012/otp-events"

func TestReaderProvision(t *testing.T) {
	t.Run("placeholders and defaults", func(t *testing.T) {
		sqsdouble.OfflineAWS(t)
		t.Setenv("OTP_TEST_SQS_QUEUE", exampleQueue)
		t.Setenv("OTP_TEST_SQS_REGION", "eu-west-1")
		t.Setenv("OTP_TEST_SQS_ENDPOINT", "http://127.0.0.1:4566")
		t.Setenv("OTP_TEST_SQS_PROFILE", "")
		r := &Reader{QueueURL: "{env.OTP_TEST_SQS_QUEUE}", Region: "{env.OTP_TEST_SQS_REGION}",
			Endpoint: "{env.OTP_TEST_SQS_ENDPOINT}", Profile: "{env.OTP_TEST_SQS_PROFILE}"}
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
	t.Run("region from the environment", func(t *testing.T) {
		sqsdouble.OfflineAWS(t)
		t.Setenv("AWS_REGION", "us-east-1")
		r := &Reader{QueueURL: exampleQueue}
		if err := r.Provision(testcaddy.Context(t)); err != nil {
			t.Fatalf("expected no error, got %v", err)
		}
	})
	t.Run("profile from the shared config", func(t *testing.T) {
		sqsdouble.OfflineAWS(t)
		cfg := filepath.Join(t.TempDir(), "config")
		if err := os.WriteFile(cfg, []byte("[profile otp]\nregion = ap-southeast-2\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("AWS_CONFIG_FILE", cfg)
		r := &Reader{QueueURL: exampleQueue, Profile: "otp"}
		if err := r.Provision(testcaddy.Context(t)); err != nil {
			t.Fatalf("expected no error, got %v", err)
		}
	})

	bad := []struct {
		name string
		r    Reader
		want string
	}{
		{"no queue", Reader{Region: "eu-west-2"}, "queue_url is required"},
		{"no region", Reader{QueueURL: exampleQueue}, "region"},
		{"unknown profile", Reader{QueueURL: exampleQueue, Region: "eu-west-2", Profile: "nope"}, "nope"},
		{"bad wait", Reader{QueueURL: exampleQueue, Region: "eu-west-2", Wait: caddy.Duration(30 * time.Second)}, "wait"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			sqsdouble.OfflineAWS(t)
			r := tt.r
			testcaddy.CheckErr(t, r.Provision(testcaddy.Context(t)), tt.want)
		})
	}
}

// imdsCounter is a stand-in instance metadata service that counts its requests and knows
// nothing.
func imdsCounter(t *testing.T) *atomic.Int64 {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "false")
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", srv.URL)
	return &hits
}

func TestReaderProvisionMakesNoAWSCall(t *testing.T) {
	d := sqsdouble.New(t)
	sqsdouble.OfflineAWS(t)
	// no credentials anywhere, instance metadata reachable, and the defaults mode that
	// would ask it: provision must still touch nothing
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_DEFAULTS_MODE", "auto")
	imds := imdsCounter(t)
	d.Put(sqsdouble.Sample(sqsdouble.SampleEvent))

	r := &Reader{QueueURL: d.QueueURL(), Region: "eu-west-2", Endpoint: d.URL()}
	if err := r.Provision(testcaddy.Context(t)); err != nil {
		t.Fatalf("expected no error, got %v", err)
	}
	if err := r.Validate(); err != nil {
		t.Fatalf("expected a valid reader, got %v", err)
	}
	if n := imds.Load(); n != 0 {
		t.Errorf("expected no instance metadata request at provision, got %d", n)
	}
	if n := d.Requests("ReceiveMessage"); n != 0 {
		t.Errorf("expected no SQS request at provision, got %d", n)
	}
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
	base := Reader{QueueURL: exampleQueue, Region: "eu-west-2"}
	same := base
	same.Wait = caddy.Duration(5 * time.Second) // how it reads is not what it reads
	if base.ReporterKey() != same.ReporterKey() {
		t.Errorf("expected the wait not to change the key, got %q and %q", base.ReporterKey(), same.ReporterKey())
	}
	for _, other := range []Reader{
		{QueueURL: exampleQueue + "-2", Region: "eu-west-2"},
		{QueueURL: exampleQueue, Region: "eu-west-1"},
		{QueueURL: exampleQueue, Region: "eu-west-2", Endpoint: "http://127.0.0.1:4566"},
		{QueueURL: exampleQueue, Region: "eu-west-2", Profile: "otp"},
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
			Reader{QueueURL: exampleQueue, Region: "eu-west-2", Endpoint: "http://127.0.0.1:4566", Profile: "otp", Wait: caddy.Duration(5 * time.Second)},
		},
		{"placeholder", "sqs {env.OTP_QUEUE} {\n\tregion {env.AWS_REGION}\n}", Reader{QueueURL: "{env.OTP_QUEUE}", Region: "{env.AWS_REGION}"}},
	}
	for _, tt := range good {
		t.Run(tt.name, func(t *testing.T) {
			var r Reader
			if err := r.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input)); err != nil {
				t.Fatalf("expected no error, got %v", err)
			}
			if r.QueueURL != tt.want.QueueURL || r.Region != tt.want.Region || r.Endpoint != tt.want.Endpoint ||
				r.Profile != tt.want.Profile || r.Wait != tt.want.Wait {
				t.Errorf("expected %+v, got %+v", tt.want, r)
			}
		})
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
		{"repeat", "sqs " + exampleQueue + " {\n\tregion a\n\tregion b\n}", "'region' is given more than once"},
		{"region without value", "sqs " + exampleQueue + " {\n\tregion\n}", "'region' needs a value"},
		{"two endpoints", "sqs " + exampleQueue + " {\n\tendpoint a b\n}", "'endpoint' takes one value"},
		{"bad wait", "sqs " + exampleQueue + " {\n\twait soon\n}", "'wait': 'soon' is not a duration"},
		{"wait without value", "sqs " + exampleQueue + " {\n\twait\n}", "'wait' needs a value"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			var r Reader
			testcaddy.CheckErr(t, r.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input)), tt.want)
		})
	}
}

// TestReaderInTheGlobalOption: the otp global option's `reports sqs` reaches this module
// and the JSON it writes names every field as documented.
func TestReaderInTheGlobalOption(t *testing.T) {
	out := testcaddy.Adapt(t, `{
	otp {
		reports sqs `+exampleQueue+` {
			region eu-west-2
			endpoint http://127.0.0.1:4566
			profile otp
			wait 10s
		}
	}
}
`)
	var cfg struct {
		Apps struct {
			OTP struct {
				Reports []map[string]any `json:"reports"`
			} `json:"otp"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"reporter": "sqs", "queue_url": exampleQueue, "region": "eu-west-2",
		"endpoint": "http://127.0.0.1:4566", "profile": "otp", "wait": float64(10 * time.Second)}
	if len(cfg.Apps.OTP.Reports) != 1 {
		t.Fatalf("expected 1 reporter, got %s", out)
	}
	got := cfg.Apps.OTP.Reports[0]
	if len(got) != len(want) {
		t.Errorf("expected %v, got %v", want, got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("expected %s = %v, got %v", k, v, got[k])
		}
	}

	// the JSON loads back into the module
	raw, _ := json.Marshal(got)
	var r Reader
	if err := json.Unmarshal(raw, &r); err != nil || r.QueueURL != exampleQueue || time.Duration(r.Wait) != 10*time.Second {
		t.Errorf("expected the JSON to load into the reader, got %+v (%v)", r, err)
	}
}
