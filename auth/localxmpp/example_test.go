package localxmpp_test

import (
	"context"
	"fmt"
	"log"

	"github.com/xmppmedia/mediaserver/auth"
	"github.com/xmppmedia/mediaserver/auth/localxmpp"
	"github.com/xmppmedia/mediaserver/auth/xmppauth"
	"github.com/xmppmedia/mediaserver/auth/xmppclient"
)

// A whole local XMPP side: Prosody, the media component connected to it,
// a user with a private channel, logged in and accepting confirmations.
func Example() {
	ctx := context.Background()
	srv, err := localxmpp.Start(ctx, localxmpp.Options{})
	if err != nil {
		log.Fatal(err) // e.g. localxmpp.ErrProsodyMissing
	}
	defer srv.Stop()

	comp, err := xmppauth.New(xmppauth.Config{
		ComponentJID: srv.ComponentJID().String(),
		Secret:       srv.ComponentSecret(),
		ServerAddr:   srv.ComponentAddr(),
	}, nil)
	if err != nil {
		log.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go comp.Run(runCtx)
	if err := comp.WaitConnected(ctx); err != nil {
		log.Fatal(err)
	}

	alice := srv.UserJID("alice")
	if err := srv.Register(ctx, "alice", "secret"); err != nil {
		log.Fatal(err)
	}
	if err := srv.CreateChannel(ctx, alice, "whitelist", map[string]auth.Affiliation{"bob@localhost": auth.AffMember}); err != nil {
		log.Fatal(err)
	}
	client, err := xmppclient.Dial(ctx, xmppclient.Config{Addr: srv.C2SAddr(), JID: alice, Password: "secret"},
		func(auth.ConfirmRequest) xmppclient.Answer { return xmppclient.Accept })
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	err = comp.Confirm(ctx, auth.ConfirmRequest{JID: client.JID(), TransactionID: "t1", Method: "GET", URL: "http://127.0.0.1:8080/alice@localhost"})
	info, _ := comp.Channel(ctx, alice)
	fmt.Println(err, info.AccessModel, info.Affiliations["bob@localhost"])
	// Output: <nil> whitelist member
}
