package ttlcache

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// Expired entries are the first to go when the cache is full.
func TestCacheEvictsExpiredFirst(t *testing.T) {
	now := time.Unix(1000, 0)
	c := New[int](time.Minute, 10)
	for i := 0; i < 5; i++ {
		c.Put("old"+strconv.Itoa(i), i, now)
	}
	later := now.Add(2 * time.Minute)
	for i := 0; i < 5; i++ {
		c.Put("new"+strconv.Itoa(i), i, later)
	}
	c.Put("newest", 1, later) // full: the five expired ones go
	for i := 0; i < 5; i++ {
		if _, ok := c.Get("new"+strconv.Itoa(i), later); !ok {
			t.Errorf("fresh entry new%d was evicted while expired ones existed", i)
		}
	}
	if _, ok := c.Get("newest", later); !ok {
		t.Error("newest entry missing")
	}
	if n := c.Len(); n != 6 {
		t.Errorf("%d entries, want 6", n)
	}
}

// A weighed cache keeps at most maxWeight in all (the channel cache's
// bound on affiliations): older entries go to make room, and a value
// heavier than the whole bound is not kept at all.
func TestCacheWeightBound(t *testing.T) {
	now := time.Unix(1000, 0)
	c := NewWeighed(time.Minute, 100, func(v int) int { return v }, 10)
	for i, w := range []int{4, 4, 4, 3} {
		c.Put(strconv.Itoa(i), w, now)
		if c.weight > c.maxWeight {
			t.Fatalf("after %d puts: weight %d over the bound %d", i+1, c.weight, c.maxWeight)
		}
	}
	if _, ok := c.Get("3", now); !ok {
		t.Error("the newest entry was evicted")
	}
	c.Put("huge", 11, now)
	if _, ok := c.Get("huge", now); ok {
		t.Error("an entry heavier than the bound was kept")
	}
	c.Put("3", 1, now) // replacing an entry replaces its weight
	sum := 0
	for _, e := range c.entries {
		sum += e.v
	}
	if sum != c.weight {
		t.Errorf("weight %d, entries weigh %d", c.weight, sum)
	}
}

// Concurrent callers of one key share one call; a caller whose context
// ends stops waiting at once, while the call goes on, with a context
// that did not end, and answers the callers still waiting.
func TestGroupCallerGivesUpAlone(t *testing.T) {
	var g Group[string]
	var calls atomic.Int32
	release := make(chan struct{})
	started := make(chan struct{})
	fn := func(ctx context.Context) (string, error) {
		if calls.Add(1) == 1 {
			close(started)
		}
		select {
		case <-release:
		case <-ctx.Done():
			return "", ctx.Err()
		}
		return "answer", nil
	}
	patient := make(chan string, 1)
	go func() {
		v, err := g.Do(context.Background(), "k", fn)
		if err != nil {
			v = err.Error()
		}
		patient <- v
	}()
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	impatient := make(chan error, 1)
	go func() {
		_, err := g.Do(ctx, "k", fn)
		impatient <- err
	}()
	time.Sleep(20 * time.Millisecond) // let it join the call
	cancel()
	select {
	case err := <-impatient:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("the caller whose context ended got %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a caller whose context ended kept waiting for the shared call")
	}
	close(release)
	select {
	case v := <-patient:
		if v != "answer" {
			t.Errorf("the waiting caller got %q, want the shared call's answer", v)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting caller got no answer")
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("%d calls for two concurrent callers, want 1", n)
	}
}
