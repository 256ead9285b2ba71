package mediasvc

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"net/http"
	"sync"
	"testing"
	"time"

	xdraw "golang.org/x/image/draw"

	"github.com/xmppmedia/mediaserver/transform"
)

// referencePSNR compares an answer with the original scaled to the
// answer's size by an independent path: the standard library's decoder
// and x/image/draw's Catmull-Rom, none of transform's code.
func referencePSNR(t testing.TB, answer, original []byte) float64 {
	t.Helper()
	got, _, err := image.Decode(bytes.NewReader(answer))
	if err != nil {
		t.Fatalf("answer: %v", err)
	}
	src, _, err := image.Decode(bytes.NewReader(original))
	if err != nil {
		t.Fatalf("original: %v", err)
	}
	gb := got.Bounds()
	ref := image.NewRGBA(image.Rect(0, 0, gb.Dx(), gb.Dy()))
	xdraw.CatmullRom.Scale(ref, ref.Bounds(), src, src.Bounds(), xdraw.Src, nil)
	var sum float64
	for y := 0; y < gb.Dy(); y++ {
		for x := 0; x < gb.Dx(); x++ {
			r1, g1, b1, _ := got.At(gb.Min.X+x, gb.Min.Y+y).RGBA()
			r2, g2, b2, _ := ref.At(x, y).RGBA()
			for _, d := range []float64{float64(r1>>8) - float64(r2>>8), float64(g1>>8) - float64(g2>>8), float64(b1>>8) - float64(b2>>8)} {
				sum += d * d
			}
		}
	}
	mse := sum / float64(3*gb.Dx()*gb.Dy())
	if mse == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/mse)
}

// smoothJPEG is a w x h JPEG of smooth shapes, whose scaled versions any
// good resampler agrees on (the stripes of jpegImage alias differently in
// each, which says nothing about fitting).
func smoothJPEG(t testing.TB, w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			fx, fy := float64(x)/float64(w), float64(y)/float64(h)
			i := img.PixOffset(x, y)
			img.Pix[i] = uint8(127 + 120*math.Sin(2*math.Pi*fx*1.5))
			img.Pix[i+1] = uint8(255 * fy)
			img.Pix[i+2] = uint8(127 + 120*math.Cos(2*math.Pi*(fx+fy)))
			img.Pix[i+3] = 255
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// solidJPEG is a w x h JPEG of one colour.
func solidJPEG(t testing.TB, w, h int, c color.RGBA) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, 255
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// meanColour is the average colour of an encoded image.
func meanColour(t testing.TB, b []byte) (r, g, bl float64) {
	t.Helper()
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	bd := img.Bounds()
	for y := bd.Min.Y; y < bd.Max.Y; y++ {
		for x := bd.Min.X; x < bd.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			r, g, bl = r+float64(cr>>8), g+float64(cg>>8), bl+float64(cb>>8)
		}
	}
	n := float64(bd.Dx() * bd.Dy())
	return r / n, g / n, bl / n
}

// TestPreviewAnswersFitTheBox: every answer fits the box asked for, keeps
// the aspect (1 px rounding at most), looks like the original, and a
// fitting original is never beaten in bytes by its preview.
func TestPreviewAnswersFitTheBox(t *testing.T) {
	e := newEnv(t)
	items := map[string]struct {
		data []byte
		w, h int
	}{
		"landscape": {smoothJPEG(t, 1600, 1200), 1600, 1200},
		"portrait":  {smoothJPEG(t, 900, 1600), 900, 1600},
		"small":     {smoothJPEG(t, 100, 80), 100, 80},
	}
	ids := map[string]string{}
	for name, it := range items {
		ids[name] = e.mustUpload(privateChan, alice, it.data, "image/jpeg").ID
	}
	for _, tc := range []struct {
		item, query string
		boxW, boxH  int
	}{
		{"landscape", "maxwidth=50&maxheight=50", 50, 50},
		{"landscape", "maxheight=50", 50, 50},
		{"landscape", "maxwidth=100&maxheight=100", 100, 100},
		{"landscape", "maxwidth=600&maxheight=600", 600, 600},
		{"landscape", "maxwidth=1&maxheight=1", 1, 1},
		{"landscape", "maxwidth=240&maxheight=320", 240, 320},
		{"landscape", "maxwidth=480&maxheight=320", 480, 320},
		{"landscape", "maxwidth=320&maxheight=300", 320, 300},
		{"landscape", "maxwidth=1500&maxheight=100", 1500, 100},
		{"landscape", "maxwidth=1200&maxheight=1200", 1200, 1200},
		{"landscape", "maxwidth=5000&maxheight=5000", 5000, 5000},
		{"portrait", "maxwidth=50&maxheight=50", 50, 50},
		{"portrait", "maxwidth=100&maxheight=100", 100, 100},
		{"portrait", "maxwidth=600&maxheight=600", 600, 600},
		{"portrait", "maxwidth=200&maxheight=100", 200, 100},
		{"small", "maxwidth=100&maxheight=100", 100, 100},
		{"small", "maxwidth=50&maxheight=50", 50, 50},
		{"small", "maxwidth=3000", 3000, 3000},
	} {
		t.Run(tc.item+"/"+tc.query, func(t *testing.T) {
			it := items[tc.item]
			resp, b := e.do("GET", "/"+privateChan+"/"+ids[tc.item]+"?"+tc.query, alice, nil, nil)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
			_, w, h := decodeSize(t, b)
			wantW, wantH := transform.Box{Width: tc.boxW, Height: tc.boxH}.Fit(it.w, it.h)
			if w > tc.boxW || h > tc.boxH {
				t.Fatalf("answer %dx%d does not fit %dx%d", w, h, tc.boxW, tc.boxH)
			}
			if abs(w-wantW) > 1 || abs(h-wantH) > 1 {
				t.Fatalf("answer %dx%d, want %dx%d (1 px rounding at most)", w, h, wantW, wantH)
			}
			if wantW == it.w && wantH == it.h && len(b) > len(it.data) {
				t.Errorf("original fits but the answer has %d bytes, the original %d", len(b), len(it.data))
			}
			if w >= 8 && h >= 8 {
				p := referencePSNR(t, b, it.data)
				t.Logf("%dx%d: %.1f dB", w, h, p)
				// 27 dB: a 28x50 JPEG's chroma blocks cost a few dB; a
				// wrong crop, aspect or orientation is far below.
				if p < 27 {
					t.Errorf("answer is %.1f dB from the original scaled independently, want >= 27", p)
				}
			}
		})
	}
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// TestAvatarPreviewFitsTheBox: a square avatar asked at 50x50 is 50x50.
func TestAvatarPreviewFitsTheBox(t *testing.T) {
	e := newEnv(t)
	body, ct := multipartBody(t, part{name: "data", file: smoothJPEG(t, 300, 200), fileName: "me.jpg"}, part{name: "content-type", value: "image/jpeg"})
	if resp, b := e.do("PUT", "/"+privateChan+"/avatar", alice, body, http.Header{"Content-Type": {ct}}); resp.StatusCode != 201 {
		t.Fatalf("set avatar: %d %s", resp.StatusCode, b)
	}
	_, stored := e.do("GET", "/"+privateChan+"/avatar", "", nil, nil)
	for _, side := range []int{50, 32, 100, 48} {
		resp, b := e.do("GET", fmt.Sprintf("/%s/avatar?maxwidth=%d&maxheight=%d", privateChan, side, side), "", nil, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("%d: status %d", side, resp.StatusCode)
		}
		if _, w, h := decodeSize(t, b); w != side || h != side {
			t.Fatalf("avatar at %dx%d answered %dx%d", side, side, w, h)
		}
		if p := referencePSNR(t, b, stored); p < 30 {
			t.Errorf("avatar %d: %.1f dB from the stored avatar scaled independently", side, p)
		}
	}
}

// TestDerivedCacheStaysBounded: many distinct boxes with a small budget
// leave the cache within it, and nothing derived is stored as a file.
func TestDerivedCacheStaysBounded(t *testing.T) {
	const budget = 16 << 10
	e := newEnv(t, func(c *Config) { c.DerivedCacheBytes = budget })
	m := e.mustUpload(privateChan, alice, jpegImage(t, 1600, 1200), "image/jpeg")
	filesBefore := len(e.blobFiles())
	for i := 0; i < 60; i++ {
		side := 21 + i*3 // never 64 or 128, boxes of the stored set
		q := fmt.Sprintf("?maxwidth=%d&maxheight=%d", side, side)
		resp, b := e.do("GET", "/"+privateChan+"/"+m.ID+q, alice, nil, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", q, resp.StatusCode, b)
		}
		if used, _ := e.srv.derived.size(); used > budget {
			t.Fatalf("after %d boxes the derived cache holds %d bytes, budget %d", i+1, used, budget)
		}
	}
	used, n := e.srv.derived.size()
	t.Logf("derived cache after 60 boxes: %d answers, %d bytes of %d", n, used, budget)
	if n == 0 {
		t.Fatal("nothing was kept: the cache is not used")
	}
	// Stored files: at most the boxes of the bounded set the 60 boxes
	// needed (128x128 and 64x64 are not needed: 240x320 covers them all).
	if got := len(e.blobFiles()); got != filesBefore {
		t.Errorf("derived boxes left %d files, had %d after upload", got, filesBefore)
	}
}

// TestDerivedCacheEvictsLeastRecentlyUsed: the LRU's own bookkeeping.
func TestDerivedCacheEvictsLeastRecentlyUsed(t *testing.T) {
	data := make([]byte, 1000)
	k := func(i int) derivedKey {
		return derivedKey{entity: "e", id: "i", sha1: "s", box: transform.Box{Width: i, Height: i}}
	}
	one := entryCost(k(1), derived{data: data})
	for _, tc := range []struct {
		name   string
		budget int64
		puts   []int
		touch  int // got before the last put; 0: none
		want   []int
		gone   []int
	}{
		{"fits", 4*one + 10, []int{1, 2, 3, 4}, 0, []int{1, 2, 3, 4}, nil},
		{"oldest goes", 4*one + 10, []int{1, 2, 3, 4, 5}, 0, []int{2, 3, 4, 5}, []int{1}},
		{"touched stays", 4*one + 10, []int{1, 2, 3, 4, 5}, 1, []int{1, 3, 4, 5}, []int{2}},
		{"too large for a quarter of the budget", 3 * one, []int{1}, 0, nil, []int{1}},
		{"disabled", 0, []int{1}, 0, nil, []int{1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newDerivedCache(tc.budget)
			for i, p := range tc.puts {
				if i == len(tc.puts)-1 && tc.touch != 0 {
					c.get(k(tc.touch))
				}
				c.put(k(p), derived{data: data})
			}
			for _, w := range tc.want {
				if _, ok := c.get(k(w)); !ok {
					t.Errorf("%d evicted", w)
				}
			}
			for _, g := range tc.gone {
				if _, ok := c.get(k(g)); ok {
					t.Errorf("%d kept", g)
				}
			}
			if used, _ := c.size(); used > tc.budget {
				t.Errorf("holds %d bytes, budget %d", used, tc.budget)
			}
		})
	}
}

// TestReplacedAvatarNotServedStaleFromDerivedCache: the cache key carries
// the item's version, so a new avatar's 50x50 is the new picture.
func TestReplacedAvatarNotServedStaleFromDerivedCache(t *testing.T) {
	e := newEnv(t)
	put := func(c color.RGBA) {
		t.Helper()
		body, ct := multipartBody(t, part{name: "data", file: solidJPEG(t, 200, 200, c), fileName: "me.jpg"}, part{name: "content-type", value: "image/jpeg"})
		if resp, b := e.do("PUT", "/"+openChan+"/avatar", alice, body, http.Header{"Content-Type": {ct}}); resp.StatusCode != 201 {
			t.Fatalf("set avatar: %d %s", resp.StatusCode, b)
		}
	}
	get := func() []byte {
		t.Helper()
		resp, b := e.do("GET", "/"+openChan+"/avatar?maxwidth=50&maxheight=50", "", nil, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("avatar 50x50: %d", resp.StatusCode)
		}
		return b
	}
	put(color.RGBA{R: 220, G: 20, B: 20})
	if r, _, b := meanColour(t, get()); r < 180 || b > 60 {
		t.Fatalf("first avatar is not red: r=%.0f b=%.0f", r, b)
	}
	if _, n := e.srv.derived.size(); n == 0 {
		t.Fatal("the 50x50 answer was not cached")
	}
	put(color.RGBA{R: 20, G: 20, B: 220})
	if r, _, b := meanColour(t, get()); b < 180 || r > 60 {
		t.Fatalf("after replacing the avatar the 50x50 answer is the old one: r=%.0f b=%.0f", r, b)
	}
}

// TestDerivedPreviewOfPrivateItemRefused: a warm cache lets nobody in; a
// derived answer carries the private Cache-Control of a stored preview;
// a deleted item's derived answer is gone.
func TestDerivedPreviewOfPrivateItemRefused(t *testing.T) {
	e := newEnv(t)
	m := e.mustUpload(privateChan, alice, jpegImage(t, 1600, 1200), "image/jpeg")
	path := "/" + privateChan + "/" + m.ID
	resp, _ := e.do("GET", path+"?maxwidth=100&maxheight=100", carol, nil, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("member: %d", resp.StatusCode)
	}
	etag := resp.Header.Get("ETag")
	stored, _ := e.do("GET", path+"?maxwidth=240&maxheight=320", carol, nil, nil)
	if got, want := resp.Header.Get("Cache-Control"), stored.Header.Get("Cache-Control"); got != want || got == "" {
		t.Errorf("derived Cache-Control %q, stored preview's %q", got, want)
	}
	if _, n := e.srv.derived.size(); n == 0 {
		t.Fatal("the derived answer was not cached")
	}
	for _, tc := range []struct {
		name, user string
		header     http.Header
		want       int
	}{
		{"anonymous", "", nil, 401},
		{"outcast", mallory, nil, 403},
		{"anonymous revalidating", "", http.Header{"If-None-Match": {etag}}, 401},
		{"outcast revalidating", mallory, http.Header{"If-None-Match": {etag}}, 403},
		{"outcast ranged", mallory, http.Header{"Range": {"bytes=0-10"}}, 403},
		{"member revalidating", carol, http.Header{"If-None-Match": {etag}}, 304},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := e.do("GET", path+"?maxwidth=100&maxheight=100", tc.user, nil, tc.header)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d (%d bytes)", resp.StatusCode, tc.want, len(b))
			}
		})
	}
	if resp, _ := e.do("DELETE", path, alice, nil, nil); resp.StatusCode != 200 {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	if resp, _ := e.do("GET", path+"?maxwidth=100&maxheight=100", carol, nil, nil); resp.StatusCode != 404 {
		t.Fatalf("deleted item's derived preview: %d, want 404", resp.StatusCode)
	}
}

// countingMetrics counts derived renderings, and every rendering by kind.
type countingMetrics struct {
	noMetrics
	mu      sync.Mutex
	derived int
	byKind  map[string]int
}

func (c *countingMetrics) ObservePreview(when string, d time.Duration, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if when == "derived" {
		c.derived++
	}
	if c.byKind == nil {
		c.byKind = map[string]int{}
	}
	c.byKind[when]++
}

// count is the number of renderings of kind when.
func (c *countingMetrics) count(when string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byKind[when]
}

// TestConcurrentDerivedBoxRenderedOnce: simultaneous requests for one
// derived box share a rendering.
func TestConcurrentDerivedBoxRenderedOnce(t *testing.T) {
	e := newEnv(t)
	m := e.mustUpload(privateChan, alice, jpegImage(t, 1600, 1200), "image/jpeg")
	counts := &countingMetrics{}
	e.srv.metrics = counts
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, _ := e.do("GET", "/"+privateChan+"/"+m.ID+"?maxwidth=77&maxheight=77", alice, nil, nil)
			if resp.StatusCode != 200 {
				t.Errorf("status %d", resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	if counts.derived != 1 {
		t.Fatalf("8 concurrent requests rendered %d times, want 1", counts.derived)
	}
}
