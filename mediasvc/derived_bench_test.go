package mediasvc

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/xmppmedia/mediaserver/transform"
)

// texturedJPEG is a w x h JPEG that compresses like a photo: smooth shapes
// with fine texture (a smooth image alone would make decoding look
// cheaper than it is; the stored 320x480 preview of this one is about the
// 15-30 KB of a real photo's).
func texturedJPEG(t testing.TB, w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	seed := uint32(1)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			seed = seed*1664525 + 1013904223
			n := float64(seed>>24)/255*40 - 20
			fx, fy := float64(x)/float64(w), float64(y)/float64(h)
			i := img.PixOffset(x, y)
			img.Pix[i] = clamp8(127 + 100*math.Sin(2*math.Pi*fx*3) + n)
			img.Pix[i+1] = clamp8(220*fy + n)
			img.Pix[i+2] = clamp8(127 + 100*math.Cos(2*math.Pi*(fx+2*fy)) + n)
			img.Pix[i+3] = 255
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func clamp8(v float64) uint8 { return uint8(max(0, min(255, v))) }

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDeriveFromStored is the CPU time (getrusage, user+system) of
// deriving a box from the stored 240x320 and 320x480 previews the server
// made at upload of a 2000x3000 photo: the work of a derived cache miss.
//
//	go test ./mediasvc -run '^$' -bench DeriveFromStored -benchtime 2000x
func BenchmarkDeriveFromStored(b *testing.B) {
	e := newEnv(b)
	m := e.mustUpload(openChan, alice, texturedJPEG(b, 2000, 3000), "image/jpeg")
	for _, from := range []transform.Box{{Width: 240, Height: 320}, {Width: 320, Height: 480}} {
		resp, stored := e.do("GET", fmt.Sprintf("/%s/%s?maxwidth=%d&maxheight=%d", openChan, m.ID, from.Width, from.Height), "", nil, nil)
		if resp.StatusCode != 200 {
			b.Fatalf("stored %v: %d", from, resp.StatusCode)
		}
		for _, box := range []transform.Box{{Width: 100, Height: 100}, {Width: 50, Height: 50}} {
			b.Run(fmt.Sprintf("from=%v/box=%v", from, box), func(b *testing.B) {
				b.ReportMetric(float64(len(stored)), "stored-bytes")
				before := cpuTime()
				for range b.N {
					img, err := e.srv.images.Derive(stored, box)
					if err != nil {
						b.Fatal(err)
					}
					if img.Width > box.Width || img.Height > box.Height {
						b.Fatalf("derived %dx%d for %v", img.Width, img.Height, box)
					}
				}
				b.ReportMetric(float64((cpuTime()-before).Microseconds())/float64(b.N), "cpu-µs/op")
			})
		}
	}
}

// BenchmarkServeDerivedVsStored is the handler's request rate for a
// derived 100x100 answer from the cache beside the stored 320x480 preview,
// interleaved in one run (so load from other jobs hits both alike), as a
// ratio: a cached derived answer must cost what a stored one does.
//
//	go test ./mediasvc -run '^$' -bench ServeDerivedVsStored -benchtime 20000x
func BenchmarkServeDerivedVsStored(b *testing.B) {
	e := newEnv(b)
	m := e.mustUpload(openChan, alice, texturedJPEG(b, 1200, 900), "image/jpeg")
	h := e.srv.Handler()
	stored := httptest.NewRequest("GET", "/"+openChan+"/"+m.ID+"?maxwidth=320&maxheight=480", nil)
	derived := httptest.NewRequest("GET", "/"+openChan+"/"+m.ID+"?maxwidth=100&maxheight=100", nil)
	serve := func(req *http.Request) time.Duration {
		start := time.Now()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
		return time.Since(start)
	}
	serve(stored)
	serve(derived) // warms the derived cache
	var tStored, tDerived time.Duration
	b.ReportAllocs()
	for b.Loop() {
		tStored += serve(stored)
		tDerived += serve(derived)
	}
	n := float64(b.N)
	b.ReportMetric(n/tStored.Seconds(), "stored-req/s")
	b.ReportMetric(n/tDerived.Seconds(), "derived-req/s")
	b.ReportMetric(tStored.Seconds()/tDerived.Seconds(), "derived/stored-rate")
}

// TestDerivedCacheMemoryBound: the heap a full derived cache holds stays
// near its budget, however many boxes clients ask for (the accounting of
// TestDerivedCacheStaysBounded, checked against the runtime's own count).
func TestDerivedCacheMemoryBound(t *testing.T) {
	const budget = 1 << 20
	e := newEnv(t, func(c *Config) { c.DerivedCacheBytes = budget })
	m := e.mustUpload(openChan, alice, texturedJPEG(t, 1600, 1200), "image/jpeg")
	// Warm everything but the derived cache: records, stored files.
	e.do("GET", "/"+openChan+"/"+m.ID+"?maxwidth=240&maxheight=320", "", nil, nil)
	e.do("GET", "/"+openChan+"/"+m.ID+"?maxwidth=480&maxheight=320", "", nil, nil)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const boxes = 400
	for i := range boxes {
		side := 101 + i%127 // 101..227: never a box of the stored set
		q := fmt.Sprintf("?maxwidth=%d&maxheight=%d", side, side+i/127)
		if resp, _ := e.do("GET", "/"+openChan+"/"+m.ID+q, "", nil, nil); resp.StatusCode != 200 {
			t.Fatalf("%s: %d", q, resp.StatusCode)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	used, n := e.srv.derived.size()
	growth := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d distinct boxes, budget %d KiB: cache holds %d answers, %d KiB accounted, heap grew %d KiB",
		boxes, budget>>10, n, used>>10, growth>>10)
	if used > budget {
		t.Fatalf("cache accounts %d bytes, budget %d", used, budget)
	}
	// Slack for the HTTP client's and server's pools and the runtime.
	if growth > budget+budget/4 {
		t.Fatalf("heap grew %d KiB with a %d KiB budget", growth>>10, budget>>10)
	}
}
