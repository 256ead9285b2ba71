package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
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
	"mellium.im/xmpp/jid"

	"github.com/xmppmedia/mediaserver/auth"
	"github.com/xmppmedia/mediaserver/auth/xmppauth"
	"github.com/xmppmedia/mediaserver/auth/xmppclient"
)

// The ejabberd configuration we ship works as the operations guide says:
// merged into an ejabberd configuration with test ports, the media
// component connects with the example's password, the provisioner of the
// example's ACL creates channel nodes, and the media server reads a node
// whose owners include the media component, while a node it does not own
// answers unavailable (503), never a grant.
func TestEjabberdExampleConfig(t *testing.T) {
	if _, err := exec.LookPath("ejabberdctl"); err != nil {
		t.Fatal("ejabberd is not installed (apt-get install -y ejabberd; scripts/test installs it): the shipped ejabberd example must be checked")
	}
	example, err := os.ReadFile(filepath.Join("..", "..", "configs", "ejabberd-mediaserver.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var shipped struct {
		Listen []struct {
			Module string                       `yaml:"module"`
			Hosts  map[string]map[string]string `yaml:"hosts"`
		} `yaml:"listen"`
		ACL map[string]map[string][]string `yaml:"acl"`
	}
	if err := yaml.Unmarshal(example, &shipped); err != nil {
		t.Fatalf("parse the example: %v", err)
	}
	const (
		domain   = "example.com"
		media    = "media.example.com"
		channels = "channels.example.com"
	)
	var secret string
	for _, l := range shipped.Listen {
		if l.Module == "ejabberd_service" {
			secret = l.Hosts[media]["password"]
		}
	}
	provisioners := shipped.ACL["channel_provisioners"]["user"]
	if secret == "" || len(provisioners) == 0 {
		t.Fatalf("example lacks the component password or a provisioner: %+v", shipped)
	}
	provisioner := jid.MustParse(provisioners[0])

	ej := startEjabberdWith(t, example)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	alice, bob := jid.MustParse("alice@"+domain), jid.MustParse("bob@"+domain)
	for _, u := range []jid.JID{provisioner, alice, bob} {
		ej.ctl(t, "register", u.Localpart(), u.Domainpart(), u.Localpart()+"-pw")
	}

	// The provisioner creates two private channels; only alice's lists
	// the media component among its owners, as the guide says to do.
	prov, err := xmppclient.Dial(ctx, xmppclient.Config{Addr: ej.c2sAddr, JID: provisioner, Password: provisioner.Localpart() + "-pw"}, nil)
	if err != nil {
		t.Fatalf("log in the provisioner: %v\n%s", err, ej.log())
	}
	defer prov.Close()
	for _, ch := range []struct {
		owner        jid.JID
		mediaIsOwner bool
	}{{alice, true}, {bob, false}} {
		node := xmppauth.PostsNode(ch.owner)
		create := `<pubsub xmlns='http://jabber.org/protocol/pubsub'><create node='` + node + `'/><configure>` +
			`<x xmlns='jabber:x:data' type='submit'>` +
			`<field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#node_config</value></field>` +
			`<field var='pubsub#access_model'><value>whitelist</value></field></x></configure></pubsub>`
		if err := setIQ(ctx, prov.Session(), jid.JID{}, channels, create); err != nil {
			t.Fatalf("create %s as the provisioner: %v\n%s", node, err, ej.log())
		}
		affs := `<affiliation jid='` + ch.owner.String() + `' affiliation='owner'/>`
		if ch.mediaIsOwner {
			affs += `<affiliation jid='` + media + `' affiliation='owner'/>`
		}
		if err := setIQ(ctx, prov.Session(), jid.JID{}, channels,
			`<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><affiliations node='`+node+`'>`+affs+`</affiliations></pubsub>`); err != nil {
			t.Fatalf("set affiliations of %s: %v\n%s", node, err, ej.log())
		}
	}

	comp := runComponent(t, ctx, xmppauth.Config{
		ComponentJID: media, Secret: secret, ServerAddr: ej.componentAddr,
		ChannelServer: channels, ReplyTimeout: 10 * time.Second,
	}, ej.log, asUploadService(t))

	info, err := comp.Channel(ctx, alice)
	if err != nil {
		t.Fatalf("read alice's channel, of which the media component is an owner: %v\n%s", err, ej.log())
	}
	if info.AccessModel != "whitelist" || info.Affiliations[alice.String()] != auth.AffOwner {
		t.Errorf("alice's channel as read by the media server: %+v, want whitelist with alice the owner", info)
	}
	if info, err := comp.Channel(ctx, bob); !errors.Is(err, auth.ErrUnavailable) {
		t.Errorf("bob's channel, not owned by the media component: %+v, %v; want ErrUnavailable (503)", info, err)
	}

	user, err := xmppclient.Dial(ctx, xmppclient.Config{Addr: ej.c2sAddr, JID: alice, Password: "alice-pw"},
		func(auth.ConfirmRequest) xmppclient.Answer { return xmppclient.Accept })
	if err != nil {
		t.Fatalf("log in alice: %v", err)
	}
	defer user.Close()
	if err := comp.Confirm(ctx, auth.ConfirmRequest{JID: user.JID(), TransactionID: "t-ejabberd", Method: "GET", URL: "https://media.example.com/alice@example.com"}); err != nil {
		t.Errorf("confirmation through ejabberd: %v", err)
	}
	checkUploadDiscovery(t, ctx, user, media, ej.log)
}

// testEjabberd is an ejabberd node in a temporary directory.
type testEjabberd struct {
	dir, node              string
	c2sAddr, componentAddr string
}

func (e *testEjabberd) flags() []string {
	return []string{"--config-dir", e.dir, "--config", filepath.Join(e.dir, "ejabberd.yml"),
		"--ctl-config", filepath.Join(e.dir, "ejabberdctl.cfg"), "--spool", filepath.Join(e.dir, "spool"),
		"--logs", filepath.Join(e.dir, "logs"), "--node", e.node}
}

func (e *testEjabberd) ctl(t *testing.T, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ejabberdctl", append(e.flags(), args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ejabberdctl %v: %v\n%s", args, err, out)
	}
}

func (e *testEjabberd) log() string {
	b, _ := os.ReadFile(filepath.Join(e.dir, "logs", "ejabberd.log"))
	return string(b)
}

// startEjabberdWith runs ejabberd with the example merged into a
// configuration of free loopback ports: the example's component listener
// moves to a free port, and a plain c2s listener is added for the test
// clients.
func startEjabberdWith(t *testing.T, example []byte) *testEjabberd {
	t.Helper()
	var cfg map[string]any
	if err := yaml.Unmarshal(example, &cfg); err != nil {
		t.Fatal(err)
	}
	ports := make([]int, 2)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = ln.Addr().(*net.TCPAddr).Port
		ln.Close()
	}
	listen, _ := cfg["listen"].([]any)
	for _, l := range listen {
		if m, ok := l.(map[string]any); ok && m["module"] == "ejabberd_service" {
			m["port"] = ports[1]
		}
	}
	cfg["listen"] = append(listen, map[string]any{
		"port": ports[0], "ip": "127.0.0.1", "module": "ejabberd_c2s", "starttls_required": false,
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
	e := &testEjabberd{
		dir: dir, node: "mediaservertest" + hex.EncodeToString(b[:]) + "@localhost",
		c2sAddr:       "127.0.0.1:" + strconv.Itoa(ports[0]),
		componentAddr: "127.0.0.1:" + strconv.Itoa(ports[1]),
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

	cmd := exec.Command("ejabberdctl", append(e.flags(), "foreground")...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	console := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = console, console
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		stop := exec.Command("ejabberdctl", append(e.flags(), "stop")...)
		stop.Run()
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})
	waitForPorts(t, "ejabberd", exited, 30*time.Second, func() string { return console.String() + "\n" + e.log() },
		e.c2sAddr, e.componentAddr)
	if strings.Contains(e.log(), "[error]") {
		t.Logf("ejabberd logged errors at start:\n%s", e.log())
	}
	return e
}
