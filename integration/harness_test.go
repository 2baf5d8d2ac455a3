// Package integration runs the real thing: the Caddy binary built from ./cmd/caddy (with
// this plugin), real redis-server processes, the SNS test double and a headless Chromium.
// Everything listens on 127.0.0.1 and is stopped when its test ends.
package integration

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/caddyotp/caddyotp/internal/testnet"
)

// caddyBin is the Caddy built once by TestMain for every test of the package.
var caddyBin string

// Bounds for starting and stopping a Caddy process.
const (
	caddyStartTimeout = 15 * time.Second
	caddyStopTimeout  = 5 * time.Second
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "caddyotp-integration-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "creating a temp dir for the caddy binary: %v\n", err)
		os.Exit(1)
	}
	caddyBin = filepath.Join(dir, "caddy")
	start := time.Now()
	build := exec.Command("go", "build", "-o", caddyBin, "github.com/caddyotp/caddyotp/cmd/caddy")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "building caddy: %v\n", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	fmt.Printf("integration: built caddy in %s\n", time.Since(start).Round(time.Millisecond))
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// caddyProc is one running Caddy process.
type caddyProc struct {
	t       testing.TB
	cmd     *exec.Cmd
	logPath string        // the process's stdout and stderr
	admin   string        // host:port of its admin endpoint
	exited  chan struct{} // closed when the process has exited
	waitErr error         // set before exited is closed
}

// globalOptions matches the global options block the Caddyfile starts with, if any.
var globalOptions = regexp.MustCompile(`^\s*\{[ \t]*\n`)

// siteAddress matches the sites a test Caddyfile defines, which startCaddy waits for.
var siteAddress = regexp.MustCompile(`(?m)^(http://127\.0\.0\.1:\d+)\s*\{`)

// startCaddy runs the built Caddy with caddyfile and waits until every site in it answers.
// It adds `admin 127.0.0.1:<free port>` and `default_bind 127.0.0.1` to the global options
// (creating the block if there is none), so instances never meet on a port and nothing
// listens beyond the loopback. Sites should be written http://127.0.0.1:<freePort>.
func startCaddy(t testing.TB, caddyfile string) *caddyProc {
	t.Helper()
	admin := fmt.Sprintf("127.0.0.1:%d", testnet.FreePort(t))
	opts := fmt.Sprintf("\tadmin %s\n\tdefault_bind 127.0.0.1\n", admin)
	if loc := globalOptions.FindStringIndex(caddyfile); loc != nil {
		caddyfile = caddyfile[:loc[1]] + opts + caddyfile[loc[1]:]
	} else {
		caddyfile = "{\n" + opts + "}\n\n" + caddyfile
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(path, []byte(caddyfile), 0o600); err != nil {
		t.Fatalf("writing the Caddyfile: %v", err)
	}
	p := runCaddy(t, dir, nil, "run", "--config", path, "--adapter", "caddyfile")
	p.admin = admin
	var urls []string
	for _, m := range siteAddress.FindAllStringSubmatch(caddyfile, -1) {
		urls = append(urls, m[1]+"/")
	}
	if len(urls) == 0 {
		urls = []string{"http://" + admin + "/config/"}
	}
	p.waitHTTP(urls...)
	return p
}

// runCaddy starts the built Caddy with args in workDir and an environment that keeps it
// away from the real home and from any real AWS credentials; extraEnv is added last. The
// process is stopped when the test ends, and its output is shown if the test failed.
func runCaddy(t testing.TB, workDir string, extraEnv []string, args ...string) *caddyProc {
	t.Helper()
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatalf("writing an empty AWS config: %v", err)
	}
	for _, d := range []string{"home", "data", "config"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "AWS_") || strings.HasPrefix(name, "XDG_") || strings.HasPrefix(name, "CADDY_") ||
			strings.HasPrefix(name, "OTP_") || name == "HOME" {
			continue
		}
		env = append(env, kv)
	}
	env = append(env,
		"AWS_ACCESS_KEY_ID=test",
		"AWS_SECRET_ACCESS_KEY=test",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE="+empty,
		"AWS_SHARED_CREDENTIALS_FILE="+empty,
		"HOME="+filepath.Join(dir, "home"),
		"XDG_DATA_HOME="+filepath.Join(dir, "data"),
		"XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
	)
	env = append(env, extraEnv...)

	logPath := filepath.Join(dir, "caddy.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatalf("creating the caddy log: %v", err)
	}
	cmd := exec.Command(caddyBin, args...)
	cmd.Dir = workDir
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("starting caddy: %v", err)
	}
	p := &caddyProc{t: t, cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		logFile.Close()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("caddy (pid %d) output, last lines:\n%s", cmd.Process.Pid, p.tail(40))
		}
	})
	return p
}

// waitHTTP waits until every url answers (any status), failing the test with Caddy's output
// if the process exits or the bound passes first.
func (p *caddyProc) waitHTTP(urls ...string) {
	p.t.Helper()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(caddyStartTimeout)
	for _, u := range urls {
		for {
			resp, err := client.Get(u)
			if err == nil {
				resp.Body.Close()
				break
			}
			select {
			case <-p.exited:
				p.t.Fatalf("expected caddy to serve %s, got it exited (%v); output:\n%s", u, p.waitErr, p.tail(40))
			default:
			}
			if time.Now().After(deadline) {
				p.t.Fatalf("expected %s to answer within %s, got %v; caddy output:\n%s", u, caddyStartTimeout, err, p.tail(40))
			}
			time.Sleep(25 * time.Millisecond)
		}
	}
}

// stop ends the process: SIGTERM, then SIGKILL if it has not exited within the bound.
func (p *caddyProc) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(caddyStopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// output is everything the process wrote so far.
func (p *caddyProc) output() string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return fmt.Sprintf("(reading %s: %v)", p.logPath, err)
	}
	return string(b)
}

// tail is the last n lines of the process's output.
func (p *caddyProc) tail(n int) string {
	lines := bytes.Split(bytes.TrimRight([]byte(p.output()), "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// waitOutput polls the process's output until a line matches re and returns the first
// submatch of the first matching line after skip bytes, or fails after timeout.
func (p *caddyProc) waitOutput(re *regexp.Regexp, skip int, timeout time.Duration) string {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out := p.output()
		if len(out) > skip {
			if m := re.FindStringSubmatch(out[skip:]); m != nil {
				if len(m) > 1 {
					return m[1]
				}
				return m[0]
			}
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("expected caddy's output to match %s within %s, got:\n%s", re, timeout, p.tail(20))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
