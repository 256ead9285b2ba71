package mediasvc

import (
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// patternReader yields n bytes without holding them.
type patternReader struct{ left int64 }

func (p *patternReader) Read(b []byte) (int, error) {
	if p.left == 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > p.left {
		b = b[:p.left]
	}
	for i := range b {
		b[i] = byte(i * 7)
	}
	p.left -= int64(len(b))
	return len(b), nil
}

// streamUpload posts a size-byte file as multipart, generated on the fly,
// and samples the heap while it runs. It returns the peak growth of the
// in-use heap over the level before the upload.
func streamUpload(t testing.TB, e *env, size int64) (time.Duration, uint64) {
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
		}
	}()

	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		mw.WriteField("content-type", "application/octet-stream")
		w, _ := mw.CreateFormFile("data", "big.bin")
		io.Copy(w, &patternReader{left: size})
		mw.Close()
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", e.url("/"+privateChan), pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Basic "+cred(alice))
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	elapsed := time.Since(start)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload status %d", resp.StatusCode)
	}
	growth := uint64(0)
	if p := peak.Load(); p > before.HeapInuse {
		growth = p - before.HeapInuse
	}
	return elapsed, growth
}

// TestLargeUploadHeapBounded: a 100 MB upload never holds its body in
// memory.
func TestLargeUploadHeapBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("100 MB upload skipped in -short mode")
	}
	e := newEnv(t, func(c *Config) { c.MaxUploadBytes = 200 << 20 })
	const size = 100 << 20
	elapsed, growth := streamUpload(t, e, size)
	t.Logf("100 MB upload: %.0f MB/s, heap growth %.1f MB", float64(size)/1e6/elapsed.Seconds(), float64(growth)/(1<<20))
	if growth > 16<<20 {
		t.Fatalf("heap grew %.1f MB during a 100 MB upload, want < 16 MB", float64(growth)/(1<<20))
	}
}

// BenchmarkUpload100MB reports throughput and heap growth of a 100 MB
// multipart upload to the disk store over real HTTP.
func BenchmarkUpload100MB(b *testing.B) {
	e := newEnv(b, func(c *Config) { c.MaxUploadBytes = 200 << 20 })
	const size = 100 << 20
	b.SetBytes(size)
	var worst uint64
	for i := 0; i < b.N; i++ {
		_, growth := streamUpload(b, e, size)
		worst = max(worst, growth)
	}
	b.ReportMetric(float64(worst)/(1<<20), "heap-growth-MB")
}

// BenchmarkServeStoredPreview is the handler's work for a stored 320x480
// preview, open channel and private channel with an accepted confirmation,
// without the network (TestServingSpeed in cmd/mediaserver measures the
// whole process against a bare file server). Its allocations per request
// are the hot path's.
func BenchmarkServeStoredPreview(b *testing.B) {
	e := newEnv(b)
	photo := jpegImage(b, 1200, 900)
	h := e.srv.Handler()
	for _, tc := range []struct{ name, entity, user string }{
		{"open", openChan, ""},
		{"private", privateChan, carol},
	} {
		m := e.mustUpload(tc.entity, alice, photo, "image/jpeg")
		req := httptest.NewRequest("GET", "/"+tc.entity+"/"+m.ID+"?maxwidth=320&maxheight=480", nil)
		if tc.user != "" {
			req.Header.Set("Authorization", "Basic "+cred(tc.user))
		}
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d", w.Code)
				}
			}
		})
	}
}
