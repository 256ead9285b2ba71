package main

import (
	"context"
	"encoding/xml"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/component"
	"mellium.im/xmpp/jid"

	"github.com/xmppmedia/mediaserver/auth"
	"github.com/xmppmedia/mediaserver/auth/localxmpp"
	"github.com/xmppmedia/mediaserver/auth/xmppauth"
	"github.com/xmppmedia/mediaserver/auth/xmppclient"
	"github.com/xmppmedia/mediaserver/internal/ports"
)

// The Prosody configuration we ship works as the operations guide says:
// included into a Prosody configuration (here one with test ports and
// paths, as /etc/prosody/prosody.cfg.lua includes conf.d/), the media
// component connects with its secret, is a pubsub admin on the channel
// server (it creates a private channel's node and reads its affiliations
// and access model, which only admins may), and confirms a request with
// a user of the virtual host.
func TestProsodyExampleConfig(t *testing.T) {
	if _, err := exec.LookPath("prosody"); err != nil {
		t.Fatalf("prosody is not installed (scripts/test installs it): %v", err)
	}
	example, err := filepath.Abs(filepath.Join("..", "..", "configs", "prosody-mediaserver.cfg.lua"))
	if err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*component_secret\s*=\s*"([^"]+)"`).FindSubmatch(text)
	if m == nil {
		t.Fatal("no component_secret in the example")
	}
	secret := string(m[1])
	const (
		domain   = "example.com"
		media    = "media.example.com"
		channels = "channels.example.com"
	)
	for _, host := range []string{`VirtualHost "` + domain + `"`, `Component "` + media + `"`, `Component "` + channels + `" "pubsub"`} {
		if !strings.Contains(string(text), host) {
			t.Fatalf("example lacks %s", host)
		}
	}
	p := startProsodyWith(t, example)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "prosodyctl", "--config", p.config, "register", "alice", domain, "alice-pw").CombinedOutput(); err != nil {
		t.Fatalf("register: %v: %s", err, out)
	}
	alice := jid.MustParse("alice@" + domain)
	node := xmppauth.PostsNode(alice)

	// As the media component, which the example makes a pubsub admin:
	// create a private channel owned by alice.
	func() {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", p.componentAddr)
		if err != nil {
			t.Fatal(err)
		}
		sess, err := component.NewSession(ctx, jid.MustParse(media), []byte(secret), conn)
		if err != nil {
			t.Fatalf("component handshake with the example's secret: %v\n%s", err, p.log())
		}
		defer func() { sess.Close(); conn.Close() }()
		go sess.Serve(xmpp.HandlerFunc(func(xmlstream.TokenReadEncoder, *xml.StartElement) error { return nil }))
		for _, payload := range []string{
			`<pubsub xmlns='http://jabber.org/protocol/pubsub'><create node='` + node + `'/><configure>` +
				`<x xmlns='jabber:x:data' type='submit'>` +
				`<field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#node_config</value></field>` +
				`<field var='pubsub#access_model'><value>whitelist</value></field></x></configure></pubsub>`,
			`<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><affiliations node='` + node + `'>` +
				`<affiliation jid='` + alice.String() + `' affiliation='owner'/></affiliations></pubsub>`,
		} {
			if err := setIQ(ctx, sess, jid.MustParse(media), channels, payload); err != nil {
				t.Fatalf("as the media component (a pubsub admin by the example): %v\n%s", err, p.log())
			}
		}
	}()

	// The media server's own component, configured as the example says.
	comp := runComponent(t, ctx, xmppauth.Config{
		ComponentJID: media, Secret: secret, ServerAddr: p.componentAddr,
		ChannelServer: channels, ReplyTimeout: 10 * time.Second,
	}, p.log, asUploadService(t))
	info, err := comp.Channel(ctx, alice)
	if err != nil {
		t.Fatalf("read channel as the media component: %v\n%s", err, p.log())
	}
	if info.AccessModel != "whitelist" || info.Affiliations[alice.String()] != auth.AffOwner {
		t.Errorf("channel as read by the media server: %+v, want whitelist with alice the owner", info)
	}

	user, err := xmppclient.Dial(ctx, xmppclient.Config{Addr: p.c2sAddr, JID: alice, Password: "alice-pw"},
		func(auth.ConfirmRequest) xmppclient.Answer { return xmppclient.Accept })
	if err != nil {
		t.Fatalf("log in alice: %v", err)
	}
	defer user.Close()
	err = comp.Confirm(ctx, auth.ConfirmRequest{JID: user.JID(), TransactionID: "t-example", Method: "GET", URL: "https://media.example.com/alice@example.com"})
	if err != nil {
		t.Errorf("confirmation through the example's Prosody: %v", err)
	}
	checkUploadDiscovery(t, ctx, user, media, p.log)
}

// setIQ sends an IQ set with a literal payload (localxmpp.SetIQ with a
// string JID).
func setIQ(ctx context.Context, sess *xmpp.Session, from jid.JID, to, payload string) error {
	return localxmpp.SetIQ(ctx, sess, from, jid.MustParse(to), payload)
}

// runComponent runs the media server's component with cfg until the test
// ends and waits until it is connected (logs: the XMPP server's log).
// setup runs before the component connects.
func runComponent(t *testing.T, ctx context.Context, cfg xmppauth.Config, logs func() string, setup ...func(*xmppauth.Component)) *xmppauth.Component {
	t.Helper()
	comp, err := xmppauth.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range setup {
		f(comp)
	}
	runCtx, stopRun := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- comp.Run(runCtx) }()
	t.Cleanup(func() { stopRun(); <-ran })
	if err := comp.WaitConnected(ctx); err != nil {
		t.Fatalf("component %s: %v\n%s", cfg.ComponentJID, err, logs())
	}
	return comp
}

// testProsody is a Prosody running a configuration that includes a file
// under test.
type testProsody struct {
	dir, config            string
	c2sAddr, componentAddr string
}

func (p *testProsody) log() string {
	b, _ := os.ReadFile(filepath.Join(p.dir, "prosody.log"))
	return string(b)
}

// startProsodyWith runs Prosody with test globals (free loopback ports,
// paths in a temporary directory, plain-text auth for the loopback test
// client) followed by Include of the file under test.
func startProsodyWith(t *testing.T, include string) *testProsody {
	t.Helper()
	dir := t.TempDir()
	free, err := ports.Free(2)
	if err != nil {
		t.Fatal(err)
	}
	p := &testProsody{
		dir: dir, config: filepath.Join(dir, "prosody.cfg.lua"),
		c2sAddr:       "127.0.0.1:" + strconv.Itoa(free[0]),
		componentAddr: "127.0.0.1:" + strconv.Itoa(free[1]),
	}
	q := strconv.Quote
	cfg := fmt.Sprintf(`-- test globals; the file under test follows
run_as_root = true
daemonize = false
pidfile = %s
data_path = %s
interfaces = { "127.0.0.1" }
component_interfaces = { "127.0.0.1" }
c2s_ports = { %d }
component_ports = { %d }
modules_disabled = { "s2s" }
modules_enabled = { "roster", "saslauth", "disco", "ping", "presence", "message", "iq" }
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_hashed"
storage = "internal"
log = { { levels = { min = "info" }, to = "file", filename = %s } }

Include %s
`, q(filepath.Join(dir, "prosody.pid")), q(filepath.Join(dir, "data")), free[0], free[1], q(filepath.Join(dir, "prosody.log")), q(include))
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("prosody", "--config", p.config, "-F")
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ports.Wait(ctx, exited, p.c2sAddr, p.componentAddr); err != nil {
		t.Fatalf("prosody: %v:\n%s\n%s", err, out.String(), p.log())
	}
	if strings.Contains(p.log(), "Failed to open server port") {
		t.Fatalf("a port was taken:\n%s", p.log())
	}
	return p
}
