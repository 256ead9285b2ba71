package mediasvc

import (
	"bytes"
	"container/list"
	"strconv"
	"sync"

	"github.com/xmppmedia/mediaserver/transform"
)

// derivedKey names one derived answer. It carries the item's version (the
// original's SHA-1 and its Updated time), so a replaced avatar or a
// re-uploaded item gets new keys and never meets an old answer; entries of
// old versions simply age out of the LRU. Nothing in the key stands for
// the requester: the cache is consulted only after the request was
// authorized for the item (servePreview runs after readable).
//
// variant (variantName) tells a WebP or byte-budgeted answer from the
// plain one of the same box; "" is the plain answer.
type derivedKey struct {
	entity, id, sha1 string
	updated          int64 // Updated in Unix nanoseconds
	box              transform.Box
	variant          string
}

// flight is the key's singleflight name, apart from the stored previews'
// (previewKey) so the two never share a rendering.
func (k derivedKey) flight() string {
	return "derived\x00" + k.entity + "\x00" + k.id + "\x00" + k.sha1 + "\x00" +
		strconv.FormatInt(k.updated, 10) + "\x00" + k.box.String() + "\x00" + k.variant
}

// derivedSource says where a derived answer's bytes are.
type derivedSource int

const (
	fromData   derivedSource = iota // derived.data
	fromStored                      // the stored file it was rendered from is the answer
	overBudget                      // nothing acceptable fits the variant's byte budget
)

// derived is the answer for a box that is not stored.
type derived struct {
	source   derivedSource
	data     []byte // never modified once made
	mimeType string
}

// derivedEntryOverhead is what an entry costs beside its bytes (key
// strings, list element, map slot), rounded up, so that a flood of tiny
// answers (1x1 boxes) is bounded too.
const derivedEntryOverhead = 256

// derivedCache is a byte-bounded LRU of derived answers. Only answers are
// kept, never stored files: what is stored stays bounded by the set of
// boxes, and what is derived by this cache's budget, however many distinct
// boxes clients ask for.
type derivedCache struct {
	max int64 // bytes; 0 keeps nothing

	mu    sync.Mutex
	used  int64
	order *list.List // of *derivedEntry, most recently used first
	byKey map[derivedKey]*list.Element
}

type derivedEntry struct {
	key  derivedKey
	d    derived
	cost int64
}

func newDerivedCache(maxBytes int64) *derivedCache {
	return &derivedCache{max: maxBytes, order: list.New(), byKey: map[derivedKey]*list.Element{}}
}

// entryCost counts the data's capacity, which is what it holds.
func entryCost(k derivedKey, d derived) int64 {
	return int64(cap(d.data)+len(k.entity)+len(k.id)+len(k.sha1)+len(k.variant)+len(d.mimeType)) + derivedEntryOverhead
}

func (c *derivedCache) get(k derivedKey) (derived, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byKey[k]
	if !ok {
		return derived{}, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*derivedEntry).d, true
}

// put remembers d, evicting the least recently used answers beyond the
// budget. An answer costing more than a quarter of the budget is not kept:
// one large box must not flush every small one.
func (c *derivedCache) put(k derivedKey, d derived) {
	if cap(d.data) > len(d.data)+len(d.data)/16 {
		// An encoder's buffer grows by doubling: keep only what is used.
		d.data = bytes.Clone(d.data)
	}
	cost := entryCost(k, d)
	if cost > c.max/4 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byKey[k]; ok {
		c.used -= e.Value.(*derivedEntry).cost
		c.order.Remove(e)
		delete(c.byKey, k)
	}
	c.byKey[k] = c.order.PushFront(&derivedEntry{key: k, d: d, cost: cost})
	c.used += cost
	for c.used > c.max {
		last := c.order.Back()
		e := last.Value.(*derivedEntry)
		c.order.Remove(last)
		delete(c.byKey, e.key)
		c.used -= e.cost
	}
}

// size is the bytes held and the number of answers.
func (c *derivedCache) size() (bytes int64, entries int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used, len(c.byKey)
}
