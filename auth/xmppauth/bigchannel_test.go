package xmppauth_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/xmppmedia/mediaserver/auth"
	"github.com/xmppmedia/mediaserver/auth/xmppauth"
	"github.com/xmppmedia/mediaserver/auth/xmppclient"
)

// A channel with 50,000 affiliations, on the real Prosody: an anonymous
// read of it while open costs one small IQ (no affiliation list), a
// member's read of it while private fetches and caches the whole list
// once, and later lookups are answered from the cache. Prints lookup time
// and IQ count (docs/xmpp.md quotes them).
func TestBigChannel(t *testing.T) {
	if testing.Short() {
		t.Skip("creates a 50,000-affiliation channel")
	}
	// Prosody takes about a millisecond per affiliation to set up.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	n := envInt("BIG_N", 50_000)
	member, _ := newUser(t, stack.srv, "bigmember", xmppclient.Accept)
	affs := make(map[string]auth.Affiliation, n+1)
	for i := 0; i < n; i++ {
		affs[fmt.Sprintf("follower%d@localhost", i)] = auth.AffMember
	}
	affs[member.JID().Bare().String()] = auth.AffMember
	// Its own component, with the production reply timeout: Prosody
	// answers a 50,000-entry list in pages of 1000, and on a loaded
	// 2-core machine (scripts/stress) a page took longer than the shared
	// components' 10 s. No keepalive, so the IQ counts are exact.
	comp, err := xmppauth.New(xmppauth.Config{
		ComponentJID: "media5.localhost", Secret: stack.srv.ComponentSecret(), ServerAddr: stack.srv.ComponentAddr(),
		ChannelServer: stack.srv.ChannelServer().String(), ReplyTimeout: xmppauth.DefaultReplyTimeout, KeepAlive: -1,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = comp.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-done })
	if err := comp.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		model    string
		op       auth.Operation
		anon     bool
		wantIQs  int64
		measured string
	}{
		{"open", auth.OpRead, true, 1, "anonymous read of an open channel"},
		{"whitelist", auth.OpRead, false, 3, "member's read of a private channel"},
	} {
		t.Run(tt.model, func(t *testing.T) {
			channel := bare("big-" + tt.model + "@localhost")
			started := time.Now()
			if err := stack.srv.CreateChannel(ctx, channel, tt.model, affs); err != nil {
				t.Fatal(err)
			}
			t.Logf("created %s with %d affiliations in %s", channel, len(affs), time.Since(started).Round(time.Millisecond))
			guard := &auth.Guard{Channels: auth.NewChannelCache(comp, time.Minute), Confirmer: auth.NewConfirmCache(comp, time.Minute)}
			req := auth.Request{Op: tt.op, Entity: channel, Method: "GET", URL: "https://m/" + channel.String() + "/x"}
			if !tt.anon {
				req.Credentials = &auth.Credentials{JID: member.JID(), TransactionID: "big-" + tt.model}
			}
			iqs := comp.IQsSent()
			started = time.Now()
			d, err := guard.Authorize(ctx, req)
			first := time.Since(started)
			if err != nil {
				t.Fatalf("%s: %v", tt.measured, err)
			}
			firstIQs := comp.IQsSent() - iqs
			iqs = comp.IQsSent()
			started = time.Now()
			if _, err := guard.Authorize(ctx, req); err != nil {
				t.Fatalf("%s again: %v", tt.measured, err)
			}
			cached := time.Since(started)
			cachedIQs := comp.IQsSent() - iqs
			t.Logf("%s with %d affiliations: first lookup %s and %d IQs; cached %s and %d IQs",
				tt.measured, len(affs), first.Round(time.Microsecond), firstIQs, cached.Round(time.Microsecond), cachedIQs)
			fmt.Printf("BIG CHANNEL %s, %d affiliations: first %s / %d IQs, cached %s / %d IQs\n",
				tt.measured, len(affs), first.Round(time.Millisecond), firstIQs, cached.Round(time.Microsecond), cachedIQs)
			// The full lookup alone (access model and affiliation list),
			// without the confirmation round trip.
			iqs = comp.IQsSent()
			started = time.Now()
			info, err := comp.Channel(ctx, channel)
			full := time.Since(started)
			if err != nil || len(info.Affiliations) < len(affs) { // and the admin who made it
				t.Fatalf("full lookup: %d affiliations, %v; want %d", len(info.Affiliations), err, len(affs))
			}
			fmt.Printf("BIG CHANNEL full lookup (access model and list), %d affiliations: %s / %d IQs\n", len(affs), full.Round(time.Millisecond), comp.IQsSent()-iqs)
			if d.Public != (tt.model == "open") {
				t.Errorf("decision %+v", d)
			}
			// The IQ count is exact: disco#info for the access model; for a
			// private channel also the full lookup (disco#info and the
			// list, asked at once).
			if firstIQs != tt.wantIQs {
				t.Errorf("%s: %d IQs, want %d", tt.measured, firstIQs, tt.wantIQs)
			}
			if cachedIQs != 0 {
				t.Errorf("%s from the cache: %d IQs, want 0", tt.measured, cachedIQs)
			}
		})
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
