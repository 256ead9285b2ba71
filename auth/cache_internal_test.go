package auth

import (
	"context"
	"strconv"
	"testing"
	"time"

	"mellium.im/xmpp/jid"
)

type acceptAll struct{}

func (acceptAll) Confirm(context.Context, ConfirmRequest) error { return nil }

// countingAccepter accepts every question and counts them.
type countingAccepter struct{ asked int }

func (c *countingAccepter) Confirm(context.Context, ConfirmRequest) error { c.asked++; return nil }

// A confirmed read is remembered for exactly the ttl, then asked again, on
// the cache's own clock (no sleeping, so a loaded machine cannot blur it).
func TestConfirmCacheExpires(t *testing.T) {
	const ttl = 30 * time.Second
	next := &countingAccepter{}
	cc := NewConfirmCache(next, ttl).(*confirmCache)
	now := time.Unix(1000, 0)
	cc.now = func() time.Time { return now }
	req := ConfirmRequest{JID: jid.MustParse("a@x/phone"), TransactionID: "t1", Method: "GET", URL: "https://m/c@x/1", Channel: jid.MustParse("c@x")}
	steps := []struct {
		at        time.Duration // since the first question
		wantAsked int
	}{
		{0, 1},
		{ttl - time.Nanosecond, 1}, // remembered to the last moment
		{ttl, 2},                   // expired: asked again
		{ttl + time.Second, 2},     // and remembered afresh
	}
	start := now
	for _, s := range steps {
		now = start.Add(s.at)
		if err := cc.Confirm(context.Background(), req); err != nil {
			t.Fatalf("at %v: %v", s.at, err)
		}
		if next.asked != s.wantAsked {
			t.Errorf("at %v: the user was asked %d times, want %d", s.at, next.asked, s.wantAsked)
		}
	}
}

// An attacker who confirms many distinct transaction ids (their own) or
// names many channels cannot grow the caches past MaxCacheEntries.
func TestCachesAreBounded(t *testing.T) {
	ctx := context.Background()
	cc := NewConfirmCache(acceptAll{}, time.Hour).(*confirmCache)
	for i := 0; i < MaxCacheEntries+2000; i++ {
		if err := cc.Confirm(ctx, ConfirmRequest{JID: jid.MustParse("a@x/r"), TransactionID: strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if n := cc.confirmed.Len(); n > MaxCacheEntries {
		t.Errorf("confirm cache holds %d entries, bound %d", n, MaxCacheEntries)
	}
	ch := NewChannelCache(zeroChannels{}, time.Hour).(*channelCache)
	for i := 0; i < MaxCacheEntries+2000; i++ {
		if _, err := ch.Channel(ctx, jid.MustParse("c"+strconv.Itoa(i)+"@x")); err != nil {
			t.Fatal(err)
		}
	}
	if n := ch.infos.Len(); n > MaxCacheEntries {
		t.Errorf("channel cache holds %d entries, bound %d", n, MaxCacheEntries)
	}
}

type zeroChannels struct{}

func (zeroChannels) Channel(context.Context, jid.JID) (ChannelInfo, error) { return ChannelInfo{}, nil }
func (zeroChannels) AccessModel(context.Context, jid.JID) (ChannelInfo, error) {
	return ChannelInfo{}, nil
}

type switchChannels struct {
	info ChannelInfo
	err  error
}

func (s *switchChannels) Channel(context.Context, jid.JID) (ChannelInfo, error) { return s.info, s.err }
func (s *switchChannels) AccessModel(context.Context, jid.JID) (ChannelInfo, error) {
	return ChannelInfo{AccessModel: s.info.AccessModel}, s.err
}

// A stale open channel is served for MaxStaleOpen past its ttl, not longer.
func TestStaleOpenChannelHasALimit(t *testing.T) {
	now := time.Unix(1000, 0)
	src := &switchChannels{info: ChannelInfo{AccessModel: "open"}}
	c := NewChannelCache(src, time.Minute).(*channelCache)
	c.now = func() time.Time { return now }
	ctx := context.Background()
	if _, err := c.Channel(ctx, jid.MustParse("o@x")); err != nil {
		t.Fatal(err)
	}
	src.err = ErrUnavailable
	now = now.Add(time.Minute + MaxStaleOpen - time.Second)
	if _, err := c.Channel(ctx, jid.MustParse("o@x")); err != nil {
		t.Errorf("just inside the stale window: %v", err)
	}
	now = now.Add(2 * time.Second)
	if _, err := c.Channel(ctx, jid.MustParse("o@x")); err == nil {
		t.Error("served a stale open channel past ttl+MaxStaleOpen")
	}
}
