package awsdouble

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain runs the test binary as the helper double of TestMainProcess when asked to.
func TestMain(m *testing.M) {
	if os.Getenv("AWSDOUBLE_MAIN_HELPER") == "1" {
		Main("helperdouble", listenHelper)
		return
	}
	os.Exit(m.Run())
}

// listenHelper is a double that answers "helper double" to everything.
func listenHelper(addr string) (*Server, error) {
	s, err := Listen(addr)
	if err != nil {
		return nil, err
	}
	s.Serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "helper double") })) //nolint:errcheck
	return s, nil
}

// TestMainProcess runs Main in a child process (this test binary again, see TestMain): it
// prints the double's URL first, serves it, and stops at SIGTERM.
func TestMainProcess(t *testing.T) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "AWSDOUBLE_MAIN_HELPER=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() }) //nolint:errcheck // stopped already, unless the test failed
	lines := bufio.NewReader(stdout)
	first, err := lines.ReadString('\n')
	if err != nil {
		t.Fatalf("expected the URL as the first line, got %v", err)
	}
	url := strings.TrimSpace(first)
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("expected http://127.0.0.1:port first, got %q", first)
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("expected the double to answer, got %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "helper double" {
		t.Errorf("expected the helper double's answer, got %q", body)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		io.Copy(io.Discard, lines) //nolint:errcheck
		done <- cmd.Wait()
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("expected a clean exit at SIGTERM, got %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("expected the process to stop at SIGTERM, still running after 10s")
	}
	if _, err := http.Get(url); err == nil {
		t.Error("expected the double closed after SIGTERM, got an answer")
	}
}
