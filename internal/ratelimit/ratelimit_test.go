package ratelimit

import (
	"testing"
	"time"
)

func TestBurstThenOnePerInterval(t *testing.T) {
	b := New(3, 2*time.Second, 100)
	t0 := time.Unix(1000, 0)
	for i := range 3 {
		if ok, _ := b.Take("a", t0); !ok {
			t.Fatalf("token %d of the burst refused", i+1)
		}
	}
	ok, wait := b.Take("a", t0)
	if ok || wait != 2*time.Second {
		t.Fatalf("after the burst: %v, wait %v; want refused, 2s", ok, wait)
	}
	if ok, _ := b.Take("b", t0); !ok {
		t.Fatal("another key was refused")
	}
	if ok, wait := b.Take("a", t0.Add(time.Second)); ok || wait != time.Second {
		t.Fatalf("half an interval later: %v, wait %v; want refused, 1s", ok, wait)
	}
	if ok, _ := b.Take("a", t0.Add(2*time.Second)); !ok {
		t.Fatal("a full interval later: refused")
	}
	if ok, _ := b.Take("a", t0.Add(2*time.Second)); ok {
		t.Fatal("two tokens from one interval")
	}
	// A long pause refills to the burst, not beyond.
	later := t0.Add(time.Hour)
	for i := range 3 {
		if ok, _ := b.Take("a", later); !ok {
			t.Fatalf("after an hour, token %d refused", i+1)
		}
	}
	if ok, _ := b.Take("a", later); ok {
		t.Fatal("an hour refilled more than the burst")
	}
}

func TestKeysAreBounded(t *testing.T) {
	b := New(2, time.Minute, 10)
	now := time.Unix(1000, 0)
	for i := range 1000 {
		b.Take(string(rune('a'+i%26))+string(rune(i)), now)
		if n := len(b.buckets); n > 10 {
			t.Fatalf("%d buckets held, bound 10", n)
		}
	}
	// Making room forgets the keys that are full again, not a spent one.
	b = New(1, time.Minute, 2)
	b.Take("old", now)
	later := now.Add(time.Minute) // old is full again by now
	b.Take("spent", later)
	if ok, _ := b.Take("new", later); !ok {
		t.Fatal("a new key was refused")
	}
	if ok, _ := b.Take("spent", later); ok {
		t.Fatal("making room forgot a spent key")
	}
}
