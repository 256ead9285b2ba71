package auth_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/xmppmedia/mediaserver/auth"
	"github.com/xmppmedia/mediaserver/internal/authtest"
	"mellium.im/xmpp/jid"
)

// The decision table of API.md for a confirmed user, written out.
func TestAllowed(t *testing.T) {
	const Y, N = true, false
	ops := []auth.Operation{auth.OpRead, auth.OpUpload, auth.OpAvatar, auth.OpUpdate, auth.OpDelete}
	tests := []struct {
		aff            auth.Affiliation
		self, uploader bool
		want           [5]bool // read upload avatar update delete
	}{
		{auth.AffOwner, N, N, [5]bool{Y, Y, Y, Y, Y}},
		{auth.AffModerator, N, N, [5]bool{Y, Y, Y, Y, Y}},
		{auth.AffPublisher, N, N, [5]bool{Y, Y, Y, N, N}},
		{auth.AffMember, N, N, [5]bool{Y, N, N, N, N}},
		{auth.AffNone, N, N, [5]bool{N, N, N, N, N}},
		{auth.AffOutcast, N, N, [5]bool{N, N, N, N, N}},
		{auth.AffNone, Y, N, [5]bool{Y, Y, Y, Y, Y}},    // own channel
		{auth.AffOutcast, Y, N, [5]bool{Y, Y, Y, Y, Y}}, // own channel wins
		// The uploader may change and delete their own item, unless banned.
		{auth.AffPublisher, N, Y, [5]bool{Y, Y, Y, Y, Y}},
		{auth.AffMember, N, Y, [5]bool{Y, N, N, Y, Y}},
		{auth.AffNone, N, Y, [5]bool{N, N, N, Y, Y}},
		{auth.AffOutcast, N, Y, [5]bool{N, N, N, N, N}},
		{"unknown", N, N, [5]bool{N, N, N, N, N}},
	}
	for _, tt := range tests {
		for i, op := range ops {
			name := fmt.Sprintf("%s/self=%v/uploader=%v/%s", tt.aff, tt.self, tt.uploader, op)
			if got := auth.Allowed(op, tt.aff, tt.self, tt.uploader); got != tt.want[i] {
				t.Errorf("%s: Allowed = %v, want %v", name, got, tt.want[i])
			}
		}
	}
}

// Guard on the in-process fakes: the order of the checks and what each
// failure is.
func TestGuard(t *testing.T) {
	alice := jid.MustParse("alice@x/phone")
	creds := func(j jid.JID, tid string) *auth.Credentials { return &auth.Credentials{JID: j, TransactionID: tid} }
	tests := []struct {
		name       string
		req        auth.Request
		channelErr error
		confirmErr error
		accepted   bool // alice's transaction "t" is accepted
		want       error
		wantPublic bool
		wantAsked  int
	}{
		{"open read needs nobody", auth.Request{Op: auth.OpRead, Entity: jid.MustParse("open@x")}, nil, nil, false, nil, true, 0},
		{"private read without credentials", auth.Request{Op: auth.OpRead, Entity: jid.MustParse("private@x")}, nil, nil, false, auth.ErrNoCredentials, false, 0},
		{"upload without credentials", auth.Request{Op: auth.OpUpload, Entity: jid.MustParse("open@x")}, nil, nil, false, auth.ErrNoCredentials, false, 0},
		{"member read, confirmed", auth.Request{Op: auth.OpRead, Entity: jid.MustParse("private@x"), Credentials: creds(alice, "t")}, nil, nil, true, nil, false, 1},
		{"member read, not confirmed", auth.Request{Op: auth.OpRead, Entity: jid.MustParse("private@x"), Credentials: creds(alice, "t")}, nil, nil, false, auth.ErrDenied, false, 1},
		{"member upload refused before asking", auth.Request{Op: auth.OpUpload, Entity: jid.MustParse("private@x"), Credentials: creds(alice, "t")}, nil, nil, true, auth.ErrDenied, false, 0},
		{"own channel without a node", auth.Request{Op: auth.OpUpload, Entity: jid.MustParse("alice@x"), Credentials: creds(alice, "t")}, nil, nil, true, nil, false, 1},
		{"channel server down", auth.Request{Op: auth.OpRead, Entity: jid.MustParse("open@x")}, auth.ErrUnavailable, nil, false, auth.ErrUnavailable, false, 0},
		{"xmpp down at confirmation", auth.Request{Op: auth.OpRead, Entity: jid.MustParse("private@x"), Credentials: creds(alice, "t")}, nil, auth.ErrUnavailable, true, auth.ErrUnavailable, false, 1},
		{"uploader deletes own item", auth.Request{Op: auth.OpDelete, Entity: jid.MustParse("private@x"), Credentials: creds(alice, "t"), Uploader: jid.MustParse("alice@x")}, nil, nil, true, nil, false, 1},
		{"member deletes another's item", auth.Request{Op: auth.OpDelete, Entity: jid.MustParse("private@x"), Credentials: creds(alice, "t"), Uploader: jid.MustParse("bob@x")}, nil, nil, true, auth.ErrDenied, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			channels, confirmer := &authtest.Channels{}, &authtest.Confirmer{}
			channels.Set("open@x", "open", nil)
			channels.Set("private@x", "whitelist", map[string]auth.Affiliation{"alice@x": auth.AffMember})
			channels.SetErr(tt.channelErr)
			confirmer.SetErr(tt.confirmErr)
			if tt.accepted {
				confirmer.Accept(alice.String(), "t")
			}
			g := &auth.Guard{Channels: channels, Confirmer: confirmer}
			d, err := g.Authorize(context.Background(), tt.req)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Authorize = %v, want %v", err, tt.want)
			}
			if d.Public != tt.wantPublic {
				t.Errorf("Public = %v, want %v", d.Public, tt.wantPublic)
			}
			if err == nil && tt.req.Credentials != nil && !d.User.Equal(alice.Bare()) {
				t.Errorf("User = %s, want %s", d.User, alice.Bare())
			}
			if confirmer.Count() != tt.wantAsked {
				t.Errorf("asked %d times, want %d", confirmer.Count(), tt.wantAsked)
			}
		})
	}
}

// fixedChannels answers every lookup with info and counts full lookups.
type fixedChannels struct {
	info auth.ChannelInfo
	full int
}

func (f *fixedChannels) AccessModel(context.Context, jid.JID) (auth.ChannelInfo, error) {
	return auth.ChannelInfo{AccessModel: f.info.AccessModel, StaleFor: f.info.StaleFor}, nil
}

func (f *fixedChannels) Channel(context.Context, jid.JID) (auth.ChannelInfo, error) {
	f.full++
	return f.info, nil
}

// Reads of an open channel never fetch the affiliation list; a stale
// answer grants only such reads, with MaxAge its remaining allowance, and
// every write on it is ErrUnavailable without asking the user.
func TestGuardOnAccessModelsAndStaleAnswers(t *testing.T) {
	alice := jid.MustParse("alice@x/phone")
	owner := map[string]auth.Affiliation{"alice@x": auth.AffOwner}
	tests := []struct {
		name      string
		info      auth.ChannelInfo
		op        auth.Operation
		creds     bool
		want      error
		wantAge   time.Duration
		wantFull  int
		wantAsked int
	}{
		{"anonymous open read", auth.ChannelInfo{AccessModel: "open", Affiliations: owner}, auth.OpRead, false, nil, 0, 0, 0},
		{"owner's open read", auth.ChannelInfo{AccessModel: "open", Affiliations: owner}, auth.OpRead, true, nil, 0, 0, 0},
		{"owner's upload to an open channel", auth.ChannelInfo{AccessModel: "open", Affiliations: owner}, auth.OpUpload, true, nil, 0, 1, 1},
		{"stale open read", auth.ChannelInfo{AccessModel: "open", Affiliations: owner, StaleFor: 42 * time.Second}, auth.OpRead, false, nil, 42 * time.Second, 0, 0},
		{"stale owner's delete", auth.ChannelInfo{AccessModel: "open", Affiliations: owner, StaleFor: 42 * time.Second}, auth.OpDelete, true, auth.ErrUnavailable, 0, 1, 0},
		{"stale owner's upload", auth.ChannelInfo{AccessModel: "open", Affiliations: owner, StaleFor: 42 * time.Second}, auth.OpUpload, true, auth.ErrUnavailable, 0, 1, 0},
		{"anonymous private read", auth.ChannelInfo{AccessModel: "whitelist", Affiliations: owner}, auth.OpRead, false, auth.ErrNoCredentials, 0, 0, 0},
		// Every access model but "open" is private, those XEP-0060 defines
		// besides whitelist and those it does not.
		{"anonymous read, authorize", auth.ChannelInfo{AccessModel: "authorize", Affiliations: owner}, auth.OpRead, false, auth.ErrNoCredentials, 0, 0, 0},
		{"anonymous read, presence", auth.ChannelInfo{AccessModel: "presence", Affiliations: owner}, auth.OpRead, false, auth.ErrNoCredentials, 0, 0, 0},
		{"anonymous read, roster", auth.ChannelInfo{AccessModel: "roster", Affiliations: owner}, auth.OpRead, false, auth.ErrNoCredentials, 0, 0, 0},
		{"anonymous read, Open in capitals", auth.ChannelInfo{AccessModel: "Open", Affiliations: owner}, auth.OpRead, false, auth.ErrNoCredentials, 0, 0, 0},
		{"anonymous read, made-up model", auth.ChannelInfo{AccessModel: "everyone", Affiliations: owner}, auth.OpRead, false, auth.ErrNoCredentials, 0, 0, 0},
		{"anonymous read, no model", auth.ChannelInfo{Affiliations: owner}, auth.OpRead, false, auth.ErrNoCredentials, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			channels := &fixedChannels{info: tt.info}
			confirmer := &authtest.Confirmer{}
			confirmer.Accept(alice.String(), "t")
			req := auth.Request{Op: tt.op, Entity: jid.MustParse("c@x"), Method: "GET", URL: "https://m/c@x/1"}
			if tt.creds {
				req.Credentials = &auth.Credentials{JID: alice, TransactionID: "t"}
			}
			d, err := (&auth.Guard{Channels: channels, Confirmer: confirmer}).Authorize(context.Background(), req)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Authorize = %+v, %v; want %v", d, err, tt.want)
			}
			if d.MaxAge != tt.wantAge {
				t.Errorf("MaxAge = %s, want %s", d.MaxAge, tt.wantAge)
			}
			if channels.full != tt.wantFull {
				t.Errorf("%d affiliation lookups, want %d", channels.full, tt.wantFull)
			}
			if confirmer.Count() != tt.wantAsked {
				t.Errorf("asked %d times, want %d", confirmer.Count(), tt.wantAsked)
			}
		})
	}
}
