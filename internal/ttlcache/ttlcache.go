// Package ttlcache is the one bounded cache of answers that expire, and
// the one way concurrent callers share a lookup, used by the permission
// caches of package auth and the channel-server discovery of
// auth/xmppauth.
package ttlcache

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// Cache is a bounded map of values that expire. Keys often come from
// clients (transaction ids, entity names, domains), so every cache has a
// bound on its entries, and may have one on the total weight of its
// values. The caller passes the time, so that tests can move it.
type Cache[V any] struct {
	ttl     time.Duration
	max     int
	mu      sync.Mutex
	entries map[string]entry[V]
	// weigh, when set, gives each value a weight, and the total weight is
	// kept at or below maxWeight (a value heavier than that is not kept).
	weigh     func(V) int
	maxWeight int
	weight    int
}

type entry[V any] struct {
	v       V
	expires time.Time
}

// New returns a cache that keeps values for ttl (a ttl of 0 or less keeps
// nothing) and holds at most max entries.
func New[V any](ttl time.Duration, max int) *Cache[V] {
	return &Cache[V]{ttl: ttl, max: max, entries: make(map[string]entry[V])}
}

// NewWeighed is New with a bound on the total weight of the values, as
// weigh measures them: older entries go to make room, and a value heavier
// than maxWeight is not kept at all.
func NewWeighed[V any](ttl time.Duration, max int, weigh func(V) int, maxWeight int) *Cache[V] {
	c := New[V](ttl, max)
	c.weigh, c.maxWeight = weigh, maxWeight
	return c
}

// Get returns the value under key if it has not expired at now.
func (c *Cache[V]) Get(key string, now time.Time) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || !now.Before(e.expires) {
		var zero V
		return zero, false
	}
	return e.v, true
}

// GetStale returns an entry that expired less than maxStale ago (or is
// still fresh), and how much longer it may be served.
func (c *Cache[V]) GetStale(key string, now time.Time, maxStale time.Duration) (V, time.Duration, bool) {
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

// Put keeps v under key until now+ttl, replacing what was there. When the
// cache is full it first drops expired entries and then, if that frees
// too little, an arbitrary tenth of the rest: forgetting only costs a
// repeated lookup.
func (c *Cache[V]) Put(key string, v V, now time.Time) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.weightOf(v)
	if c.weigh != nil && w > c.maxWeight {
		return
	}
	if old, ok := c.entries[key]; ok {
		c.weight -= c.weightOf(old.v)
		delete(c.entries, key)
	}
	if len(c.entries) >= c.max {
		c.evict(now)
	}
	for k, e := range c.entries {
		if c.weight+w <= c.maxWeight || c.weigh == nil {
			break
		}
		c.weight -= c.weightOf(e.v)
		delete(c.entries, k)
	}
	c.entries[key] = entry[V]{v: v, expires: now.Add(c.ttl)}
	c.weight += w
}

func (c *Cache[V]) weightOf(v V) int {
	if c.weigh == nil {
		return 0
	}
	return c.weigh(v)
}

// evict drops expired entries and, if that frees too little, an arbitrary
// tenth of the rest.
func (c *Cache[V]) evict(now time.Time) {
	for k, e := range c.entries {
		if !now.Before(e.expires) {
			c.weight -= c.weightOf(e.v)
			delete(c.entries, k)
		}
	}
	for k, e := range c.entries {
		if len(c.entries) < c.max-c.max/10 {
			break
		}
		c.weight -= c.weightOf(e.v)
		delete(c.entries, k)
	}
}

// Len is the number of entries held, expired or not.
func (c *Cache[V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// Group runs one lookup for the concurrent callers of a key. The zero
// Group is ready to use.
type Group[V any] struct {
	g singleflight.Group
}

// Do runs fn once for the concurrent callers with the same key. fn gets a
// context that does not end with the first caller's, since others may be
// waiting for the answer (fn must bound itself, as the XMPP lookups do
// with their reply timeout); each caller still stops waiting, with its
// ctx's error, when its own ctx ends, while fn goes on for the others.
func (g *Group[V]) Do(ctx context.Context, key string, fn func(context.Context) (V, error)) (V, error) {
	ch := g.g.DoChan(key, func() (any, error) { return fn(context.WithoutCancel(ctx)) })
	select {
	case r := <-ch:
		v, _ := r.Val.(V)
		return v, r.Err
	case <-ctx.Done():
		var zero V
		return zero, ctx.Err()
	}
}
