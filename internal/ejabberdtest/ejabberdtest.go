// Package ejabberdtest runs a throwaway ejabberd for tests: a
// configuration under test (such as configs/ejabberd-mediaserver.yml) with
// its external component listener moved to a free 127.0.0.1 port and a
// plain c2s listener added for test clients, in a temporary directory,
// stopped when the test ends.
//
// It installs nothing: a test that needs ejabberd fails when ejabberdctl
// is not on the PATH (apt-get install -y ejabberd; scripts/test installs
// it).
package ejabberdtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/xmppmedia/mediaserver/internal/ports"
	"mellium.im/xmpp/jid"
)

// Server is an ejabberd node running in a temporary directory.
type Server struct {
	dir, node              string
	domain                 string
	c2sAddr, componentAddr string
	config                 map[string]any // as given to Start, before the test settings
}

// Start runs ejabberd with config (an ejabberd.yml) merged into test
// settings: every ejabberd_service listener moves to one free loopback
// port (ComponentAddr), a c2s listener without STARTTLS is added on
// another (C2SAddr), and logging is at info. The first of config's hosts
// is the Domain. ejabberd is stopped with t's cleanup.
func Start(t testing.TB, config []byte) *Server {
	t.Helper()
	if _, err := exec.LookPath("ejabberdctl"); err != nil {
		t.Fatal("ejabberd is not installed (apt-get install -y ejabberd; scripts/test installs it)")
	}
	var cfg, given map[string]any
	if err := yaml.Unmarshal(config, &cfg); err != nil {
		t.Fatalf("parse the ejabberd configuration: %v", err)
	}
	yaml.Unmarshal(config, &given)
	hosts, _ := cfg["hosts"].([]any)
	if len(hosts) == 0 {
		t.Fatal("the ejabberd configuration names no hosts")
	}
	free, err := ports.Free(2)
	if err != nil {
		t.Fatal(err)
	}
	listen, _ := cfg["listen"].([]any)
	for _, l := range listen {
		if m, ok := l.(map[string]any); ok && m["module"] == "ejabberd_service" {
			m["port"] = free[1]
		}
	}
	cfg["listen"] = append(listen, map[string]any{
		"port": free[0], "ip": "127.0.0.1", "module": "ejabberd_c2s", "starttls_required": false,
	})
	cfg["loglevel"] = "info"
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}

	// ejabberdctl runs ejabberd as the ejabberd user: the directory must
	// be theirs.
	dir, err := os.MkdirTemp("", "ejabberd-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	var b [6]byte
	rand.Read(b[:])
	s := &Server{
		dir: dir, node: "mediaservertest" + hex.EncodeToString(b[:]) + "@localhost",
		domain:        fmt.Sprint(hosts[0]),
		config:        given,
		c2sAddr:       "127.0.0.1:" + strconv.Itoa(free[0]),
		componentAddr: "127.0.0.1:" + strconv.Itoa(free[1]),
	}
	for _, d := range []string{"spool", "logs"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o750); err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range map[string][]byte{"ejabberd.yml": out, "ejabberdctl.cfg": nil, "inetrc": nil} {
		if err := os.WriteFile(filepath.Join(dir, name), body, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	if os.Geteuid() == 0 {
		if u, err := user.Lookup("ejabberd"); err == nil {
			uid, _ := strconv.Atoi(u.Uid)
			gid, _ := strconv.Atoi(u.Gid)
			filepath.Walk(dir, func(p string, _ os.FileInfo, _ error) error { return os.Chown(p, uid, gid) })
		}
	}

	cmd := exec.Command("ejabberdctl", append(s.flags(), "foreground")...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	console, err := os.Create(filepath.Join(dir, "console.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer console.Close() // the child has its own copy
	cmd.Stdout, cmd.Stderr = console, console
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		stop := exec.Command("ejabberdctl", append(s.flags(), "stop")...)
		stop.Run()
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := ports.Wait(ctx, exited, s.c2sAddr, s.componentAddr); err != nil {
		out, _ := os.ReadFile(console.Name())
		t.Fatalf("ejabberd: %v\n%s\n%s", err, out, s.Log())
	}
	if strings.Contains(s.Log(), "[error]") {
		t.Logf("ejabberd logged errors at start:\n%s", s.Log())
	}
	return s
}

func (s *Server) flags() []string {
	return []string{"--config-dir", s.dir, "--config", filepath.Join(s.dir, "ejabberd.yml"),
		"--ctl-config", filepath.Join(s.dir, "ejabberdctl.cfg"), "--spool", filepath.Join(s.dir, "spool"),
		"--logs", filepath.Join(s.dir, "logs"), "--node", s.node}
}

// Ctl runs ejabberdctl with args against this node and returns its
// output; a non-zero exit is an error carrying the output.
func (s *Server) Ctl(ctx context.Context, args ...string) ([]byte, error) {
	out, err := exec.CommandContext(ctx, "ejabberdctl", append(s.flags(), args...)...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("ejabberdctl %v: %w\n%s", args, err, out)
	}
	return out, nil
}

// Register creates the account localpart@Domain.
func (s *Server) Register(ctx context.Context, localpart, password string) error {
	_, err := s.Ctl(ctx, "register", localpart, s.domain, password)
	return err
}

// Log is ejabberd's log so far, for failure messages.
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "logs", "ejabberd.log"))
	return string(b)
}

// ComponentSecret is the password the configuration's ejabberd_service
// listeners give the external component name; "" if none does.
func (s *Server) ComponentSecret(name string) string {
	listen, _ := s.config["listen"].([]any)
	for _, l := range listen {
		m, _ := l.(map[string]any)
		hosts, _ := m["hosts"].(map[string]any)
		if h, ok := hosts[name].(map[string]any); ok && m["module"] == "ejabberd_service" {
			if p, ok := h["password"].(string); ok {
				return p
			}
		}
	}
	return ""
}

// ACLUsers lists the user JIDs of the configuration's ACL name.
func (s *Server) ACLUsers(name string) []string {
	acl, _ := s.config["acl"].(map[string]any)
	entry, _ := acl[name].(map[string]any)
	users, _ := entry["user"].([]any)
	var out []string
	for _, u := range users {
		out = append(out, fmt.Sprint(u))
	}
	return out
}

// Domain is the configuration's first host.
func (s *Server) Domain() string { return s.domain }

// UserJID is localpart@Domain.
func (s *Server) UserJID(localpart string) jid.JID { return jid.MustParse(localpart + "@" + s.domain) }

// C2SAddr is the plain-text client listener.
func (s *Server) C2SAddr() string { return s.c2sAddr }

// ComponentAddr is the external component (XEP-0114) listener.
func (s *Server) ComponentAddr() string { return s.componentAddr }
