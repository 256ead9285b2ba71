package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/xmppmedia/mediaserver/auth"
	"github.com/xmppmedia/mediaserver/auth/localxmpp"
	"github.com/xmppmedia/mediaserver/auth/xmppclient"
	"github.com/xmppmedia/mediaserver/configs"
	"mellium.im/xmpp/jid"
)

// opsStack is the whole thing as an operator runs it: a real Prosody
// (localxmpp) with the media component and a pubsub channel server, and
// the server wired by buildApp on temporary disk and SQLite stores,
// serving the API and /metrics on free loopback ports.
type opsStack struct {
	px         *localxmpp.Server
	app        *app
	base       string // API base URL, also announced in disco#info
	metricsURL string
	logs       *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func startOpsStack(t *testing.T) *opsStack {
	t.Helper()
	return startOpsStackWith(t, localxmpp.Options{})
}

// startOpsStackWith is startOpsStack with Prosody options (RequireTLS).
func startOpsStackWith(t *testing.T, opts localxmpp.Options) *opsStack {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	px, err := localxmpp.Start(ctx, opts)
	if err != nil {
		t.Fatalf("start Prosody: %v", err)
	}
	t.Cleanup(px.Stop)
	s := &opsStack{px: px, logs: &lockedBuffer{}}

	dir := t.TempDir()
	cfg := configs.Default()
	cfg.XMPP.ComponentJID = px.ComponentJID().String()
	cfg.XMPP.Secret = px.ComponentSecret()
	cfg.XMPP.ServerAddr = px.ComponentAddr()
	cfg.XMPP.ChannelServer = px.ChannelServer().String()
	cfg.XMPP.ReplyTimeout = 10 * time.Second
	cfg.Storage.Disk.Root = filepath.Join(dir, "media")
	cfg.Metadata.SQLite.Path = filepath.Join(dir, "media.db")
	cfg.Log.Format = "json"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.base = "http://" + ln.Addr().String()
	s.metricsURL = "http://" + mln.Addr().String() + "/metrics"
	if err := cfg.Set("http.public_url", s.base); err != nil {
		t.Fatal(err)
	}
	cfg.Metrics.Listen = mln.Addr().String()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	log := newLogger(cfg.Log, s.logs)
	s.app, err = buildApp(ctx, cfg, log)
	if err != nil {
		t.Fatalf("buildApp: %v", err)
	}
	s.app.metricsLn = mln
	served := make(chan error, 1)
	go func() { served <- s.app.serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
		s.app.close()
		if t.Failed() {
			t.Logf("server log:\n%s", s.logs.String())
			t.Logf("prosody log:\n%s", px.Log())
		}
	})
	wait, waitCancel := context.WithTimeout(ctx, 15*time.Second)
	defer waitCancel()
	if err := s.app.component.WaitConnected(wait); err != nil {
		t.Fatalf("component did not connect: %v\n%s", err, px.Log())
	}
	return s
}

// newUser registers local with a channel of accessModel that the user
// owns, and returns the JID and password.
func (s *opsStack) newUser(t *testing.T, local, accessModel string) (jid.JID, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	password := local + "-secret"
	if err := s.px.Register(ctx, local, password); err != nil {
		t.Fatal(err)
	}
	user := s.px.UserJID(local)
	if err := s.px.CreateChannel(ctx, user, accessModel, map[string]auth.Affiliation{user.String(): auth.AffOwner}); err != nil {
		t.Fatal(err)
	}
	return user, password
}

// login starts a session of user that accepts every confirmation, as a
// person who trusts all their requests would, and returns the auth query
// value for transaction tid.
func (s *opsStack) login(t *testing.T, user jid.JID, password, tid string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := xmppclient.Dial(ctx, xmppclient.Config{Addr: s.px.C2SAddr(), JID: user, Password: password, TLS: s.px.ClientTLS()},
		func(auth.ConfirmRequest) xmppclient.Answer { return xmppclient.Accept })
	if err != nil {
		t.Fatalf("log in %s: %v", user, err)
	}
	t.Cleanup(func() { c.Close() })
	return authQuery(c.JID().String(), tid)
}

// fetch GETs url and returns the status, content type and body.
func fetch(t *testing.T, url string) (int, string, []byte) {
	t.Helper()
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), body
}

// testPhoto is a w x h JPEG with gradients, so previews are smaller than it.
func testPhoto(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), uint8((x + y) % 256), 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// waitFor polls cond every 100 ms until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s (last: %s)", what, d, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func describe(status int, body []byte) string {
	return fmt.Sprintf("%d %s", status, bytes.TrimSpace(body))
}

// authQuery is the auth query parameter value for (full JID, tid).
func authQuery(fullJID, tid string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(fullJID + ":" + tid))
}
