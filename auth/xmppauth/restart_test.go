package xmppauth_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/xmppmedia/mediaserver/auth"
	"github.com/xmppmedia/mediaserver/auth/localxmpp"
	"github.com/xmppmedia/mediaserver/auth/xmppauth"
	"github.com/xmppmedia/mediaserver/auth/xmppclient"
)

// The XMPP server goes away and comes back: while it is down every
// question is ErrUnavailable at once (503, never a grant or a long wait);
// afterwards the same component, never restarted, works again within
// 30 s. This test has its own Prosody, since it stops it.
func TestServerRestart(t *testing.T) {
	t.Parallel() // mostly waiting for timeouts
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := localxmpp.Start(ctx, localxmpp.Options{Debug: os.Getenv("PROSODY_DEBUG") != ""})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	comp, err := xmppauth.New(xmppauth.Config{
		ComponentJID:  srv.ComponentJID().String(),
		Secret:        srv.ComponentSecret(),
		ServerAddr:    srv.ComponentAddr(),
		ChannelServer: srv.ChannelServer().String(),
		ReplyTimeout:  5 * time.Second,
	}, log)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stopRun := context.WithCancel(ctx)
	runDone := make(chan error, 1)
	go func() { runDone <- comp.Run(runCtx) }()
	if err := comp.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	channel := srv.UserJID("restart-chan")
	if err := srv.CreateChannel(ctx, channel, "whitelist", nil); err != nil {
		t.Fatal(err)
	}
	alice, _ := loginUser(t, srv, "alice", xmppclient.Accept)
	quiet, quietRec := loginUser(t, srv, "quiet", xmppclient.Ignore)
	confirm := func(c *xmppclient.Client, tid string) error {
		return comp.Confirm(ctx, auth.ConfirmRequest{JID: c.JID(), TransactionID: tid, Method: "GET", URL: "https://m/x"})
	}
	if err := confirm(alice, "before"); err != nil {
		t.Fatalf("Confirm before the restart: %v", err)
	}

	// A question in flight when the server goes away ends at once with
	// ErrUnavailable instead of waiting for the reply timeout.
	inflight := make(chan error, 1)
	go func() { inflight <- confirm(quiet, "in-flight") }()
	for deadline := time.Now().Add(5 * time.Second); len(quietRec.Asked()) == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	stoppedAt := time.Now()
	srv.StopProcess()
	select {
	case err := <-inflight:
		if !errors.Is(err, auth.ErrUnavailable) {
			t.Errorf("in-flight Confirm = %v, want ErrUnavailable", err)
		}
		t.Logf("in-flight confirmation failed %s after the server stopped", time.Since(stoppedAt).Round(time.Millisecond))
	case <-time.After(4 * time.Second):
		t.Error("in-flight Confirm still waiting 4 s after the server stopped")
	}
	for deadline := time.Now().Add(5 * time.Second); comp.Connected() && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if comp.Connected() {
		t.Fatal("component still reports Connected 5 s after the server stopped")
	}
	for _, probe := range []struct {
		name string
		call func() error
	}{
		{"Confirm", func() error { return confirm(alice, "during") }},
		{"Channel", func() error { _, err := comp.Channel(ctx, channel); return err }},
	} {
		started := time.Now()
		err := probe.call()
		if !errors.Is(err, auth.ErrUnavailable) {
			t.Errorf("%s while the server is down = %v, want ErrUnavailable", probe.name, err)
		}
		// Immediate, not after the 5 s reply timeout: half of it is the
		// bound, which a loaded machine does not reach by accident.
		if d := time.Since(started); d > 2500*time.Millisecond {
			t.Errorf("%s while the server is down took %s, want an immediate answer", probe.name, d)
		}
	}
	time.Sleep(time.Second) // down for a while: the component is backing off

	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	restartedAt := time.Now()
	var lastErr error
	for time.Since(restartedAt) < 30*time.Second {
		var c *xmppclient.Client
		c, lastErr = xmppclient.Dial(ctx, xmppclient.Config{Addr: srv.C2SAddr(), JID: srv.UserJID("alice"), Password: "alice-pw"}, func(auth.ConfirmRequest) xmppclient.Answer { return xmppclient.Accept })
		if lastErr == nil {
			lastErr = confirm(c, "after")
			c.Close()
			if lastErr == nil {
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if lastErr != nil {
		t.Fatalf("no successful Confirm within 30 s of the restart: %v", lastErr)
	}
	t.Logf("confirmations work again %s after the server restarted", time.Since(restartedAt).Round(time.Millisecond))
	if _, err := comp.Channel(ctx, channel); err != nil {
		t.Errorf("Channel after the restart: %v", err)
	}
	select {
	case err := <-runDone:
		t.Fatalf("Run returned during the restart: %v", err)
	default:
	}

	// A crash (SIGKILL: no stream end, the socket just closes) is noticed
	// as quickly, and recovered from the same way.
	srv.Kill()
	for deadline := time.Now().Add(5 * time.Second); comp.Connected() && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if err := confirm(alice, "after-crash"); !errors.Is(err, auth.ErrUnavailable) {
		t.Errorf("Confirm after a crash = %v, want ErrUnavailable", err)
	}
	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if err := comp.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := comp.Channel(ctx, channel); err != nil {
		t.Errorf("Channel after the crash and restart: %v", err)
	}

	// Shutdown closes the session cleanly and Run returns nil: the
	// component ends its stream and Prosody answers by ending its own, so
	// Run returns well before its 2 s fallback of dropping the connection.
	stopRun()
	stopped := time.Now()
	select {
	case err := <-runDone:
		if err != nil {
			t.Errorf("Run = %v after cancel, want nil", err)
		}
		if d := time.Since(stopped); d > 1500*time.Millisecond {
			t.Errorf("Run took %s to return: the server did not close its stream in answer", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return 5 s after its context ended")
	}
	if comp.Connected() {
		t.Error("Connected after Run returned")
	}
}
