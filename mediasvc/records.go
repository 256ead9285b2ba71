package mediasvc

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xmppmedia/mediaserver/storage"
	"github.com/xmppmedia/mediaserver/transform"
)

// recordTTL bounds how long a record read from the metadata store is
// served from memory. A change made through this server is seen at once
// (its write forgets the channel's records); a change made through
// another server sharing the database (a deleted item, a replaced avatar,
// an edited title) is seen here at most recordTTL after it committed.
//
// A TTL rather than LISTEN/NOTIFY or a version column: the bound holds
// whatever happens to connections (a notification lost while a listening
// connection is down would leave a record stale until someone noticed),
// it needs no connection or query per request, it works the same with a
// SQLite file several processes share, and at one look-up per record per
// second the store's load is negligible beside a page loading dozens of
// previews a second.
const recordTTL = time.Second

// maxCachedChannels bounds the channels whose records are remembered;
// entity names come from clients, so the map must not grow without limit.
const maxCachedChannels = 10000

// Small stored files (previews: a 320x480 one is 15-30 KB) are kept in
// memory beside their records, for recordTTL like them: sent from memory,
// a preview costs one write instead of open, fstat, fcntl, sendfile and
// close. maxCachedFile bounds one file, maxCachedFileBytes all of them.
const (
	maxCachedFile      = 128 << 10
	maxCachedFileBytes = 32 << 20
)

// recordCache is the metadata store with the read path's records (items,
// avatars and preview lists, which change only through the store's writes)
// and small files remembered for recordTTL. Every write through it forgets the written
// channel's records once the write has returned, so this server never
// serves what it has changed.
type recordCache struct {
	storage.Metadata
	now func() time.Time

	// gen counts writes. A read that began before a write ended may carry
	// the old state; it is remembered only if no write ended meanwhile.
	gen       atomic.Uint64
	mu        sync.RWMutex
	channels  map[string]*channelRecords
	fileBytes int // held by every channelRecords.files; under mu
}

// channelRecords are one channel's remembered records.
type channelRecords struct {
	items    map[string]cachedItem // by media ID
	avatar   *cachedItem
	previews map[string]cachedPreviews // by media ID
	files    map[string]cachedFile     // by blob key
}

// cachedFile is the content of a small stored file.
type cachedFile struct {
	data    []byte // never modified once cached
	expires time.Time
}

// cachedItem is an item with its response headers computed once.
type cachedItem struct {
	m            storage.Media
	lastModified string // m.Updated in http.TimeFormat
	etag         string // of the original
	expires      time.Time
}

type cachedPreviews struct {
	ps      []storage.Preview // never modified once cached
	expires time.Time
}

func newRecordCache(m storage.Metadata) *recordCache {
	return &recordCache{Metadata: m, now: time.Now, channels: map[string]*channelRecords{}}
}

// item returns the visible item id of entity (the avatar for avatarID).
func (c *recordCache) item(ctx context.Context, entity, id string) (cachedItem, error) {
	now := c.now()
	it, ok := lookup(c, entity, func(ch *channelRecords) (cachedItem, bool) {
		if id != avatarID {
			it, ok := ch.items[id]
			return it, ok
		}
		if ch.avatar == nil {
			return cachedItem{}, false
		}
		return *ch.avatar, true
	})
	if ok && now.Before(it.expires) {
		return it, nil
	}
	gen := c.gen.Load()
	var m storage.Media
	var err error
	if id == avatarID {
		m, err = c.Metadata.Avatar(ctx, entity)
	} else {
		m, err = c.Metadata.Get(ctx, entity, id)
	}
	if err != nil {
		return cachedItem{}, err
	}
	it = cachedItem{
		m: m, lastModified: m.Updated.UTC().Format(http.TimeFormat), etag: `"` + m.SHA1 + `"`,
		expires: now.Add(recordTTL),
	}
	c.remember(gen, entity, func(ch *channelRecords) {
		if id == avatarID {
			ch.avatar = &it
		} else {
			ch.items[id] = it
		}
	})
	return it, nil
}

// preview returns the stored preview of item id for box; found is false
// when none is recorded.
func (c *recordCache) preview(ctx context.Context, entity, id string, box transform.Box) (p storage.Preview, found bool, err error) {
	ps, err := c.previews(ctx, entity, id)
	if err != nil {
		return storage.Preview{}, false, err
	}
	for _, p := range ps {
		if p.Width == box.Width && p.Height == box.Height {
			return p, true, nil
		}
	}
	return storage.Preview{}, false, nil
}

// previews returns the recorded previews of item id; the caller must not
// modify the slice.
func (c *recordCache) previews(ctx context.Context, entity, id string) ([]storage.Preview, error) {
	now := c.now()
	cp, ok := lookup(c, entity, func(ch *channelRecords) (cachedPreviews, bool) {
		cp, ok := ch.previews[id]
		return cp, ok
	})
	if !ok || !now.Before(cp.expires) {
		gen := c.gen.Load()
		ps, err := c.Metadata.Previews(ctx, entity, id)
		if err != nil {
			return nil, err
		}
		cp = cachedPreviews{ps: ps, expires: now.Add(recordTTL)}
		c.remember(gen, entity, func(ch *channelRecords) { ch.previews[id] = cp })
	}
	return cp.ps, nil
}

// file returns the content of entity's stored file key of the given size,
// read with load on a miss. A file too large to keep, or whose size is not
// the recorded one (replaced meanwhile), is not kept.
func (c *recordCache) file(entity, key string, size int64, load func() ([]byte, error)) ([]byte, error) {
	now := c.now()
	f, ok := lookup(c, entity, func(ch *channelRecords) (cachedFile, bool) {
		f, ok := ch.files[key]
		return f, ok
	})
	if ok && now.Before(f.expires) && int64(len(f.data)) == size {
		return f.data, nil
	}
	gen := c.gen.Load()
	data, err := load()
	if err != nil {
		return nil, err
	}
	if int64(len(data)) != size || size > maxCachedFile {
		return data, nil
	}
	c.remember(gen, entity, func(ch *channelRecords) {
		old := len(ch.files[key].data)
		if c.fileBytes-old+len(data) > maxCachedFileBytes {
			c.evictFiles(now)
			if c.fileBytes-old+len(data) > maxCachedFileBytes {
				return
			}
		}
		c.fileBytes += len(data) - old
		ch.files[key] = cachedFile{data: data, expires: now.Add(recordTTL)}
	})
	return data, nil
}

// evictFiles drops expired file contents. Called with mu held.
func (c *recordCache) evictFiles(now time.Time) {
	for _, ch := range c.channels {
		for key, f := range ch.files {
			if !now.Before(f.expires) {
				c.fileBytes -= len(f.data)
				delete(ch.files, key)
			}
		}
	}
}

// drop forgets a channel's records. Called with mu held.
func (c *recordCache) drop(entity string) {
	if ch := c.channels[entity]; ch != nil {
		for _, f := range ch.files {
			c.fileBytes -= len(f.data)
		}
		delete(c.channels, entity)
	}
}

// lookup returns what get finds among entity's records, under the read
// lock.
func lookup[V any](c *recordCache, entity string, get func(*channelRecords) (V, bool)) (V, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if ch := c.channels[entity]; ch != nil {
		return get(ch)
	}
	var zero V
	return zero, false
}

// remember stores a record of entity read when the write count was gen,
// unless a write has ended since.
func (c *recordCache) remember(gen uint64, entity string, put func(*channelRecords)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen.Load() != gen {
		return
	}
	ch := c.channels[entity]
	if ch == nil {
		if len(c.channels) >= maxCachedChannels {
			c.evict()
		}
		ch = &channelRecords{items: map[string]cachedItem{}, previews: map[string]cachedPreviews{}, files: map[string]cachedFile{}}
		c.channels[entity] = ch
	}
	put(ch)
}

// evict drops the channels with nothing fresh, and everything if that
// frees too little. Called with mu held.
func (c *recordCache) evict() {
	now := c.now()
	for entity, ch := range c.channels {
		fresh := ch.avatar != nil && now.Before(ch.avatar.expires)
		for _, it := range ch.items {
			fresh = fresh || now.Before(it.expires)
		}
		for _, p := range ch.previews {
			fresh = fresh || now.Before(p.expires)
		}
		for _, f := range ch.files {
			fresh = fresh || now.Before(f.expires)
		}
		if !fresh {
			c.drop(entity)
		}
	}
	if len(c.channels) >= maxCachedChannels*9/10 {
		clear(c.channels)
		c.fileBytes = 0
	}
}

// forget drops entity's records after a write to it (whatever the write's
// outcome: a failed commit may still have taken effect).
func (c *recordCache) forget(entity string) {
	c.mu.Lock()
	c.gen.Add(1)
	c.drop(entity)
	c.mu.Unlock()
}

// Commit implements storage.Metadata, forgetting the channel's records
// (its avatar may have changed).
func (c *recordCache) Commit(ctx context.Context, m storage.Media, asAvatar bool) (*storage.Media, []storage.Preview, error) {
	defer c.forget(m.Entity)
	return c.Metadata.Commit(ctx, m, asAvatar)
}

// Update implements storage.Metadata, forgetting the channel's records.
func (c *recordCache) Update(ctx context.Context, entity, id string, ch storage.Changes, now time.Time) (storage.Media, error) {
	defer c.forget(entity)
	return c.Metadata.Update(ctx, entity, id, ch, now)
}

// Delete implements storage.Metadata, forgetting the channel's records.
func (c *recordCache) Delete(ctx context.Context, entity, id string) (storage.Media, []storage.Preview, error) {
	defer c.forget(entity)
	return c.Metadata.Delete(ctx, entity, id)
}

// PutPreview implements storage.Metadata, forgetting the channel's records
// (the item's preview list has changed).
func (c *recordCache) PutPreview(ctx context.Context, p storage.Preview) error {
	defer c.forget(p.Entity)
	return c.Metadata.PutPreview(ctx, p)
}
