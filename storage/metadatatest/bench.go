package metadatatest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xmppmedia/mediaserver/storage"
)

// Bench measures the operations an upload, a download and a channel page
// cost: Begin+Commit (serial and parallel), Get, a List page of 20 after a
// given item in a channel of 1000, and PutPreview. newStore returns an
// empty store and arranges for it to be closed (b.Cleanup).
func Bench(b *testing.B, newStore func(b *testing.B) storage.Metadata) {
	ctx := context.Background()
	b.Run("BeginCommit", func(b *testing.B) {
		s := newStore(b)
		i := 0
		for b.Loop() {
			m := item("bench@example.org", fmt.Sprintf("c%09d", i), at(i))
			i++
			if err := s.Begin(ctx, m); err != nil {
				b.Fatal(err)
			}
			if _, _, err := s.Commit(ctx, m, false); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("BeginCommitParallel", func(b *testing.B) {
		s := newStore(b)
		var n atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := int(n.Add(1))
				m := item("bench@example.org", fmt.Sprintf("p%09d", i), at(i))
				if err := s.Begin(ctx, m); err != nil {
					b.Error(err)
					return
				}
				if _, _, err := s.Commit(ctx, m, false); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})

	// A channel of 1000 items for the read benchmarks, filled once.
	const channel = 1000
	s := newStore(b)
	for i := range channel {
		m := item("bench@example.org", fmt.Sprintf("r%09d", i), at(i))
		if err := s.Begin(ctx, m); err != nil {
			b.Fatal(err)
		}
		if _, _, err := s.Commit(ctx, m, false); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("Get", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, err := s.Get(ctx, "bench@example.org", fmt.Sprintf("r%09d", i%channel)); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("GetParallel", func(b *testing.B) {
		var n atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := int(n.Add(1))
				if _, err := s.Get(ctx, "bench@example.org", fmt.Sprintf("r%09d", i%channel)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("ListPage20", func(b *testing.B) {
		for b.Loop() {
			page, err := s.List(ctx, "bench@example.org", storage.Page{Max: 20, After: "r000000500"})
			if err != nil || len(page) != 20 {
				b.Fatalf("List = %d items, %v", len(page), err)
			}
		}
	})
	b.Run("PutPreview", func(b *testing.B) {
		i := 0
		m := item("bench@example.org", "r000000001", at(1))
		for b.Loop() {
			p := preview(m, 100+i%50, 100)
			p.Created = time.Now()
			if err := s.PutPreview(ctx, p); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
