// Package ratelimit is a bounded set of token buckets, one per key (a
// client's network source): a burst, then one token per interval. The
// caller passes the time, so tests can move it.
package ratelimit

import (
	"sync"
	"time"
)

// Buckets holds one token bucket per key. Keys come from clients, so the
// number of buckets is bounded: past maxKeys, buckets that are full again
// are forgotten (forgetting one only gives its key a fresh burst), and if
// none is, all are.
type Buckets struct {
	burst    float64
	interval time.Duration
	maxKeys  int

	mu      sync.Mutex
	buckets map[string]bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// New returns buckets of burst tokens refilled at one per interval, for at
// most maxKeys keys at a time.
func New(burst int, interval time.Duration, maxKeys int) *Buckets {
	return &Buckets{burst: float64(burst), interval: interval, maxKeys: maxKeys, buckets: make(map[string]bucket)}
}

// refill is k's bucket at now.
func (b *Buckets) refill(k string, now time.Time) bucket {
	bk, ok := b.buckets[k]
	if !ok {
		return bucket{tokens: b.burst, at: now}
	}
	if now.After(bk.at) {
		bk.tokens = min(b.burst, bk.tokens+float64(now.Sub(bk.at))/float64(b.interval))
		bk.at = now
	}
	return bk
}

// Take spends one of k's tokens at now. When k has none it returns false
// and how long until it has one.
func (b *Buckets) Take(k string, now time.Time) (bool, time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	bk := b.refill(k, now)
	if bk.tokens < 1 {
		return false, time.Duration((1 - bk.tokens) * float64(b.interval))
	}
	bk.tokens--
	if _, ok := b.buckets[k]; !ok && len(b.buckets) >= b.maxKeys {
		for other := range b.buckets {
			if b.refill(other, now).tokens >= b.burst {
				delete(b.buckets, other)
			}
		}
		if len(b.buckets) >= b.maxKeys {
			clear(b.buckets)
		}
	}
	b.buckets[k] = bk
	return true, 0
}
