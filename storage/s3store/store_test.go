package s3store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xmppmedia/mediaserver/storage"
	"github.com/xmppmedia/mediaserver/storage/s3store"
	"github.com/xmppmedia/mediaserver/storage/s3test"
)

// These tests run against a real Versity S3 Gateway on loopback.

func TestRoundTrip(t *testing.T) {
	srv := s3test.StartServer(t)
	store := newStore(t, srv.Config)
	ctx := context.Background()

	tests := []struct {
		name string
		size int64
	}{
		{"empty", 0},
		{"small", 11},
		{"one byte short of a part", partSize - 1},
		{"exactly one part", partSize},
		{"two and a half parts", 2*partSize + partSize/2},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := fmt.Sprintf("items/%d/original", i)
			n, err := store.Put(ctx, key, body(uint64(i), tc.size))
			if err != nil {
				t.Fatalf("Put: %v", err)
			}
			if n != tc.size {
				t.Errorf("Put stored %d bytes, want %d", n, tc.size)
			}
			rc, size, err := store.Fetch(ctx, key)
			if err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			defer rc.Close()
			if size != tc.size {
				t.Errorf("Fetch size %d, want %d", size, tc.size)
			}
			got, gotN := digest(t, rc)
			want, _ := digest(t, body(uint64(i), tc.size))
			if gotN != tc.size || got != want {
				t.Errorf("Fetch returned %d bytes that differ from the %d put", gotN, tc.size)
			}
		})
	}
	if uploads := srv.Uploads(t, srv.Config.Bucket); len(uploads) > 0 {
		t.Errorf("unfinished multipart uploads left: %v", uploads)
	}
}

func TestPutReplaces(t *testing.T) {
	srv := s3test.StartServer(t)
	store := newStore(t, srv.Config)
	ctx := context.Background()
	for _, content := range []string{"first version", "second"} {
		if _, err := store.Put(ctx, "k", strings.NewReader(content)); err != nil {
			t.Fatalf("Put %q: %v", content, err)
		}
	}
	rc, _, err := store.Fetch(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if got, _ := io.ReadAll(rc); string(got) != "second" {
		t.Errorf("Fetch after replacing = %q, want %q", got, "second")
	}
}

func TestFetchRange(t *testing.T) {
	srv := s3test.StartServer(t)
	store := newStore(t, srv.Config)
	ctx := context.Background()
	// A multipart object, so that ranges cross a part boundary.
	const size = partSize + partSize/2
	want := bodyBytes(t, 7, size)
	if _, err := store.Put(ctx, "video", bytes.NewReader(want)); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name           string
		offset, length int64
	}{
		{"first byte", 0, 1},
		{"middle", 1000, 4096},
		{"across the part boundary", partSize - 10, 20},
		{"last byte", size - 1, 1},
		{"whole", 0, size},
		{"empty at the end", size, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rc, err := store.FetchRange(ctx, "video", tc.offset, tc.length)
			if err != nil {
				t.Fatalf("FetchRange(%d, %d): %v", tc.offset, tc.length, err)
			}
			defer rc.Close()
			got, err := io.ReadAll(rc)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want[tc.offset:tc.offset+tc.length]) {
				t.Errorf("FetchRange(%d, %d) returned %d bytes that differ from the blob's", tc.offset, tc.length, len(got))
			}
		})
	}

	bad := []struct {
		name           string
		offset, length int64
	}{
		{"runs past the end", size - 5, 10},
		{"starts past the end", size + 1, 1},
		{"negative offset", -1, 1},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			rc, err := store.FetchRange(ctx, "video", tc.offset, tc.length)
			if err == nil {
				rc.Close()
				t.Fatalf("FetchRange(%d, %d) succeeded, want an error", tc.offset, tc.length)
			}
			if errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrUnavailable) {
				t.Errorf("FetchRange(%d, %d) = %v, want a range error, not not-found or unavailable", tc.offset, tc.length, err)
			}
		})
	}
}

func TestMissingKey(t *testing.T) {
	srv := s3test.StartServer(t)
	store := newStore(t, srv.Config)
	ctx := context.Background()
	if _, _, err := store.Fetch(ctx, "no/such/blob"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Fetch of a missing key = %v, want ErrNotFound", err)
	}
	for _, length := range []int64{1, 0} {
		if _, err := store.FetchRange(ctx, "no/such/blob", 0, length); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("FetchRange(0, %d) of a missing key = %v, want ErrNotFound", length, err)
		}
	}
}

func TestRemove(t *testing.T) {
	srv := s3test.StartServer(t)
	store := newStore(t, srv.Config)
	ctx := context.Background()

	if err := store.Remove(ctx, "never/stored"); err != nil {
		t.Errorf("Remove of a missing key: %v", err)
	}
	if err := store.Remove(ctx); err != nil {
		t.Errorf("Remove of no keys: %v", err)
	}

	// More keys than one DeleteObjects request takes, with blobs at both
	// ends of the first batch and in the second, plus one to keep.
	keys := make([]string, 1500)
	for i := range keys {
		keys[i] = fmt.Sprintf("item/%04d", i)
	}
	stored := []string{keys[0], keys[999], keys[1000], keys[1499]}
	for _, key := range append(slices.Clone(stored), "kept") {
		if _, err := store.Put(ctx, key, strings.NewReader(key)); err != nil {
			t.Fatal(err)
		}
	}
	for attempt := range 2 { // the second time, all are missing already
		if err := store.Remove(ctx, keys...); err != nil {
			t.Fatalf("Remove of %d keys (attempt %d): %v", len(keys), attempt+1, err)
		}
	}
	for _, key := range stored {
		if _, _, err := store.Fetch(ctx, key); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Fetch %s after Remove = %v, want ErrNotFound", key, err)
		}
	}
	if got := srv.Objects(t, srv.Config.Bucket); !slices.Equal(got, []string{"kept"}) {
		t.Errorf("objects left after Remove: %v, want only [kept]", got)
	}
}

func TestPrefixIsolation(t *testing.T) {
	srv := s3test.StartServer(t)
	ctx := context.Background()
	stores := map[string]*s3store.Store{}
	for _, prefix := range []string{"", "tenant-a", "/tenant-b/"} {
		cfg := srv.Config
		cfg.Prefix = prefix
		stores[prefix] = newStore(t, cfg)
		if _, err := stores[prefix].Put(ctx, "item/1", strings.NewReader("from "+prefix)); err != nil {
			t.Fatalf("Put with prefix %q: %v", prefix, err)
		}
	}

	wantObjects := []string{"item/1", "tenant-a/item/1", "tenant-b/item/1"}
	if got := srv.Objects(t, srv.Config.Bucket); !slices.Equal(got, wantObjects) {
		t.Errorf("objects in bucket = %v, want %v", got, wantObjects)
	}
	for prefix, store := range stores {
		rc, _, err := store.Fetch(ctx, "item/1")
		if err != nil {
			t.Fatalf("Fetch with prefix %q: %v", prefix, err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if string(got) != "from "+prefix {
			t.Errorf("Fetch with prefix %q = %q, want %q", prefix, got, "from "+prefix)
		}
	}

	if err := stores["tenant-a"].Remove(ctx, "item/1"); err != nil {
		t.Fatal(err)
	}
	wantObjects = []string{"item/1", "tenant-b/item/1"}
	if got := srv.Objects(t, srv.Config.Bucket); !slices.Equal(got, wantObjects) {
		t.Errorf("objects after removing under tenant-a = %v, want %v", got, wantObjects)
	}
}

func TestInvalidKeysRefused(t *testing.T) {
	srv := s3test.StartServer(t)
	store := newStore(t, srv.Config)
	ctx := context.Background()
	for _, key := range []string{"", "/abs", "a//b", "../escape", "a/../b", ".hidden", "a/.b", "sp ace", "ümlaut", "a/", strings.Repeat("x", 513)} {
		t.Run(fmt.Sprintf("%.20q", key), func(t *testing.T) {
			if _, err := store.Put(ctx, key, strings.NewReader("x")); !errors.Is(err, storage.ErrInvalidKey) {
				t.Errorf("Put = %v, want ErrInvalidKey", err)
			}
			if _, _, err := store.Fetch(ctx, key); !errors.Is(err, storage.ErrInvalidKey) {
				t.Errorf("Fetch = %v, want ErrInvalidKey", err)
			}
			if _, err := store.FetchRange(ctx, key, 0, 1); !errors.Is(err, storage.ErrInvalidKey) {
				t.Errorf("FetchRange = %v, want ErrInvalidKey", err)
			}
			if err := store.Remove(ctx, "valid", key); !errors.Is(err, storage.ErrInvalidKey) {
				t.Errorf("Remove = %v, want ErrInvalidKey", err)
			}
		})
	}
	if got := srv.Objects(t, srv.Config.Bucket); len(got) > 0 {
		t.Errorf("invalid keys stored objects: %v", got)
	}
}

// A Put that fails part way leaves what was there before: nothing, or the
// previous version, and no unfinished upload.
func TestFailedPutLeavesPreviousState(t *testing.T) {
	srv := s3test.StartServer(t)
	ctx := context.Background()

	tests := []struct {
		name     string
		previous string // "" for none
		// put runs the failing Put.
		put func(store *s3store.Store, key string) error
	}{
		{"reader fails in the first part", "", func(store *s3store.Store, key string) error {
			_, err := store.Put(ctx, key, &failingReader{r: body(1, 1<<20), n: 1000, err: errReaderBroke})
			return err
		}},
		{"reader fails in the third part", "", func(store *s3store.Store, key string) error {
			_, err := store.Put(ctx, key, &failingReader{r: body(1, 4*partSize), n: 2*partSize + 100, err: errReaderBroke})
			return err
		}},
		{"reader fails over an older version", "old version", func(store *s3store.Store, key string) error {
			_, err := store.Put(ctx, key, &failingReader{r: body(1, 4*partSize), n: 2*partSize + 100, err: errReaderBroke})
			return err
		}},
		{"context cancelled mid upload", "old version", func(store *s3store.Store, key string) error {
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			r := newSlowReader(body(1, 4*partSize), partSize+partSize/2)
			go func() {
				<-r.reached
				cancel()
			}()
			_, err := store.Put(ctx, key, r)
			if err != nil && !errors.Is(err, context.Canceled) {
				return fmt.Errorf("%w (want an error wrapping context.Canceled)", storage.ErrUnavailable)
			}
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store := newStore(t, srv.NewBucket(t))
			if tc.previous != "" {
				if _, err := store.Put(ctx, "item", strings.NewReader(tc.previous)); err != nil {
					t.Fatal(err)
				}
			}
			err := tc.put(store, "item")
			if err == nil {
				t.Fatal("Put succeeded, want an error")
			}
			t.Logf("Put: %v", err)
			if errors.Is(err, storage.ErrUnavailable) {
				t.Errorf("Put = %v; a failing body is not the store being unavailable", err)
			}

			rc, _, err := store.Fetch(ctx, "item")
			switch {
			case tc.previous == "" && !errors.Is(err, storage.ErrNotFound):
				t.Errorf("Fetch after the failed Put = %v, want ErrNotFound", err)
			case tc.previous != "" && err != nil:
				t.Errorf("Fetch after the failed Put: %v, want the old version", err)
			case tc.previous != "":
				got, _ := io.ReadAll(rc)
				rc.Close()
				if string(got) != tc.previous {
					t.Errorf("Fetch after the failed Put = %.40q, want the old version %q", got, tc.previous)
				}
			}
		})
	}
	// Each subtest used its own bucket; none may hold an unfinished upload.
	for i := 1; i <= len(tests); i++ {
		bucket := fmt.Sprintf("bucket-%d", i)
		if uploads := srv.Uploads(t, bucket); len(uploads) > 0 {
			t.Errorf("unfinished multipart uploads left in %s: %v", bucket, uploads)
		}
	}
}

// The S3 server goes away in the middle of an upload: the Put fails as
// unavailable in bounded time, nothing is visible once the server is back,
// and uploads work again.
func TestServerStoppedMidPut(t *testing.T) {
	tests := []struct {
		name string
		size int64 // of the body being uploaded
	}{
		{"single request body", partSize / 2},
		{"multipart body", 4 * partSize},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := s3test.StartServer(t)
			cfg := srv.Config
			cfg.RequestTimeout = 2 * time.Second
			cfg.MaxAttempts = 2
			store := newStore(t, cfg)
			ctx := context.Background()

			// Stop the server once over a part has been read (and so is
			// being uploaded, for the multipart body).
			r := newSlowReader(body(3, tc.size), min(tc.size/2, partSize+partSize/4))
			go func() {
				<-r.reached
				srv.Stop()
			}()
			start := time.Now()
			_, err := store.Put(ctx, "item", r)
			elapsed := time.Since(start)
			if !errors.Is(err, storage.ErrUnavailable) {
				t.Fatalf("Put with the server stopped = %v, want ErrUnavailable", err)
			}
			t.Logf("Put failed after %v: %v", elapsed.Round(time.Millisecond), err)
			// Reading the whole body takes ~1.3 s at the slow reader's
			// pace; the rest is the bounded retries.
			if limit := 20 * time.Second; elapsed > limit {
				t.Errorf("Put took %v to fail, want under %v", elapsed, limit)
			}

			// While down, reads fail as unavailable too, not as missing.
			if _, _, err := store.Fetch(ctx, "item"); !errors.Is(err, storage.ErrUnavailable) {
				t.Errorf("Fetch with the server stopped = %v, want ErrUnavailable", err)
			}
			if err := store.Ping(ctx); !errors.Is(err, storage.ErrUnavailable) {
				t.Errorf("Ping with the server stopped = %v, want ErrUnavailable", err)
			}

			srv.Restart()
			if err := store.Ping(ctx); err != nil {
				t.Fatalf("Ping after restart: %v", err)
			}
			if got := srv.Objects(t, cfg.Bucket); len(got) > 0 {
				t.Errorf("objects listed after the failed Put: %v, want none", got)
			}
			if _, _, err := store.Fetch(ctx, "item"); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("Fetch after the failed Put = %v, want ErrNotFound", err)
			}
			// The abort could not reach the stopped server; Sweep (at
			// start-up) finishes the job.
			s3store.SetStaleUploadAge(store, 0)
			if _, err := store.Sweep(ctx); err != nil {
				t.Fatalf("Sweep: %v", err)
			}
			if uploads := srv.Uploads(t, cfg.Bucket); len(uploads) > 0 {
				t.Errorf("unfinished uploads after Sweep: %v", uploads)
			}

			n, err := store.Put(ctx, "item", body(4, tc.size))
			if err != nil || n != tc.size {
				t.Fatalf("Put after restart = %d, %v; want %d, nil", n, err, tc.size)
			}
			rc, size, err := store.Fetch(ctx, "item")
			if err != nil {
				t.Fatalf("Fetch after restart: %v", err)
			}
			defer rc.Close()
			got, _ := digest(t, rc)
			want, _ := digest(t, body(4, tc.size))
			if size != tc.size || got != want {
				t.Errorf("Fetch after restart returned different bytes (size %d, want %d)", size, tc.size)
			}
		})
	}
}

// Sweep leaves uploads that may still be running on another server alone.
func TestSweepSparesRecentUploads(t *testing.T) {
	srv := s3test.StartServer(t)
	cfg := srv.Config
	cfg.RequestTimeout = time.Second
	cfg.MaxAttempts = 1
	store := newStore(t, cfg)
	ctx := context.Background()

	// Leave an unfinished upload behind: the abort cannot reach a server
	// that is down.
	r := newSlowReader(body(3, 3*partSize), partSize+partSize/4)
	go func() {
		<-r.reached
		srv.Stop()
	}()
	if _, err := store.Put(ctx, "item", r); err == nil {
		t.Fatal("Put with the server stopped succeeded")
	}
	srv.Restart()
	if uploads := srv.Uploads(t, cfg.Bucket); len(uploads) != 1 {
		t.Fatalf("unfinished uploads = %v, want one to sweep", uploads)
	}

	removed, err := store.Sweep(ctx)
	if err != nil || removed != 0 {
		t.Errorf("Sweep of a fresh upload = %d, %v; want 0, nil", removed, err)
	}
	s3store.SetStaleUploadAge(store, 0)
	removed, err = store.Sweep(ctx)
	if err != nil || removed != 1 {
		t.Errorf("Sweep of a stale upload = %d, %v; want 1, nil", removed, err)
	}
	if uploads := srv.Uploads(t, cfg.Bucket); len(uploads) > 0 {
		t.Errorf("unfinished uploads after Sweep: %v", uploads)
	}
}

func TestPing(t *testing.T) {
	srv := s3test.StartServer(t)
	ctx := context.Background()
	if err := newStore(t, srv.Config).Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
	cfg := srv.Config
	cfg.Bucket = "no-such-bucket"
	err := newStore(t, cfg).Ping(ctx)
	if err == nil || errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("Ping of a missing bucket = %v, want a plain error (misconfiguration, not an outage)", err)
	}
	cfg = srv.Config
	cfg.SecretAccessKey = "wrong-secret"
	err = newStore(t, cfg).Ping(ctx)
	if err == nil || errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("Ping with a wrong secret = %v, want a plain error", err)
	}
}

// The server goes away while a blob is being downloaded: the reader fails
// as unavailable instead of ending early as if the blob were shorter.
func TestServerStoppedMidFetch(t *testing.T) {
	srv := s3test.StartServer(t)
	cfg := srv.Config
	cfg.RequestTimeout = 2 * time.Second
	store := newStore(t, cfg)
	ctx := context.Background()
	const size = 4 * partSize
	if _, err := store.Put(ctx, "item", body(5, size)); err != nil {
		t.Fatal(err)
	}
	rc, _, err := store.Fetch(ctx, "item")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.CopyN(io.Discard, rc, 1<<20); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	n, err := io.Copy(io.Discard, rc)
	if !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("reading on after the server stopped: %d more bytes, error %v; want ErrUnavailable", n, err)
	}
}

// RequestTimeout bounds silence on the wire, not the whole download: a
// reader that pauses longer than the timeout between reads still gets the
// whole blob.
func TestSlowReaderOfFetchNotCutOff(t *testing.T) {
	srv := s3test.StartServer(t)
	cfg := srv.Config
	cfg.RequestTimeout = 500 * time.Millisecond
	store := newStore(t, cfg)
	ctx := context.Background()
	const size = 2 * partSize
	if _, err := store.Put(ctx, "item", body(6, size)); err != nil {
		t.Fatal(err)
	}
	rc, _, err := store.Fetch(ctx, "item")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	buf := make([]byte, 256<<10)
	var read int64
	for pauses := 0; ; pauses++ {
		if pauses < 3 {
			time.Sleep(cfg.RequestTimeout * 3 / 2)
		}
		n, err := rc.Read(buf)
		read += int64(n)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read after %d bytes: %v", read, err)
		}
	}
	if read != size {
		t.Errorf("read %d bytes, want %d", read, size)
	}
}
