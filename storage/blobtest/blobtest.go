// Package blobtest is the conformance suite every storage.Blobs passes.
// Each backend's test calls Run with a constructor for an empty store.
package blobtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/xmppmedia/mediaserver/storage"
)

// Run runs the suite. newStore returns a fresh, empty store; the test
// cleans it up through t.Cleanup.
func Run(t *testing.T, newStore func(t *testing.T) storage.Blobs) {
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, newStore(t)) })
	t.Run("Missing", func(t *testing.T) { testMissing(t, newStore(t)) })
	t.Run("Replace", func(t *testing.T) { testReplace(t, newStore(t)) })
	t.Run("Remove", func(t *testing.T) { testRemove(t, newStore(t)) })
	t.Run("InvalidKeys", func(t *testing.T) { testInvalidKeys(t, newStore(t)) })
	t.Run("FailedPutKeepsNothing", func(t *testing.T) { testFailedPut(t, newStore(t)) })
	t.Run("FailedReplaceKeepsOld", func(t *testing.T) { testFailedReplace(t, newStore(t)) })
	t.Run("CancelledPut", func(t *testing.T) { testCancelledPut(t, newStore(t)) })
	t.Run("Range", func(t *testing.T) { testRange(t, newStore(t)) })
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, newStore(t)) })
	t.Run("PolicyLimit", func(t *testing.T) { testPolicyLimit(t, newStore(t)) })
	t.Run("OpenFile", func(t *testing.T) { testOpenFile(t, newStore(t)) })
}

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func mustGet(t *testing.T, s storage.Fetcher, key string) []byte {
	t.Helper()
	rc, size, err := s.Fetch(context.Background(), key)
	if err != nil {
		t.Fatalf("Fetch(%q): %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	if int64(len(b)) != size {
		t.Fatalf("Fetch(%q) reported size %d, read %d bytes", key, size, len(b))
	}
	return b
}

func mustPut(t *testing.T, s storage.Putter, key string, data []byte) {
	t.Helper()
	n, err := s.Put(context.Background(), key, bytes.NewReader(data))
	if err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
	if n != int64(len(data)) {
		t.Fatalf("Put(%q) = %d bytes, want %d", key, n, len(data))
	}
}

func assertMissing(t *testing.T, s storage.Fetcher, key string) {
	t.Helper()
	rc, _, err := s.Fetch(context.Background(), key)
	if err == nil {
		rc.Close()
		t.Fatalf("Fetch(%q) found a blob, want ErrNotFound", key)
	}
	if !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Fetch(%q) = %v, want ErrNotFound", key, err)
	}
}

func testRoundTrip(t *testing.T, s storage.Blobs) {
	for _, tc := range []struct {
		key  string
		size int
	}{
		{"empty", 0},
		{"one/byte", 1},
		{"a/b/c/d.e_f-g", 4096},
		{"large/blob", 9<<20 + 17}, // over one S3 part
	} {
		t.Run(tc.key, func(t *testing.T) {
			data := randomBytes(t, tc.size)
			mustPut(t, s, tc.key, data)
			if got := mustGet(t, s, tc.key); !bytes.Equal(got, data) {
				t.Fatalf("Fetch(%q) returned different bytes (%d, want %d)", tc.key, len(got), len(data))
			}
		})
	}
}

func testMissing(t *testing.T, s storage.Blobs) {
	assertMissing(t, s, "never/written")
	mustPut(t, s, "dir/present", []byte("x"))
	assertMissing(t, s, "dir") // a key's prefix is not a blob
	assertMissing(t, s, "dir/present2")
}

func testReplace(t *testing.T, s storage.Blobs) {
	mustPut(t, s, "k", []byte("first version, longer"))
	mustPut(t, s, "k", []byte("second"))
	if got := string(mustGet(t, s, "k")); got != "second" {
		t.Fatalf("after replace got %q", got)
	}
}

func testRemove(t *testing.T, s storage.Blobs) {
	ctx := context.Background()
	mustPut(t, s, "r/one", []byte("1"))
	mustPut(t, s, "r/two", []byte("2"))
	mustPut(t, s, "r/keep", []byte("3"))
	if err := s.Remove(ctx, "r/one", "r/two", "r/missing"); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	assertMissing(t, s, "r/one")
	assertMissing(t, s, "r/two")
	if got := string(mustGet(t, s, "r/keep")); got != "3" {
		t.Fatalf("unrelated blob changed: %q", got)
	}
	if err := s.Remove(ctx, "r/one"); err != nil {
		t.Fatalf("removing a missing blob: %v, want nil", err)
	}
	if err := s.Remove(ctx); err != nil {
		t.Fatalf("Remove of no keys: %v", err)
	}
}

func testInvalidKeys(t *testing.T, s storage.Blobs) {
	ctx := context.Background()
	for _, key := range []string{"", "../escape", "a/../../b", "/abs", "a//b", ".hidden", "a/.tmp-x", "sp ace", "a\\b", "nul\x00", "%2e%2e"} {
		if _, err := s.Put(ctx, key, bytes.NewReader([]byte("x"))); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Put(%q) = %v, want ErrInvalidKey", key, err)
		}
		if rc, _, err := s.Fetch(ctx, key); !errors.Is(err, storage.ErrInvalidKey) {
			if err == nil {
				rc.Close()
			}
			t.Errorf("Fetch(%q) = %v, want ErrInvalidKey", key, err)
		}
	}
}

// failingReader yields n bytes and then an error, like a client that
// disconnects mid-upload.
type failingReader struct {
	data []byte
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

var errClientGone = errors.New("client went away")

func testFailedPut(t *testing.T, s storage.Blobs) {
	_, err := s.Put(context.Background(), "half/written", &failingReader{randomBytes(t, 6<<20), errClientGone})
	if !errors.Is(err, errClientGone) {
		t.Fatalf("Put with failing reader = %v, want the reader's error", err)
	}
	assertMissing(t, s, "half/written")
}

func testFailedReplace(t *testing.T, s storage.Blobs) {
	mustPut(t, s, "keep/old", []byte("old"))
	if _, err := s.Put(context.Background(), "keep/old", &failingReader{[]byte("new but partial"), errClientGone}); err == nil {
		t.Fatal("Put with failing reader succeeded")
	}
	if got := string(mustGet(t, s, "keep/old")); got != "old" {
		t.Fatalf("failed replace damaged the old blob: %q", got)
	}
}

func testCancelledPut(t *testing.T, s storage.Blobs) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	go func() {
		pw.Write(randomBytes(t, 64<<10))
		cancel()
		// Keep offering data: the store must stop because of ctx.
		for i := 0; i < 64; i++ {
			if _, err := pw.Write(make([]byte, 64<<10)); err != nil {
				return
			}
		}
		pw.CloseWithError(errClientGone)
	}()
	if _, err := s.Put(ctx, "cancelled", pr); err == nil {
		t.Fatal("Put with cancelled context succeeded")
	}
	pr.Close()
	assertMissing(t, s, "cancelled")
}

func testRange(t *testing.T, s storage.Blobs) {
	data := randomBytes(t, 100_000)
	mustPut(t, s, "ranged", data)
	for _, r := range [][2]int64{{0, 1}, {0, 100_000}, {99_999, 1}, {12_345, 50_000}, {500, 0}} {
		rc, err := storage.FetchRange(context.Background(), s, "ranged", r[0], r[1])
		if err != nil {
			t.Fatalf("FetchRange(%d, %d): %v", r[0], r[1], err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("read range: %v", err)
		}
		if !bytes.Equal(got, data[r[0]:r[0]+r[1]]) {
			t.Fatalf("FetchRange(%d, %d) returned %d wrong bytes", r[0], r[1], len(got))
		}
	}
	if _, err := storage.FetchRange(context.Background(), s, "no/such", 0, 1); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("FetchRange of missing blob = %v, want ErrNotFound", err)
	}
}

func testConcurrent(t *testing.T, s storage.Blobs) {
	const n = 16
	datas := make([][]byte, n)
	for i := range datas {
		datas[i] = randomBytes(t, 32<<10+i)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if _, err := s.Put(context.Background(), fmt.Sprintf("conc/%d", i), bytes.NewReader(datas[i])); err != nil {
				errs <- err
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent Put: %v", err)
	}
	for i := 0; i < n; i++ {
		if got := mustGet(t, s, fmt.Sprintf("conc/%d", i)); !bytes.Equal(got, datas[i]) {
			t.Fatalf("blob %d damaged by concurrent writes", i)
		}
	}
}

func testPolicyLimit(t *testing.T, s storage.Blobs) {
	p := &storage.Policy{Blobs: s, MaxBytes: 1 << 20}
	ctx := context.Background()
	data := randomBytes(t, 1<<20)
	sum, err := p.PutSum(ctx, "limit/exact", bytes.NewReader(data))
	if err != nil {
		t.Fatalf("PutSum at the limit: %v", err)
	}
	if sum.Size != 1<<20 || len(sum.SHA1) != 40 {
		t.Fatalf("PutSum = %+v", sum)
	}
	if _, err := p.PutSum(ctx, "limit/over", bytes.NewReader(randomBytes(t, 1<<20+1))); !errors.Is(err, storage.ErrTooLarge) {
		t.Fatalf("PutSum over the limit = %v, want ErrTooLarge", err)
	}
	assertMissing(t, s, "limit/over")
}

// testOpenFile checks the optional storage.FileOpener: the file holds what
// Fetch reads, a missing blob is ErrNotFound, a bad key is refused.
func testOpenFile(t *testing.T, s storage.Blobs) {
	fo, ok := s.(storage.FileOpener)
	if !ok {
		t.Skip("the store has no storage.FileOpener")
	}
	ctx := context.Background()
	data := randomBytes(t, 100_000)
	mustPut(t, s, "open/blob", data)
	f, err := fo.OpenFile(ctx, "open/blob")
	if err != nil {
		t.Fatalf("OpenFile: %v", err)
	}
	got, err := io.ReadAll(f)
	f.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("OpenFile read %d bytes (%v), want the %d stored", len(got), err, len(data))
	}
	if _, err := fo.OpenFile(ctx, "open/missing"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("OpenFile of a missing blob: %v, want ErrNotFound", err)
	}
	if _, err := fo.OpenFile(ctx, "../escape"); !errors.Is(err, storage.ErrInvalidKey) {
		t.Fatalf("OpenFile of an invalid key: %v, want ErrInvalidKey", err)
	}
}
