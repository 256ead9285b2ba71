package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
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
	exe, env := serverCommand(t, false)
	srv := startServerProcess(t, exe, env, px, dir, "sqlite", filepath.Join(dir, "media.db"))
	if status, _, body := fetch(t, srv.base+"/healthz"); status != 200 {
		t.Fatalf("healthz: %s", describe(status, body))
	}
	waitFor(t, 5*time.Second, "the healthz request counted on the metrics port", func() (bool, string) {
		sc, err := metricstest.Get(srv.metricsURL)
		if err != nil {
			return false, err.Error()
		}
		v, _ := sc.Value("mediaserver_http_requests_total", map[string]string{"route": "/healthz", "status": "200"})
		connected, _ := sc.Value("mediaserver_xmpp_connected", nil)
		return v == 1 && connected == 1, fmt.Sprintf("healthz count %v, connected %v", v, connected)
	})

	start := time.Now()
	exitErr, stopped := srv.stop(40 * time.Second)
	if !stopped {
		t.Fatal("serve did not stop within 40 s of SIGTERM")
	}
	if exitErr != nil {
		t.Errorf("serve after SIGTERM: %v, want exit status 0", exitErr)
	}
	t.Logf("stopped %v after SIGTERM", time.Since(start).Round(time.Millisecond))

	// Every line is a JSON object (log.format: json), the secret is in
	// none, and the request and the shutdown are there.
	output := mustRead(t, srv.logPath)
	var msgs []string
	sc := bufio.NewScanner(bytes.NewReader(output))
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
	if bytes.Contains(output, []byte(px.ComponentSecret())) {
		t.Error("the component secret is in the log")
	}
}

// serverProcess is a running `mediaserver serve`.
type serverProcess struct {
	base       string
	metricsURL string
	logPath    string // its stdout and stderr
	cmd        *exec.Cmd
	exited     chan struct{} // closed when the process has ended; waitErr is then set
	waitErr    error
}

// startServerProcess runs `mediaserver serve` (exe with env, see
// serverCommand) on a configuration file with disk blobs under dir and the
// given metadata store, JSON logs to a file and metrics on their own port,
// and waits until it is ready (its component connected). It is stopped
// when t ends, if it has not been.
func startServerProcess(t *testing.T, exe string, env []string, px *localxmpp.Server, dir, driver, dsn string) *serverProcess {
	t.Helper()
	api, metricsAddr := freeAddr(t), freeAddr(t)
	cfgFile := filepath.Join(dir, "mediaserver.yaml")
	cfg := fmt.Sprintf(`http:
  listen: %q
  public_url: %q
xmpp:
  component_jid: %q
  server_addr: %q
  channel_server: %q
storage:
  disk:
    root: %q
metadata:
  driver: %q
  dsn: %q
log:
  format: json
metrics:
  listen: %q
`, api, "http://"+api, px.ComponentJID().String(), px.ComponentAddr(), px.ChannelServer().String(),
		filepath.Join(dir, "media"), driver, dsn, metricsAddr)
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &serverProcess{base: "http://" + api, metricsURL: "http://" + metricsAddr + "/metrics",
		logPath: filepath.Join(dir, "server.log"), exited: make(chan struct{})}
	logFile, err := os.Create(s.logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	s.cmd = exec.Command(exe, "serve", "--config", cfgFile)
	s.cmd.Env = append(append(os.Environ(), env...),
		// The secret from the environment, as the systemd unit and the
		// container pass it.
		"MEDIASERVER_XMPP_COMPONENT_SECRET="+px.ComponentSecret())
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.waitErr = s.cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() {
		if _, stopped := s.stop(30 * time.Second); !stopped {
			s.cmd.Process.Kill()
			<-s.exited
		}
		if t.Failed() {
			t.Logf("server log (tail):\n%s", tailFile(s.logPath, 4096))
		}
	})
	waitFor(t, 30*time.Second, "the server process is ready", func() (bool, string) {
		select {
		case <-s.exited:
			t.Fatalf("serve exited early: %v\n%s", s.waitErr, tailFile(s.logPath, 4096))
		default:
		}
		c, err := net.DialTimeout("tcp", api, time.Second)
		if err != nil {
			return false, err.Error()
		}
		c.Close()
		status, _, body := fetch(t, s.base+"/readyz")
		return status == http.StatusOK, describe(status, body)
	})
	return s
}

// stop sends SIGTERM (unless the process has ended) and waits up to d for
// the process to end. It reports how it exited, and false when it did not
// within d.
func (s *serverProcess) stop(d time.Duration) (exitErr error, stopped bool) {
	select {
	case <-s.exited:
		return s.waitErr, true
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		return s.waitErr, true
	case <-time.After(d):
		return nil, false
	}
}
