package metadatatest

import (
	"sync"
	"testing"

	"github.com/xmppmedia/mediaserver/storage"
)

// RunLedger checks a store's storage.UploadLedger: usage sums (pending
// items with their begun size, other entities apart), the oldest items
// first for expiry, and a secret generated once however many ask at once.
func RunLedger(t *testing.T, newStore func(t *testing.T) storage.Metadata) {
	s := newStore(t)
	l, ok := s.(storage.UploadLedger)
	if !ok {
		t.Fatalf("%T is not a storage.UploadLedger", s)
	}
	ctx := ctxOf(t)
	const svc = "media.example.org"
	add := func(entity, id, author string, size int64, sec int, committed bool) {
		t.Helper()
		m := item(entity, id, at(sec))
		m.Author, m.Size = author, size
		if committed {
			commit(t, s, m, false)
		} else if err := s.Begin(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	add(svc, "old", "alice@example.org", 100, 0, true)
	add(svc, "new", "alice@example.org", 20, 100, true)
	add(svc, "flight", "alice@example.org", 3, 200, false)
	add(svc, "bobs", "bob@example.org", 4000, 50, true)
	add("alice@example.org", "chan", "alice@example.org", 50000, 100, true)

	u, err := l.UploadUsage(ctx, svc, "alice@example.org", at(100))
	if err != nil {
		t.Fatal(err)
	}
	if want := (storage.Usage{AuthorSince: 23, Author: 123, Total: 4123}); u != want {
		t.Fatalf("UploadUsage = %+v, want %+v", u, want)
	}
	if u, err := l.UploadUsage(ctx, "nobody.example.org", "alice@example.org", at(0)); err != nil || u != (storage.Usage{}) {
		t.Fatalf("usage of an empty entity: %+v %v", u, err)
	}

	old, err := l.UploadedBefore(ctx, svc, at(100), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(old) != 2 || old[0].ID != "old" || old[1].ID != "bobs" {
		t.Fatalf("UploadedBefore(100) = %v, want old then bobs", ids(old))
	}
	if one, err := l.UploadedBefore(ctx, svc, at(1000), 1); err != nil || len(one) != 1 || one[0].ID != "old" {
		t.Fatalf("UploadedBefore with max 1 = %v, %v", ids(one), err)
	}

	var wg sync.WaitGroup
	got := make([]string, 8)
	errs := make([]error, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = l.Secret(ctx, "key", func() (string, error) { return "value-" + string(rune('a'+i)), nil })
		}()
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil || got[i] != got[0] || got[0] == "" {
			t.Fatalf("Secret from 8 callers at once: %q %v", got, errs)
		}
	}
	if again, err := l.Secret(ctx, "key", func() (string, error) { return "later", nil }); err != nil || again != got[0] {
		t.Fatalf("Secret again = %q %v, want %q", again, err, got[0])
	}
}
