package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xmppmedia/mediaserver/auth/localxmpp"
	"github.com/xmppmedia/mediaserver/mediasvc/metrics/metricstest"
)

// runMainEnv set to 1 makes the test binary act as the mediaserver
// binary on its command-line arguments, so a test can run `mediaserver
// serve` as a real process (signals, exit status) without a separate
// build. Not MEDIASERVER_*: the configuration loader rejects unknown
// variables of that prefix.
const runMainEnv = "MSTEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// `mediaserver serve` as an operator runs it: configured by a file and the
// environment, JSON logs on stderr, metrics on their own port, ready once
// its component is connected, and on SIGTERM a clean exit with status 0.
func TestServeProcess(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	px, err := localxmpp.Start(ctx, localxmpp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(px.Stop)
	dir := t.TempDir()
	api, metricsAddr := freeAddr(t), freeAddr(t)
	cfgFile := filepath.Join(dir, "mediaserver.yaml")
	cfg := fmt.Sprintf(`http:
  listen: %q
xmpp:
  component_jid: %q
  server_addr: %q
  channel_server: %q
storage:
  disk:
    root: %q
metadata:
  dsn: %q
log:
  format: json
metrics:
  listen: %q
`, api, px.ComponentJID().String(), px.ComponentAddr(), px.ChannelServer().String(),
		filepath.Join(dir, "media"), filepath.Join(dir, "media.db"), metricsAddr)
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "serve", "--config", cfgFile)
	cmd.Env = append(os.Environ(), runMainEnv+"=1",
		// The secret from the environment, as the systemd unit and the
		// container pass it.
		"MEDIASERVER_XMPP_COMPONENT_SECRET="+px.ComponentSecret())
	var stderr lockedBuffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// exited is closed when the process has ended; waitErr is then set.
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("server output:\n%s", stderr.String())
		}
	})

	base := "http://" + api
	waitFor(t, 20*time.Second, "the server process is ready", func() (bool, string) {
		select {
		case <-exited:
			t.Fatalf("serve exited early: %v\n%s", waitErr, stderr.String())
		default:
		}
		c, err := net.DialTimeout("tcp", api, time.Second)
		if err != nil {
			return false, err.Error()
		}
		c.Close()
		status, _, body := fetch(t, base+"/readyz")
		return status == 200, describe(status, body)
	})
	if status, _, body := fetch(t, base+"/healthz"); status != 200 {
		t.Fatalf("healthz: %s", describe(status, body))
	}
	waitFor(t, 5*time.Second, "the healthz request counted on the metrics port", func() (bool, string) {
		sc, err := metricstest.Get("http://" + metricsAddr + "/metrics")
		if err != nil {
			return false, err.Error()
		}
		v, _ := sc.Value("mediaserver_http_requests_total", map[string]string{"route": "/healthz", "status": "200"})
		connected, _ := sc.Value("mediaserver_xmpp_connected", nil)
		return v == 1 && connected == 1, fmt.Sprintf("healthz count %v, connected %v", v, connected)
	})

	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
		if waitErr != nil {
			t.Errorf("serve after SIGTERM: %v, want exit status 0", waitErr)
		}
		t.Logf("stopped %v after SIGTERM", time.Since(start).Round(time.Millisecond))
	case <-time.After(40 * time.Second):
		t.Fatal("serve did not stop within 40 s of SIGTERM")
	}

	// Every line is a JSON object (log.format: json), the secret is in
	// none, and the request and the shutdown are there.
	var msgs []string
	sc := bufio.NewScanner(bytes.NewReader([]byte(stderr.String())))
	for sc.Scan() {
		line := sc.Bytes()
		var rec map[string]any
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Errorf("log line is not JSON: %s", line)
			continue
		}
		msg, _ := rec["msg"].(string)
		if msg == "request" && rec["path"] == "/healthz" && rec["status"] != float64(200) {
			t.Errorf("healthz logged as %v", rec)
		}
		msgs = append(msgs, msg)
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{"mediaserver starting", "metrics listening", "request", "shutting down"} {
		if !strings.Contains(all, want) {
			t.Errorf("no %q in the log messages:\n%s", want, all)
		}
	}
	if strings.Contains(stderr.String(), px.ComponentSecret()) {
		t.Error("the component secret is in the log")
	}
}
