package auth

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/xmppmedia/mediaserver/internal/ttlcache"
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

type confirmCache struct {
	next      Confirmer
	confirmed *ttlcache.Cache[struct{}]
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
		confirmed: ttlcache.New[struct{}](ttl, MaxCacheEntries),
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
		if _, ok := c.confirmed.Get(remembered, c.now()); ok {
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
			c.confirmed.Put(remembered, struct{}{}, c.now())
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
	infos    *ttlcache.Cache[ChannelInfo] // full answers
	models   *ttlcache.Cache[ChannelInfo] // access models alone
	inflight ttlcache.Group[ChannelInfo]
	now      func() time.Time
}

// MaxCachedAffiliations bounds the affiliations held by one channel cache
// over all its channels (about 100 bytes each): a few big channels, or
// many made-up ones on a federated domain, cannot fill memory.
const MaxCachedAffiliations = 1_000_000

// NewChannelCache remembers each entity's ChannelInfo, and its access
// model alone, for ttl, and shares concurrent lookups of one entity.
// Errors are never remembered. A ttl of 0 remembers nothing but still
// shares concurrent lookups. The returned Affiliations maps are shared
// between callers: treat them as read-only. At most MaxCacheEntries
// channels and MaxCachedAffiliations affiliations are kept.
//
// When a lookup fails with ErrUnavailable and the channel was open when
// last seen (less than ttl+MaxStaleOpen ago), that answer is served
// instead, marked with StaleFor (the rest of that allowance), so public
// reads survive a short outage. Only open channels, and Guard lets a stale
// answer grant only reads: a write or a private read on stale
// affiliations could use a right taken away meanwhile.
func NewChannelCache(c Channels, ttl time.Duration) Channels {
	return &channelCache{
		next:   c,
		infos:  ttlcache.NewWeighed(ttl, MaxCacheEntries, func(i ChannelInfo) int { return len(i.Affiliations) }, MaxCachedAffiliations),
		models: ttlcache.New[ChannelInfo](ttl, MaxCacheEntries),
		now:    time.Now,
	}
}

func (c *channelCache) AccessModel(ctx context.Context, entity jid.JID) (ChannelInfo, error) {
	key := entity.Bare().String()
	if info, ok := c.infos.Get(key, c.now()); ok {
		return ChannelInfo{AccessModel: info.AccessModel}, nil
	}
	return c.lookup(ctx, c.models, "model", key, func(ctx context.Context) (ChannelInfo, error) {
		return c.next.AccessModel(ctx, entity)
	})
}

func (c *channelCache) Channel(ctx context.Context, entity jid.JID) (ChannelInfo, error) {
	return c.lookup(ctx, c.infos, "full", entity.Bare().String(), func(ctx context.Context) (ChannelInfo, error) {
		info, err := c.next.Channel(ctx, entity)
		if err == nil {
			c.models.Put(entity.Bare().String(), ChannelInfo{AccessModel: info.AccessModel}, c.now())
		}
		return info, err
	})
}

// lookup answers key from cache, or asks fn (shared by concurrent callers
// of the same kind of lookup) and remembers its answer, or serves a stale
// open answer through an outage.
func (c *channelCache) lookup(ctx context.Context, cache *ttlcache.Cache[ChannelInfo], kind, key string, fn func(context.Context) (ChannelInfo, error)) (ChannelInfo, error) {
	if info, ok := cache.Get(key, c.now()); ok {
		return info, nil
	}
	info, err := c.inflight.Do(ctx, kind+"\x00"+key, func(ctx context.Context) (ChannelInfo, error) {
		info, err := fn(ctx)
		if err != nil {
			return ChannelInfo{}, err
		}
		cache.Put(key, info, c.now())
		return info, nil
	})
	if err != nil && errors.Is(err, ErrUnavailable) {
		if stale, left, ok := cache.GetStale(key, c.now(), MaxStaleOpen); ok && stale.Public() {
			stale.StaleFor = left
			return stale, nil
		}
	}
	return info, err
}
