package xmppauth_test

import (
	"errors"
	"fmt"
	"maps"
	"testing"

	"github.com/xmppmedia/mediaserver/auth"
	"github.com/xmppmedia/mediaserver/auth/xmppauth"
	"mellium.im/xmpp/jid"
)

// What the component reads from the real channel server, with the
// channel server configured and found by discovery.
func TestChannelInfo(t *testing.T) {
	ctx := testContext(t)
	allAffs := map[string]auth.Affiliation{
		"olivia@localhost": auth.AffOwner,
		"mo@localhost":     auth.AffModerator,
		"pete@localhost":   auth.AffPublisher,
		"mia@localhost":    auth.AffMember,
		"otto@localhost":   auth.AffOutcast,
	}
	openChan, wlChan := bare("info-open@localhost"), bare("info-wl@localhost")
	if err := stack.srv.CreateChannel(ctx, openChan, "open", allAffs); err != nil {
		t.Fatal(err)
	}
	if err := stack.srv.CreateChannel(ctx, wlChan, "whitelist", allAffs); err != nil {
		t.Fatal(err)
	}
	// The node creator (the channel admin) is an owner too, as Prosody
	// records it.
	want := maps.Clone(allAffs)
	want["channeladmin@localhost"] = auth.AffOwner

	tests := []struct {
		name      string
		entity    jid.JID
		wantModel string
		wantAffs  map[string]auth.Affiliation
	}{
		{"open", openChan, "open", want},
		{"whitelist", wlChan, "whitelist", want},
		{"unknown node", bare("nobody-has-this@localhost"), "", nil},
	}
	for _, c := range []*xmppauth.Component{stack.configured, stack.discovering} {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/%s", c.JID(), tt.name), func(t *testing.T) {
				info, err := c.Channel(ctx, tt.entity)
				if err != nil {
					t.Fatalf("Channel: %v", err)
				}
				if info.AccessModel != tt.wantModel {
					t.Errorf("access model %q, want %q", info.AccessModel, tt.wantModel)
				}
				if info.Public() != (tt.wantModel == "open") {
					t.Errorf("Public() = %v", info.Public())
				}
				if len(info.Affiliations) != len(tt.wantAffs) || !maps.Equal(info.Affiliations, tt.wantAffs) {
					t.Errorf("affiliations %v, want %v", info.Affiliations, tt.wantAffs)
				}
			})
		}
	}
	// A domain that answers disco#items without a channel server among
	// them (media2.localhost, another component, has no items): nothing is
	// known of the channel, which is not an error.
	t.Run("domain without channel server", func(t *testing.T) {
		info, err := stack.discovering.Channel(ctx, bare("someone@media2.localhost"))
		if err != nil {
			t.Fatalf("Channel: %v", err)
		}
		if info.AccessModel != "" || len(info.Affiliations) != 0 {
			t.Errorf("got %+v, want a zero ChannelInfo", info)
		}
	})
	t.Run("domain that does not exist", func(t *testing.T) {
		_, err := stack.discovering.Channel(ctx, bare("someone@no-such-domain.invalid"))
		if !errors.Is(err, auth.ErrUnavailable) {
			t.Errorf("Channel = %v, want ErrUnavailable (never a silent zero for a failed lookup)", err)
		}
	})
}
