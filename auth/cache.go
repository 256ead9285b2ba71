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
// still fresh), and how much longer it may be served.
func (c *ttlCache[V]) getStale(key string, now time.Time, maxStale time.Duration) (V, time.Duration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	end := e.expires.Add(maxStale)
	if !ok || !now.Before(end) {
		var zero V
		return zero, 0, false
	}
	return e.v, end.Sub(now), true
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
	remember  bool
	asking    flights
	now       func() time.Time
}

// NewConfirmCache remembers confirmed reads for ttl, so a page loading
// thirty thumbnails with one auth value costs one confirmation. The memory
// is scoped: a confirmed read (GET or HEAD) of a channel covers later
// reads of that channel by the same full JID with the same transaction id,
// and nothing else. Writes are never remembered and never covered: the
// auth value travels in image URLs, so it must not act as a bearer token
// for uploads or deletes. Denials and errors are never remembered.
//
// Concurrent requests share one question only when it is the same
// question (JID, transaction id, method, URL); reads of one channel also
// share one when ttl > 0, since its answer would cover them all anyway. A
// shared question is withdrawn as soon as no request waits for it any
// more, so hung-up requests do not hold the user's bound of waiting
// questions. A ttl of 0 remembers nothing but still shares questions.
func NewConfirmCache(c Confirmer, ttl time.Duration) Confirmer {
	return &confirmCache{
		next:      c,
		confirmed: newTTLCache[struct{}](ttl, MaxCacheEntries),
		remember:  ttl > 0,
		asking:    flights{m: make(map[string]*flight)},
		now:       time.Now,
	}
}

func (c *confirmCache) Confirm(ctx context.Context, req ConfirmRequest) error {
	// The JID as given: a confirmation by one resource says nothing about
	// another.
	who := req.JID.String() + "\x00" + req.TransactionID + "\x00"
	remembered := ""
	if req.Read() && !req.Channel.Equal(jid.JID{}) {
		remembered = who + "read\x00" + req.Channel.Bare().String()
		if _, ok := c.confirmed.get(remembered, c.now()); ok {
			return nil
		}
	}
	question := who + req.Method + "\x00" + req.URL
	if remembered != "" && c.remember {
		question = remembered
	}
	return c.asking.do(ctx, question, func(ctx context.Context) error {
		if err := c.next.Confirm(ctx, req); err != nil {
			return err
		}
		if remembered != "" {
			c.confirmed.put(remembered, struct{}{}, c.now())
		}
		return nil
	})
}

// flights runs one call per key for the callers waiting on it, and
// cancels the call when the last of them stops waiting.
type flights struct {
	mu sync.Mutex
	m  map[string]*flight
}

type flight struct {
	done    chan struct{}
	err     error
	waiters int
	cancel  context.CancelFunc
}

// do joins (or starts) the call for key. fn gets a context that ends only
// when every caller has stopped waiting (and keeps the first caller's
// values); each caller still stops waiting when its own ctx ends.
func (fs *flights) do(ctx context.Context, key string, fn func(context.Context) error) error {
	fs.mu.Lock()
	f := fs.m[key]
	if f == nil {
		fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		f = &flight{done: make(chan struct{}), cancel: cancel}
		fs.m[key] = f
		go func() {
			err := fn(fctx)
			fs.mu.Lock()
			if fs.m[key] == f {
				delete(fs.m, key)
			}
			f.err = err
			close(f.done)
			fs.mu.Unlock()
			cancel()
		}()
	}
	f.waiters++
	fs.mu.Unlock()
	select {
	case <-f.done:
		return f.err
	case <-ctx.Done():
		fs.mu.Lock()
		defer fs.mu.Unlock()
		select {
		case <-f.done:
			return f.err
		default:
		}
		if f.waiters--; f.waiters == 0 {
			// Nobody wants the answer any more: withdraw the question, and
			// let the next caller ask afresh rather than join a dying call.
			f.cancel()
			if fs.m[key] == f {
				delete(fs.m, key)
			}
		}
		return ctx.Err()
	}
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
// instead, marked with StaleFor (the rest of that allowance), so public
// reads survive a short outage. Only open channels, and Guard lets a stale
// answer grant only reads: a write or a private read on stale
// affiliations could use a right taken away meanwhile.
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
		if stale, left, ok := c.infos.getStale(key, c.now(), MaxStaleOpen); ok && stale.Public() {
			stale.StaleFor = left
			return stale, nil
		}
	}
	return info, err
}
