package xmppclient_test

import (
	"context"
	"crypto/tls"
	"testing"
	"time"

	"github.com/xmppmedia/mediaserver/auth/localxmpp"
	"github.com/xmppmedia/mediaserver/auth/xmppclient"
)

// TestTLSLogin logs in to a Prosody that requires STARTTLS, as real XMPP
// servers do: with the server's certificate trusted it works; without TLS,
// or with an untrusted certificate, it is refused.
func TestTLSLogin(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	px, err := localxmpp.Start(ctx, localxmpp.Options{RequireTLS: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(px.Stop)
	if err := px.Register(ctx, "tina", "tina-pw"); err != nil {
		t.Fatal(err)
	}
	user := px.UserJID("tina")
	for _, tc := range []struct {
		name string
		tls  *tls.Config
		ok   bool
	}{
		{"trusted certificate", px.ClientTLS(), true},
		{"no TLS", nil, false},
		{"untrusted certificate", &tls.Config{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := xmppclient.Dial(ctx, xmppclient.Config{Addr: px.C2SAddr(), JID: user, Password: "tina-pw", TLS: tc.tls, DialTimeout: 10 * time.Second}, nil)
			if c != nil {
				defer c.Close()
			}
			if (err == nil) != tc.ok {
				t.Fatalf("Dial = %v, want success %v", err, tc.ok)
			}
			if tc.ok && c.JID().Bare().String() != user.String() {
				t.Fatalf("logged in as %s", c.JID())
			}
		})
	}
}
