package auth

import (
	"context"
	"errors"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	"mellium.im/xmpp/jid"
)

// MaxCacheEntries bounds each cache made by NewConfirmCache and
// NewChannelCache: transaction ids and entity names come from clients, so
// an attacker could otherwise grow a cache without limit.
const MaxCacheEntries = 10000

// MaxStaleOpen is how long past its ttl a remembered open channel is
// still served when the channel server cannot be asked, so public reads
// keep working through a short XMPP outage.
const MaxStaleOpen = 10 * time.Minute

// ttlCache is a bounded map of values that expire.
type ttlCache[V any] struct {
	ttl     time.Duration
	max     int
	mu      sync.Mutex
	entries map[string]ttlEntry[V]
}

type ttlEntry[V any] struct {
	v       V
	expires time.Time
}

func newTTLCache[V any](ttl time.Duration, max int) *ttlCache[V] {
	return &ttlCache[V]{ttl: ttl, max: max, entries: make(map[string]ttlEntry[V])}
}

func (c *ttlCache[V]) get(key string, now time.Time) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || !now.Before(e.expires) {
		var zero V
		return zero, false
	}
	return e.v, true
}

// getStale returns an entry that expired less than maxStale ago (or is
// still fresh).
func (c *ttlCache[V]) getStale(key string, now time.Time, maxStale time.Duration) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || !now.Before(e.expires.Add(maxStale)) {
		var zero V
		return zero, false
	}
	return e.v, true
}

func (c *ttlCache[V]) put(key string, v V, now time.Time) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[key]; !ok && len(c.entries) >= c.max {
		c.evict(now)
	}
	c.entries[key] = ttlEntry[V]{v: v, expires: now.Add(c.ttl)}
}

// evict drops expired entries and, if that frees too little, an arbitrary
// tenth of the rest: forgetting only costs a repeated lookup.
func (c *ttlCache[V]) evict(now time.Time) {
	for k, e := range c.entries {
		if !now.Before(e.expires) {
			delete(c.entries, k)
		}
	}
	for k := range c.entries {
		if len(c.entries) < c.max-c.max/10 {
			break
		}
		delete(c.entries, k)
	}
}

func (c *ttlCache[V]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// shared runs fn once for concurrent callers with the same key. fn gets a
// context that does not end with the first caller's (fn must bound itself,
// as the XMPP implementations do with their reply timeout); each caller
// still stops waiting when its own ctx ends.
func shared[V any](ctx context.Context, g *singleflight.Group, key string, fn func(context.Context) (V, error)) (V, error) {
	ch := g.DoChan(key, func() (any, error) { return fn(context.WithoutCancel(ctx)) })
	select {
	case r := <-ch:
		v, _ := r.Val.(V)
		return v, r.Err
	case <-ctx.Done():
		var zero V
		return zero, ctx.Err()
	}
}

type confirmCache struct {
	next      Confirmer
	confirmed *ttlCache[struct{}]
	inflight  singleflight.Group
	now       func() time.Time
}

// NewConfirmCache remembers each confirmed (JID exactly as given,
// transaction id) for ttl, so a page loading thirty thumbnails with one
// auth value costs one confirmation; concurrent requests with the same
// pair share one question to the user. Denials and errors are never
// remembered. A ttl of 0 remembers nothing but still shares concurrent
// questions.
func NewConfirmCache(c Confirmer, ttl time.Duration) Confirmer {
	return &confirmCache{next: c, confirmed: newTTLCache[struct{}](ttl, MaxCacheEntries), now: time.Now}
}

func (c *confirmCache) Confirm(ctx context.Context, req ConfirmRequest) error {
	// The JID as given: a confirmation by one resource says nothing about
	// another.
	key := req.JID.String() + "\x00" + req.TransactionID
	if _, ok := c.confirmed.get(key, c.now()); ok {
		return nil
	}
	_, err := shared(ctx, &c.inflight, key, func(ctx context.Context) (struct{}, error) {
		if err := c.next.Confirm(ctx, req); err != nil {
			return struct{}{}, err
		}
		c.confirmed.put(key, struct{}{}, c.now())
		return struct{}{}, nil
	})
	return err
}

type channelCache struct {
	next     Channels
	infos    *ttlCache[ChannelInfo]
	inflight singleflight.Group
	now      func() time.Time
}

// NewChannelCache remembers each entity's ChannelInfo for ttl and shares
// concurrent lookups of one entity. Errors are never remembered. A ttl of
// 0 remembers nothing but still shares concurrent lookups. The returned
// Affiliations maps are shared between callers: treat them as read-only.
//
// When a lookup fails with ErrUnavailable and the channel was open when
// last seen (less than ttl+MaxStaleOpen ago), that answer is served
// instead, so public reads survive a short outage. Only open channels:
// everything else a stale answer could allow also needs a confirmation
// over XMPP, but a private read with stale affiliations would not be safe
// while the channel server alone is down.
func NewChannelCache(c Channels, ttl time.Duration) Channels {
	return &channelCache{next: c, infos: newTTLCache[ChannelInfo](ttl, MaxCacheEntries), now: time.Now}
}

func (c *channelCache) Channel(ctx context.Context, entity jid.JID) (ChannelInfo, error) {
	key := entity.Bare().String()
	if info, ok := c.infos.get(key, c.now()); ok {
		return info, nil
	}
	info, err := shared(ctx, &c.inflight, key, func(ctx context.Context) (ChannelInfo, error) {
		info, err := c.next.Channel(ctx, entity)
		if err != nil {
			return ChannelInfo{}, err
		}
		c.infos.put(key, info, c.now())
		return info, nil
	})
	if err != nil && errors.Is(err, ErrUnavailable) {
		if stale, ok := c.infos.getStale(key, c.now(), MaxStaleOpen); ok && stale.Public() {
			return stale, nil
		}
	}
	return info, err
}
