// Package localxmpp runs a throwaway Prosody for tests and demos: one
// virtual host, the media server's external component and a pubsub
// component that stands in for the channel server, all on free 127.0.0.1
// ports in a temporary directory.
//
// It installs nothing: when prosody is not on the PATH, Start fails with
// ErrProsodyMissing (install it with `apt-get install -y prosody`).
package localxmpp

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/xmppmedia/mediaserver/internal/ports"
	"mellium.im/xmpp/jid"
)

// ErrProsodyMissing means the prosody binaries are not installed.
var ErrProsodyMissing = errors.New("prosody is not installed (apt-get install -y prosody)")

// Options configure Start. Zero values pick the defaults shown.
type Options struct {
	// Domain is the virtual host ("localhost").
	Domain string
	// ComponentName is the media component's JID ("media." + Domain).
	ComponentName string
	// ComponentSecret is its XEP-0114 secret (random).
	ComponentSecret string
	// ExtraComponents are more external components (JIDs) sharing
	// ComponentSecret, also pubsub admins; a component JID can have only
	// one connection at a time, so tests that need several components at
	// once use these.
	ExtraComponents []string
	// ChannelsName is the pubsub component's JID ("channels." + Domain).
	// It announces the identity pubsub/channels so it can be discovered.
	ChannelsName string
	// Dir is where config, data and log go; empty: a new temporary
	// directory removed by Stop.
	Dir string
	// Prosody and Prosodyctl are the binaries ("prosody", "prosodyctl").
	Prosody, Prosodyctl string
	// RequireTLS makes c2s require STARTTLS with a self-signed certificate
	// for Domain made at start (clients verify it with Server.CertPool), as
	// a real XMPP server would.
	RequireTLS bool
	// Debug makes Prosody log at debug level (every stanza), for
	// diagnosing a test.
	Debug bool
	// StartTimeout bounds the wait for the ports to accept (10s).
	StartTimeout time.Duration
}

// AdminUser is the localpart of the c2s account Start registers as a
// pubsub admin; CreateChannel logs in with it to create nodes.
const AdminUser = "channeladmin"

// Server is a running Prosody.
type Server struct {
	opts          Options
	ownDir        bool
	c2sPort       int
	componentPort int
	adminPassword string

	certs *x509.CertPool // with RequireTLS: the self-signed certificate

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// Start writes a config and starts Prosody in the foreground, returning
// once its c2s and component ports accept connections.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.Prosody == "" {
		opts.Prosody = "prosody"
	}
	if opts.Prosodyctl == "" {
		opts.Prosodyctl = "prosodyctl"
	}
	for _, bin := range []string{opts.Prosody, opts.Prosodyctl} {
		if _, err := exec.LookPath(bin); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrProsodyMissing, err)
		}
	}
	if opts.Domain == "" {
		opts.Domain = "localhost"
	}
	if opts.ComponentName == "" {
		opts.ComponentName = "media." + opts.Domain
	}
	if opts.ChannelsName == "" {
		opts.ChannelsName = "channels." + opts.Domain
	}
	if opts.ComponentSecret == "" {
		opts.ComponentSecret = rand.Text()
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 10 * time.Second
	}
	s := &Server{opts: opts, adminPassword: rand.Text()}
	if s.opts.Dir == "" {
		dir, err := os.MkdirTemp("", "localxmpp-")
		if err != nil {
			return nil, fmt.Errorf("prosody temp dir: %w", err)
		}
		s.opts.Dir = dir
		s.ownDir = true
	}
	if s.opts.RequireTLS {
		if err := s.writeCertificate(); err != nil {
			s.cleanupDir()
			return nil, err
		}
	}
	// A port found free can be taken before Prosody binds it (Prosody only
	// logs that), so a failed start is retried on new ports.
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		var free []int
		if free, err = ports.Free(2); err != nil {
			break
		}
		s.c2sPort, s.componentPort = free[0], free[1]
		if err = s.writeConfig(); err != nil {
			break
		}
		if err = s.start(ctx); err == nil {
			break
		}
	}
	if err != nil {
		s.cleanupDir()
		return nil, err
	}
	if err := s.Register(ctx, AdminUser, s.adminPassword); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// channelsModule makes Prosody's pubsub component look like a Buddycloud
// channel server: it announces the identity pubsub/channels (how a channel
// server is discovered), and it knows the "moderator" affiliation, which
// Prosody otherwise stores but then refuses with "forbidden" (it has no
// capabilities for it); moderators get the publisher's capabilities.
//
// It also takes affiliations in bulk (BulkAffiliationsNS), saving the node
// once per stanza: Prosody saves the whole node for every affiliation it
// sets, so building a 50,000-affiliation channel through XEP-0060 would
// take hours.
const channelsModule = `module:add_identity("pubsub", "channels", "Channels (localxmpp)");
local caps = module:depends("pubsub").get_service().config.capabilities;
if caps.moderator == nil then caps.moderator = caps.publisher; end
local st = require "util.stanza";
local jid_bare = require "util.jid".bare;
module:hook("iq-set/host/` + BulkAffiliationsNS + `:bulk", function(event)
	local origin, stanza = event.origin, event.stanza;
	local service = module:depends("pubsub").get_service();
	local bulk = stanza.tags[1];
	local node = service.nodes[bulk.attr.node];
	if not node or not service:may(bulk.attr.node, stanza.attr.from, "set_affiliation") then
		origin.send(st.error_reply(stanza, "auth", "forbidden"));
		return true;
	end
	for aff in bulk:childtags("affiliation") do
		node.affiliations[jid_bare(aff.attr.jid)] = aff.attr.affiliation;
	end
	service.config.nodestore:set(node.name, {
		name = node.name; config = node.config; subscribers = node.subscribers; affiliations = node.affiliations;
	});
	origin.send(st.reply(stanza));
	return true;
end);
`

// BulkAffiliationsNS is the namespace of localxmpp's bulk affiliation
// stanza (a test shortcut, not a protocol any server speaks).
const BulkAffiliationsNS = "urn:localxmpp:bulk-affiliations"

func (s *Server) configPath() string { return filepath.Join(s.opts.Dir, "prosody.cfg.lua") }

// LogPath is Prosody's log file.
func (s *Server) LogPath() string { return filepath.Join(s.opts.Dir, "prosody.log") }

func (s *Server) writeConfig() error {
	dir := s.opts.Dir
	for _, d := range []string{"data", "plugins"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return fmt.Errorf("prosody dir: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "plugins", "mod_channels_identity.lua"), []byte(channelsModule), 0o600); err != nil {
		return fmt.Errorf("prosody plugin: %w", err)
	}
	q := strconv.Quote
	admins := []string{q(s.opts.ComponentName), q(AdminUser + "@" + s.opts.Domain)}
	var extra strings.Builder
	for _, name := range s.opts.ExtraComponents {
		fmt.Fprintf(&extra, "Component %s\n\tcomponent_secret = %s\n", q(name), q(s.opts.ComponentSecret))
		admins = append(admins, q(name))
	}
	level := "info"
	if s.opts.Debug {
		level = "debug"
	}
	encryption := "c2s_require_encryption = false\nallow_unencrypted_plain_auth = true"
	if s.opts.RequireTLS {
		encryption = fmt.Sprintf("c2s_require_encryption = true\nallow_unencrypted_plain_auth = false\nssl = { certificate = %s, key = %s }",
			q(filepath.Join(dir, "cert.pem")), q(filepath.Join(dir, "key.pem")))
	}
	cfg := fmt.Sprintf(`-- written by localxmpp; throwaway
%s
run_as_root = true
daemonize = false
pidfile = %s
data_path = %s
plugin_paths = { %s }
interfaces = { "127.0.0.1" }
local_interfaces = { "127.0.0.1" }
component_interfaces = { "127.0.0.1" }
c2s_ports = { %d }
component_ports = { %d }
modules_disabled = { "s2s" }
modules_enabled = { "roster", "saslauth", "tls", "disco", "ping", "presence", "message", "iq" }
authentication = "internal_hashed"
storage = "internal"
log = { { levels = { min = %s }, to = "file", filename = %s } }

VirtualHost %s

Component %s
	component_secret = %s

%s
Component %s "pubsub"
	admins = { %s }
	modules_enabled = { "channels_identity" }
`, encryption, q(filepath.Join(dir, "prosody.pid")), q(filepath.Join(dir, "data")), q(filepath.Join(dir, "plugins")),
		s.c2sPort, s.componentPort, q(level), q(s.LogPath()),
		q(s.opts.Domain),
		q(s.opts.ComponentName), q(s.opts.ComponentSecret),
		extra.String(),
		q(s.opts.ChannelsName), strings.Join(admins, ", "))
	if err := os.WriteFile(s.configPath(), []byte(cfg), 0o600); err != nil {
		return fmt.Errorf("prosody config: %w", err)
	}
	return nil
}

func (s *Server) start(ctx context.Context) error {
	// Truncate the log so failures report this start only.
	_ = os.WriteFile(s.LogPath(), nil, 0o600)
	cmd := exec.Command(s.opts.Prosody, "--config", s.configPath(), "-F")
	cmd.Dir = s.opts.Dir
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start prosody: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()

	ctx, cancel := context.WithTimeout(ctx, s.opts.StartTimeout)
	defer cancel()
	err := ports.Wait(ctx, done, s.C2SAddr(), s.ComponentAddr())
	if err == nil {
		// Prosody keeps running when a port is taken by someone else; the
		// port then "accepts" for the other owner. The log tells.
		if log := s.Log(); strings.Contains(log, "Failed to open server port") {
			err = errors.New("a port was taken")
		}
	}
	if err != nil {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		return fmt.Errorf("prosody did not start: %w; output: %s; log: %s", err, strings.TrimSpace(out.String()), s.Log())
	}
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	return nil
}

// Log returns Prosody's log so far.
func (s *Server) Log() string {
	b, err := os.ReadFile(s.LogPath())
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	return string(b)
}

// Stop ends Prosody (SIGTERM, then SIGKILL after 5 s) and removes the
// directory Start created. It is safe to call more than once.
func (s *Server) Stop() {
	s.stopProcess()
	s.cleanupDir()
}

func (s *Server) cleanupDir() {
	if s.ownDir {
		_ = os.RemoveAll(s.opts.Dir)
	}
}

func (s *Server) stopProcess() { s.signalProcess(syscall.SIGTERM) }

// Kill ends Prosody with SIGKILL, as a crash looks to its clients (no
// stream is closed); the directory is kept for a later Restart.
func (s *Server) Kill() { s.signalProcess(syscall.SIGKILL) }

func (s *Server) signalProcess(sig syscall.Signal) {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd, s.done = nil, nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// StopProcess ends Prosody but keeps its directory, for a later Restart.
func (s *Server) StopProcess() { s.stopProcess() }

// Restart stops Prosody (if running) and starts it again on the same ports
// with the same data, as an XMPP server restart looks to its clients.
func (s *Server) Restart(ctx context.Context) error {
	s.stopProcess()
	// The ports were just released; a brief retry covers a slow release.
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if err = s.start(ctx); err == nil {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return err
}

// Register creates (or re-creates) a user account on the virtual host.
func (s *Server) Register(ctx context.Context, localpart, password string) error {
	cmd := exec.CommandContext(ctx, s.opts.Prosodyctl, "--config", s.configPath(), "register", localpart, s.opts.Domain, password)
	cmd.Dir = s.opts.Dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("register %s@%s: %w: %s", localpart, s.opts.Domain, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// C2SAddr is the client port's address (host:port).
func (s *Server) C2SAddr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.c2sPort)) }

// ComponentAddr is the XEP-0114 component port's address (host:port).
func (s *Server) ComponentAddr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.componentPort))
}

// Domain is the virtual host.
func (s *Server) Domain() string { return s.opts.Domain }

// ComponentJID is the media component's JID.
func (s *Server) ComponentJID() jid.JID { return jid.MustParse(s.opts.ComponentName) }

// ComponentSecret is the media component's XEP-0114 secret.
func (s *Server) ComponentSecret() string { return s.opts.ComponentSecret }

// ChannelServer is the pubsub component's JID.
func (s *Server) ChannelServer() jid.JID { return jid.MustParse(s.opts.ChannelsName) }

// Dir is the directory holding config, data and log.
func (s *Server) Dir() string { return s.opts.Dir }

// UserJID is localpart@Domain.
func (s *Server) UserJID(localpart string) jid.JID {
	return jid.MustParse(localpart + "@" + s.opts.Domain)
}

// writeCertificate makes a self-signed certificate for the domain, for
// Prosody's STARTTLS, and keeps it for CertPool.
func (s *Server) writeCertificate() error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("tls key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: s.opts.Domain},
		DNSNames:     []string{s.opts.Domain, "*." + s.opts.Domain},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("tls certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return fmt.Errorf("tls certificate: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return fmt.Errorf("tls key: %w", err)
	}
	if err := os.WriteFile(filepath.Join(s.opts.Dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return fmt.Errorf("tls certificate: %w", err)
	}
	if err := os.WriteFile(filepath.Join(s.opts.Dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return fmt.Errorf("tls key: %w", err)
	}
	s.certs = x509.NewCertPool()
	s.certs.AddCert(cert)
	return nil
}

// ClientTLS is the TLS configuration a client needs to log in to this
// server (nil without RequireTLS: it takes plain logins).
func (s *Server) ClientTLS() *tls.Config {
	if s.certs == nil {
		return nil
	}
	return &tls.Config{RootCAs: s.certs, ServerName: s.opts.Domain, MinVersion: tls.VersionTLS12}
}
