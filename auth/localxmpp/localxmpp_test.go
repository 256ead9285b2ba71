package localxmpp_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/xmppmedia/mediaserver/auth"
	"github.com/xmppmedia/mediaserver/auth/localxmpp"
	"github.com/xmppmedia/mediaserver/auth/xmppclient"
	"mellium.im/xmpp/jid"
)

// The helper itself: a user can log in over c2s, channels can be created
// and re-created, and a restart keeps the same ports and accounts.
func TestStartRegisterChannelRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv, err := localxmpp.Start(ctx, localxmpp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	if err := srv.Register(ctx, "alice", "alicepw"); err != nil {
		t.Fatal(err)
	}
	login := func() {
		t.Helper()
		c, err := xmppclient.Dial(ctx, xmppclient.Config{Addr: srv.C2SAddr(), JID: jid.MustParse("alice@localhost/phone"), Password: "alicepw"}, nil)
		if err != nil {
			t.Fatalf("login: %v\n%s", err, srv.Log())
		}
		if got := c.JID(); got.Bare().String() != "alice@localhost" || got.Resourcepart() == "" {
			t.Errorf("bound JID %q, want alice@localhost/<resource>", got)
		}
		c.Close()
	}
	login()
	if _, err := xmppclient.Dial(ctx, xmppclient.Config{Addr: srv.C2SAddr(), JID: srv.UserJID("alice"), Password: "wrong"}, nil); err == nil {
		t.Error("login with a wrong password succeeded")
	}
	for i := 0; i < 2; i++ { // the second run replaces the node
		err := srv.CreateChannel(ctx, srv.UserJID("alice"), "whitelist", map[string]auth.Affiliation{
			"bob@localhost": auth.AffModerator, "eve@localhost": auth.AffOutcast,
		})
		if err != nil {
			t.Fatalf("create channel (run %d): %v\n%s", i, err, srv.Log())
		}
	}
	c2s, comp := srv.C2SAddr(), srv.ComponentAddr()
	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if srv.C2SAddr() != c2s || srv.ComponentAddr() != comp {
		t.Errorf("ports changed on restart")
	}
	login()
	srv.StopProcess()
	if c, err := net.DialTimeout("tcp", c2s, time.Second); err == nil {
		c.Close()
		t.Error("c2s port still accepts after StopProcess")
	}
}
