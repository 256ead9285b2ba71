package xmppclient_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/xmppmedia/mediaserver/auth/localxmpp"
	"github.com/xmppmedia/mediaserver/auth/xmppclient"
	"mellium.im/xmpp/jid"
)

func TestDialRefusesBadInput(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// A port nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	tests := []struct {
		name string
		cfg  xmppclient.Config
		want string
	}{
		{"not a user JID", xmppclient.Config{Addr: addr, JID: jid.MustParse("localhost")}, "not a user JID"},
		{"no server", xmppclient.Config{Addr: addr, JID: jid.MustParse("a@localhost"), Password: "x"}, "dial"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := xmppclient.Dial(ctx, tt.cfg, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Dial = %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
}

// Against a real Prosody: login binds a resource, a reply can be sent, and
// Done is closed when the server goes away. What the replies mean to the
// media server is tested from its side in auth/xmppauth.
func TestLoginAndServerGone(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := localxmpp.Start(ctx, localxmpp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	if err := srv.Register(ctx, "carol", "carolpw"); err != nil {
		t.Fatal(err)
	}
	c, err := xmppclient.Dial(ctx, xmppclient.Config{Addr: srv.C2SAddr(), JID: srv.UserJID("carol"), Password: "carolpw"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.JID().Bare().String() != "carol@localhost" || c.JID().Resourcepart() == "" {
		t.Errorf("JID %s, want carol@localhost/<resource>", c.JID())
	}
	// A reply to a component that is not connected bounces; sending it
	// must still work.
	err = c.SendReply(ctx, xmppclient.Reply{To: srv.ComponentJID(), Answer: xmppclient.Deny})
	if err != nil {
		t.Errorf("SendReply: %v", err)
	}
	select {
	case <-c.Done():
		t.Fatal("session ended while the server is up")
	default:
	}
	srv.StopProcess()
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Done not closed 10 s after the server stopped")
	}
}
