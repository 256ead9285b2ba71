package xmppauth_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xmppmedia/mediaserver/auth"
	"github.com/xmppmedia/mediaserver/auth/localxmpp"
	"github.com/xmppmedia/mediaserver/auth/xmppauth"
	"github.com/xmppmedia/mediaserver/auth/xmppclient"
	"mellium.im/xmpp/jid"
)

// One Prosody serves the whole package (starting one costs ~0.2 s, but
// every test logs users in against it). Three components are connected
// to it at once, because a component JID takes one connection only.
var stack struct {
	srv *localxmpp.Server
	// discovering finds the channel server by disco and announces a
	// public URL.
	discovering *xmppauth.Component
	// configured has ChannelServer set and no public URL.
	configured *xmppauth.Component
	// short has a 700 ms reply timeout for the timeout tests.
	short *xmppauth.Component
	users atomic.Int64 // for unique user names
}

const (
	publicURL    = "https://media.example.test"
	shortTimeout = 700 * time.Millisecond
)

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

// runTests fails (not skips) the package when Prosody cannot be started:
// these tests are the proof that the XMPP side works.
func runTests(m *testing.M) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := localxmpp.Start(ctx, localxmpp.Options{Debug: os.Getenv("PROSODY_DEBUG") != "", ExtraComponents: []string{"media2.localhost", "media3.localhost", "media4.localhost", "media5.localhost"}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: start Prosody for the xmppauth tests:", err)
		return 1
	}
	defer func() {
		if os.Getenv("PROSODY_DEBUG") != "" {
			fmt.Fprintln(os.Stderr, srv.Log())
		}
		srv.Stop()
	}()
	stack.srv = srv

	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var wg sync.WaitGroup
	start := func(cfg xmppauth.Config) *xmppauth.Component {
		cfg.Secret = srv.ComponentSecret()
		cfg.ServerAddr = srv.ComponentAddr()
		c, err := xmppauth.New(cfg, log)
		if err != nil {
			panic(err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); _ = c.Run(ctx) }()
		return c
	}
	stack.discovering = start(xmppauth.Config{ComponentJID: srv.ComponentJID().String(), PublicURL: publicURL, ReplyTimeout: 10 * time.Second})
	stack.configured = start(xmppauth.Config{ComponentJID: "media2.localhost", ChannelServer: srv.ChannelServer().String(), ReplyTimeout: 10 * time.Second})
	stack.short = start(xmppauth.Config{ComponentJID: "media3.localhost", ChannelServer: srv.ChannelServer().String(), ReplyTimeout: shortTimeout})
	waitCtx, waitCancel := context.WithTimeout(ctx, 15*time.Second)
	defer waitCancel()
	for _, c := range []*xmppauth.Component{stack.discovering, stack.configured, stack.short} {
		if err := c.WaitConnected(waitCtx); err != nil {
			fmt.Fprintf(os.Stderr, "FAIL: component %s did not connect: %v\n%s", c.JID(), err, srv.Log())
			return 1
		}
	}
	code := m.Run()
	cancel()
	wg.Wait()
	return code
}

// recorder answers confirmation requests with a fixed answer (or what
// decide says, when set) and keeps what was asked.
type recorder struct {
	answer xmppclient.Answer
	decide func(auth.ConfirmRequest) xmppclient.Answer
	mu     sync.Mutex
	asked  []auth.ConfirmRequest
}

func (r *recorder) Answer(req auth.ConfirmRequest) xmppclient.Answer {
	r.mu.Lock()
	r.asked = append(r.asked, req)
	decide := r.decide
	r.mu.Unlock()
	if decide != nil {
		return decide(req)
	}
	return r.answer
}

func (r *recorder) Asked() []auth.ConfirmRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]auth.ConfirmRequest(nil), r.asked...)
}

// newUser registers a fresh account (name plus a unique suffix) and logs
// it in with a client that answers every confirmation with answer.
func newUser(t *testing.T, srv *localxmpp.Server, name string, answer xmppclient.Answer) (*xmppclient.Client, *recorder) {
	t.Helper()
	local := fmt.Sprintf("%s%d", name, stack.users.Add(1))
	return loginUser(t, srv, local, answer)
}

// loginUser registers local (again, if it exists) and logs it in.
func loginUser(t *testing.T, srv *localxmpp.Server, local string, answer xmppclient.Answer) (*xmppclient.Client, *recorder) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Register(ctx, local, local+"-pw"); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{answer: answer}
	c, err := xmppclient.Dial(ctx, xmppclient.Config{Addr: srv.C2SAddr(), JID: srv.UserJID(local), Password: local + "-pw"}, rec.Answer)
	if err != nil {
		t.Fatalf("log in %s: %v", local, err)
	}
	t.Cleanup(func() { c.Close() })
	return c, rec
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func bare(s string) jid.JID { return jid.MustParse(s).Bare() }

func errorName(err error) string {
	if err == nil {
		return "granted"
	}
	for _, e := range []error{auth.ErrNoCredentials, auth.ErrBadCredentials, auth.ErrDenied, auth.ErrUnavailable} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	return "other: " + err.Error()
}
