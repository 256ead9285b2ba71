package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
	"mellium.im/xmpp/jid"

	"github.com/xmppmedia/mediaserver/auth"
	"github.com/xmppmedia/mediaserver/auth/xmppauth"
	"github.com/xmppmedia/mediaserver/auth/xmppclient"
	"github.com/xmppmedia/mediaserver/internal/ejabberdtest"
)

// The ejabberd configuration we ship works as the operations guide says:
// merged into an ejabberd configuration with test ports, the media
// component connects with the example's password, the provisioner of the
// example's ACL creates channel nodes, and the media server reads a node
// whose owners include the media component, while a node it does not own
// answers unavailable (503), never a grant.
func TestEjabberdExampleConfig(t *testing.T) {
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

	ej := ejabberdtest.Start(t, example)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	alice, bob := jid.MustParse("alice@"+domain), jid.MustParse("bob@"+domain)
	for _, u := range []jid.JID{provisioner, alice, bob} {
		if err := ej.Register(ctx, u.Localpart(), u.Localpart()+"-pw"); err != nil {
			t.Fatal(err)
		}
	}

	// The provisioner creates two private channels; only alice's lists
	// the media component among its owners, as the guide says to do.
	prov, err := xmppclient.Dial(ctx, xmppclient.Config{Addr: ej.C2SAddr(), JID: provisioner, Password: provisioner.Localpart() + "-pw"}, nil)
	if err != nil {
		t.Fatalf("log in the provisioner: %v\n%s", err, ej.Log())
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
			t.Fatalf("create %s as the provisioner: %v\n%s", node, err, ej.Log())
		}
		affs := `<affiliation jid='` + ch.owner.String() + `' affiliation='owner'/>`
		if ch.mediaIsOwner {
			affs += `<affiliation jid='` + media + `' affiliation='owner'/>`
		}
		if err := setIQ(ctx, prov.Session(), jid.JID{}, channels,
			`<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><affiliations node='`+node+`'>`+affs+`</affiliations></pubsub>`); err != nil {
			t.Fatalf("set affiliations of %s: %v\n%s", node, err, ej.Log())
		}
	}

	comp := runComponent(t, ctx, xmppauth.Config{
		ComponentJID: media, Secret: secret, ServerAddr: ej.ComponentAddr(),
		ChannelServer: channels, ReplyTimeout: 10 * time.Second,
	}, ej.Log, asUploadService(t))

	info, err := comp.Channel(ctx, alice)
	if err != nil {
		t.Fatalf("read alice's channel, of which the media component is an owner: %v\n%s", err, ej.Log())
	}
	if info.AccessModel != "whitelist" || info.Affiliations[alice.String()] != auth.AffOwner {
		t.Errorf("alice's channel as read by the media server: %+v, want whitelist with alice the owner", info)
	}
	if info, err := comp.Channel(ctx, bob); !errors.Is(err, auth.ErrUnavailable) {
		t.Errorf("bob's channel, not owned by the media component: %+v, %v; want ErrUnavailable (503)", info, err)
	}

	user, err := xmppclient.Dial(ctx, xmppclient.Config{Addr: ej.C2SAddr(), JID: alice, Password: "alice-pw"},
		func(auth.ConfirmRequest) xmppclient.Answer { return xmppclient.Accept })
	if err != nil {
		t.Fatalf("log in alice: %v", err)
	}
	defer user.Close()
	if err := comp.Confirm(ctx, auth.ConfirmRequest{JID: user.JID(), TransactionID: "t-ejabberd", Method: "GET", URL: "https://media.example.com/alice@example.com"}); err != nil {
		t.Errorf("confirmation through ejabberd: %v", err)
	}
	checkUploadDiscovery(t, ctx, user, media, ej.Log)
}
