package mediasvc

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xmppmedia/mediaserver/auth"
	"github.com/xmppmedia/mediaserver/storage"
	"github.com/xmppmedia/mediaserver/storage/disk"
	"github.com/xmppmedia/mediaserver/storage/sqlite"
	"github.com/xmppmedia/mediaserver/transform"
)

// recordedMetrics keeps what the server reported.
type recordedMetrics struct {
	mu       sync.Mutex
	requests []observedRequest
	uploads  []int64
	previews []string
}

type observedRequest struct {
	route, method string
	status        int
	in, out       int64
}

func (m *recordedMetrics) ObserveRequest(route, method string, status int, d time.Duration, in, out int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests = append(m.requests, observedRequest{route, method, status, in, out})
}

func (m *recordedMetrics) ObserveUpload(n int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.uploads = append(m.uploads, n)
}

func (m *recordedMetrics) ObservePreview(when string, d time.Duration, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err == nil {
		m.previews = append(m.previews, when)
	}
}

func (m *recordedMetrics) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.requests)
}

// after waits for the observation following the first n: the hook runs
// when the handler returns, which may be just after the client has read
// the whole answer.
func (m *recordedMetrics) after(t *testing.T, n int) observedRequest {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for m.count() <= n {
		if time.Now().After(deadline) {
			t.Fatalf("request %d was never observed", n+1)
		}
		time.Sleep(time.Millisecond)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.requests[n]
}

// The metrics hook sees route patterns, never raw paths (which carry
// entity names and media ids), with the status and the bytes moved.
func TestMetricsHookRoutes(t *testing.T) {
	e := newEnv(t)
	rec := &recordedMetrics{}
	e.srv.metrics = rec
	photo := jpegImage(t, 800, 600)
	m := e.mustUpload(privateChan, alice, photo, "image/jpeg")
	up := rec.after(t, 0)
	if up.route != "/{entity}" || up.method != "POST" || up.status != http.StatusCreated || up.in < int64(len(photo)) {
		t.Errorf("upload observed as %+v, want route /{entity} POST 201 with at least %d bytes in", up, len(photo))
	}
	rec.mu.Lock()
	if len(rec.uploads) != 1 || rec.uploads[0] != int64(len(photo)) {
		t.Errorf("uploads observed %v, want [%d]", rec.uploads, len(photo))
	}
	if len(rec.previews) != 1 || rec.previews[0] != "upload" {
		t.Errorf("previews observed %v, want [upload]", rec.previews)
	}
	rec.mu.Unlock()

	for _, tc := range []struct {
		method, path, route string
		status              int
	}{
		{"GET", "/" + privateChan + "/" + m.ID, "/{entity}/{mediaID}", 200},
		{"GET", "/" + privateChan + "/" + m.ID + "?maxwidth=64", "/{entity}/{mediaID}", 200},
		{"GET", "/" + privateChan + "/" + m.ID + "?maxwidth=100", "/{entity}/{mediaID}", 200},
		{"GET", "/" + privateChan + "/" + m.ID + "/metadata", "/{entity}/{mediaID}/metadata", 200},
		{"GET", "/" + privateChan, "/{entity}", 200},
		{"GET", "/healthz", "/healthz", 200},
		{"GET", "/a/b/c/d", "unmatched", 404},
		{"OPTIONS", "/" + privateChan, "preflight", 204},
	} {
		n := rec.count()
		resp, body := e.do(tc.method, tc.path, alice, nil, nil)
		got := rec.after(t, n)
		if resp.StatusCode != tc.status || got.route != tc.route || got.status != tc.status || got.method != tc.method {
			t.Errorf("%s %s: observed %+v (answer %d), want route %s status %d", tc.method, tc.path, got, resp.StatusCode, tc.route, tc.status)
		}
		if got.out != int64(len(body)) {
			t.Errorf("%s %s: observed %d bytes out, body has %d", tc.method, tc.path, got.out, len(body))
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	// 64x64 is a stored box made on its first request; 100x100 is not
	// stored, so derived from the stored 240x320.
	if n := len(rec.previews); n != 3 || rec.previews[1] != "on_demand" || rec.previews[2] != "derived" {
		t.Errorf("previews observed %v, want [upload on_demand derived]", rec.previews)
	}
}

// pingedBlobs is a disk store that reports itself unreachable on demand,
// as an S3 bucket does during an outage.
type pingedBlobs struct {
	storage.Blobs
	down atomic.Bool
}

func (b *pingedBlobs) Ping(context.Context) error {
	if b.down.Load() {
		return errors.New("bucket unreachable")
	}
	return nil
}

// Readiness includes a blob store that can be pinged (S3), and says which
// check failed.
func TestReadyzChecksPingableBlobStore(t *testing.T) {
	dir := t.TempDir()
	disk, err := disk.New(disk.Config{Root: filepath.Join(dir, "media")})
	if err != nil {
		t.Fatal(err)
	}
	meta, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(dir, "media.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { meta.Close() })
	images, err := transform.New(transform.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	blobs := &pingedBlobs{Blobs: disk}
	channels, confirm := newFixtureAuth()
	srv, err := New(DefaultConfig(), Deps{Blobs: blobs, Metadata: meta, Images: images, Auth: &auth.Guard{Channels: channels, Confirmer: confirm}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptestServer(t, srv)
	for _, tc := range []struct {
		down       bool
		wantStatus int
		wantBlobs  string
	}{{false, 200, "ok"}, {true, 503, "unavailable"}, {false, 200, "ok"}} {
		blobs.down.Store(tc.down)
		resp, err := http.Get(hs.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		var checks map[string]string
		json.NewDecoder(resp.Body).Decode(&checks)
		resp.Body.Close()
		if resp.StatusCode != tc.wantStatus || checks["blobs"] != tc.wantBlobs || checks["metadata"] != "ok" {
			t.Errorf("blob store down=%v: readyz %d %v, want %d with blobs %s", tc.down, resp.StatusCode, checks, tc.wantStatus, tc.wantBlobs)
		}
	}
}
