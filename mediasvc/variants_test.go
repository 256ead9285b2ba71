package mediasvc

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xmppmedia/mediaserver/internal/ratelimit"
	"golang.org/x/image/webp"
)

// Accept headers real browsers send for <img> (and what the small
// browsers this server exists for send).
const (
	acceptChrome  = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"
	acceptFirefox = "image/avif,image/webp,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5"
	acceptSafari  = "image/webp,image/avif,image/jxl,image/heic,image/heic-sequence,video/*;q=0.8,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5"
	acceptKaiOS   = "image/png,image/*;q=0.8,*/*;q=0.5"
)

// photoJPEG is a real photograph, 800x600: transform's test photo.
func photoJPEG(t testing.TB) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "transform", "testdata", "progressive800x600.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// xImageTestdata is golang.org/x/image's testdata directory in the module
// cache (a dependency, so downloaded already).
func xImageTestdata(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "golang.org/x/image").Output()
	if err != nil {
		t.Fatalf("locate golang.org/x/image: %v", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "testdata")
}

// decodeAnswer decodes a preview by its Content-Type with Go's own
// decoders (x/image/webp is not the libwebp that encoded the WebP), and
// checks the format against ImageMagick's identify when it is installed
// (CI installs it).
func decodeAnswer(t testing.TB, contentType string, data []byte) image.Image {
	t.Helper()
	var img image.Image
	var err error
	switch contentType {
	case "image/webp":
		img, err = webp.Decode(bytes.NewReader(data))
	case "image/jpeg":
		img, err = jpeg.Decode(bytes.NewReader(data))
	case "image/png":
		img, err = png.Decode(bytes.NewReader(data))
	default:
		t.Fatalf("Content-Type %q", contentType)
	}
	if err != nil {
		t.Fatalf("%s of %d bytes: %v", contentType, len(data), err)
	}
	if _, err := exec.LookPath("identify"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("identify (imagemagick) missing in CI")
		}
		return img
	}
	f := filepath.Join(t.TempDir(), "answer")
	if err := os.WriteFile(f, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("identify", "-format", "%m %w %h", f).Output()
	if err != nil {
		t.Fatalf("identify: %v", err)
	}
	b := img.Bounds()
	want := fmt.Sprintf("%s %d %d", strings.ToUpper(strings.TrimPrefix(contentType, "image/")), b.Dx(), b.Dy())
	if string(out) != want {
		t.Errorf("identify says %q, Go's decoder %q", out, want)
	}
	return img
}

// putAvatar sets entity's avatar, as a client sends it.
func putAvatar(t testing.TB, e *env, entity string, data []byte) {
	t.Helper()
	body, ct := multipartBody(t, part{name: "data", file: data, fileName: "me.jpg"}, part{name: "content-type", value: "image/jpeg"})
	if resp, b := e.do("PUT", "/"+entity+"/avatar", alice, body, http.Header{"Content-Type": {ct}}); resp.StatusCode != 201 {
		t.Fatalf("set avatar: %d %s", resp.StatusCode, b)
	}
}

// varyHas: the response's Vary lists name.
func varyHas(resp *http.Response, name string) bool {
	for _, v := range resp.Header.Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), name) {
				return true
			}
		}
	}
	return false
}

// TestPreviewFormatNegotiation: a browser that lists image/webp gets a
// WebP preview, every other client the JPEG, for a stored box, a derived
// box and an avatar; each answer decodes as what its Content-Type says
// and fits the box.
func TestPreviewFormatNegotiation(t *testing.T) {
	e := newEnv(t)
	m := e.mustUpload(privateChan, alice, photoJPEG(t), "image/jpeg")
	putAvatar(t, e, openChan, photoJPEG(t))
	for _, tc := range []struct {
		name, accept string
		webp         bool
	}{
		{"Chrome", acceptChrome, true},
		{"Firefox", acceptFirefox, true},
		{"Safari", acceptSafari, true},
		{"KaiOS", acceptKaiOS, false},
		{"*/* alone", "*/*", false},
		{"image/* alone", "image/*", false},
		{"webp refused", "image/webp;q=0, */*", false},
		{"jpeg preferred", "image/jpeg, image/webp;q=0.5", false},
		{"malformed q", "image/webp;q=high", false},
		{"no Accept", "", false},
	} {
		for _, box := range []struct {
			path string
			w, h int
		}{
			{"/" + privateChan + "/" + m.ID + "?maxwidth=320&maxheight=480", 320, 240},
			{"/" + privateChan + "/" + m.ID + "?maxwidth=100&maxheight=100", 100, 75},
			{"/" + openChan + "/avatar?maxwidth=50&maxheight=50", 50, 50},
		} {
			t.Run(tc.name+box.path[strings.Index(box.path, "?"):], func(t *testing.T) {
				var h http.Header
				if tc.accept != "" {
					h = http.Header{"Accept": {tc.accept}}
				}
				resp, b := e.do("GET", box.path, carol, nil, h)
				if resp.StatusCode != 200 {
					t.Fatalf("status %d: %s", resp.StatusCode, b)
				}
				want := "image/jpeg"
				if tc.webp {
					want = "image/webp"
				}
				ct := resp.Header.Get("Content-Type")
				if ct != want {
					t.Fatalf("Content-Type %s, want %s", ct, want)
				}
				bd := decodeAnswer(t, ct, b).Bounds()
				if bd.Dx() != box.w || bd.Dy() != box.h {
					t.Errorf("decoded %dx%d, want %dx%d", bd.Dx(), bd.Dy(), box.w, box.h)
				}
				if !varyHas(resp, "Accept") || !varyHas(resp, "Save-Data") {
					t.Errorf("Vary %q", resp.Header.Values("Vary"))
				}
			})
		}
	}
}

// TestPreviewVaryAndETags: every preview answer, whatever its format and
// status (200, 304, HEAD), says it varies with Accept and Save-Data; a
// download of the original does not. Each variant has its own ETag, so a
// WebP's tag never revalidates a JPEG.
func TestPreviewVaryAndETags(t *testing.T) {
	e := newEnv(t)
	m := e.mustUpload(privateChan, alice, photoJPEG(t), "image/jpeg")
	path := "/" + privateChan + "/" + m.ID
	chrome := http.Header{"Accept": {acceptChrome}}
	tags := map[string]string{}
	for _, q := range []string{"?maxwidth=320&maxheight=480", "?maxwidth=100&maxheight=100"} {
		for _, tc := range []struct {
			name   string
			header http.Header
		}{
			{"jpeg", nil},
			{"webp", chrome},
			{"save-data", http.Header{"Save-Data": {"on"}}},
			{"maxbytes", nil},
		} {
			p := path + q
			if tc.name == "maxbytes" {
				p += "&maxbytes=6000"
			}
			resp, _ := e.do("GET", p, carol, nil, tc.header)
			if resp.StatusCode != 200 || !varyHas(resp, "Accept") || !varyHas(resp, "Save-Data") {
				t.Fatalf("%s %s: status %d, Vary %q", tc.name, q, resp.StatusCode, resp.Header.Values("Vary"))
			}
			etag := resp.Header.Get("ETag")
			for other, tag := range tags {
				if tag == etag {
					t.Errorf("%s %s has the ETag of %s: %s", tc.name, q, other, etag)
				}
			}
			tags[tc.name+q] = etag
			for _, method := range []string{"GET", "HEAD"} {
				h := http.Header{"If-None-Match": {etag}}
				for k, v := range tc.header {
					h[k] = v
				}
				resp, _ := e.do(method, p, carol, nil, h)
				if resp.StatusCode != 304 || !varyHas(resp, "Accept") || !varyHas(resp, "Save-Data") ||
					resp.Header.Get("Content-Security-Policy") != "" || resp.Header.Get("Content-Disposition") != "" {
					t.Errorf("%s %s %s revalidated: status %d, Vary %q, CSP %q, Content-Disposition %q", method, tc.name, q, resp.StatusCode,
						resp.Header.Values("Vary"), resp.Header.Get("Content-Security-Policy"), resp.Header.Get("Content-Disposition"))
				}
				delete(h, "If-None-Match")
				resp, _ = e.do(method, p, carol, nil, h)
				if resp.StatusCode != 200 || resp.Header.Get("ETag") != etag || !varyHas(resp, "Accept") {
					t.Errorf("%s %s %s: status %d, ETag %s (GET's %s), Vary %q", method, tc.name, q, resp.StatusCode, resp.Header.Get("ETag"), etag, resp.Header.Values("Vary"))
				}
			}
		}
		// A JPEG-only client revalidating with the WebP's tag gets the JPEG.
		resp, b := e.do("GET", path+q, carol, nil, http.Header{"If-None-Match": {tags["webp"+q]}})
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/jpeg" || len(b) == 0 {
			t.Errorf("JPEG client with the WebP's ETag %s: %d %s", q, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	resp, _ := e.do("GET", path, carol, nil, chrome)
	if resp.StatusCode != 200 || varyHas(resp, "Accept") || resp.Header.Get("Content-Type") != "image/jpeg" {
		t.Errorf("original: status %d, %s, Vary %q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Values("Vary"))
	}
}

// varyCache is a shared cache in front of the server, as a CDN keys it
// (RFC 9111, 4.1): a stored response is reused for a request to the same
// URL only if the request headers its Vary names match those of the
// request it was stored for.
type varyCache struct {
	mu      sync.Mutex
	backend http.Handler
	entries map[string][]cachedResponse
}

type cachedResponse struct {
	vary   []string
	values map[string]string // of the request it was stored for
	header http.Header
	body   []byte
}

func (c *varyCache) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	for _, cr := range c.entries[r.URL.String()] {
		match := true
		for _, name := range cr.vary {
			if r.Header.Get(name) != cr.values[name] {
				match = false
			}
		}
		if match {
			c.mu.Unlock()
			for k, v := range cr.header {
				w.Header()[k] = v
			}
			w.Header().Set("X-Cache", "hit")
			w.Write(cr.body)
			return
		}
	}
	c.mu.Unlock()
	rec := &recorder{header: http.Header{}}
	c.backend.ServeHTTP(rec, r)
	cr := cachedResponse{values: map[string]string{}, header: rec.header, body: rec.body.Bytes()}
	for _, v := range rec.header.Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			name := http.CanonicalHeaderKey(strings.TrimSpace(f))
			cr.vary = append(cr.vary, name)
			cr.values[name] = r.Header.Get(name)
		}
	}
	if rec.status == 200 {
		c.mu.Lock()
		c.entries[r.URL.String()] = append(c.entries[r.URL.String()], cr)
		c.mu.Unlock()
	}
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.status)
	w.Write(cr.body)
}

type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = 200
	}
	return r.body.Write(b)
}
func (r *recorder) WriteHeader(s int) { r.status = s }

// TestSharedCacheNeverServesWebPToAJPEGClient: behind a cache that honours
// Vary, a Chrome request fills the cache with the WebP, and a KaiOS phone
// (and a Save-Data phone) asking for the same URL next still gets a JPEG;
// a second Chrome request is served from the cache. Without Vary on the
// answer, the phone would get the cached WebP.
func TestSharedCacheNeverServesWebPToAJPEGClient(t *testing.T) {
	e := newEnv(t)
	putAvatar(t, e, openChan, photoJPEG(t))
	m := e.mustUpload(openChan, alice, photoJPEG(t), "image/jpeg")
	front := httptest.NewServer(&varyCache{backend: e.srv.Handler(), entries: map[string][]cachedResponse{}})
	t.Cleanup(front.Close)
	for _, path := range []string{"/" + openChan + "/" + m.ID + "?maxwidth=320&maxheight=480", "/" + openChan + "/avatar?maxwidth=64&maxheight=64"} {
		for _, step := range []struct {
			name, accept, saveData, wantType, wantCache string
		}{
			{"Chrome fills", acceptChrome, "", "image/webp", ""},
			{"KaiOS", acceptKaiOS, "", "image/jpeg", ""},
			{"Chrome again", acceptChrome, "", "image/webp", "hit"},
			{"KaiOS again", acceptKaiOS, "", "image/jpeg", "hit"},
			{"KaiOS saving data", acceptKaiOS, "on", "image/jpeg", ""},
		} {
			req, _ := http.NewRequest("GET", front.URL+path, nil)
			req.Header.Set("Accept", step.accept)
			if step.saveData != "" {
				req.Header.Set("Save-Data", step.saveData)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != step.wantType || resp.Header.Get("X-Cache") != step.wantCache {
				t.Errorf("%s %s: %d %s (cache %q), want %s (cache %q)", path, step.name, resp.StatusCode,
					resp.Header.Get("Content-Type"), resp.Header.Get("X-Cache"), step.wantType, step.wantCache)
			}
		}
	}
}

// TestByteBudgets: ?maxbytes=N answers at most N bytes, fitting the box;
// Save-Data answers within the configured budget (scaled by the box's
// area); a bad maxbytes is 400; nothing acceptable fitting maxbytes is
// 413, every time.
func TestByteBudgets(t *testing.T) {
	e := newEnv(t)
	m := e.mustUpload(privateChan, alice, photoJPEG(t), "image/jpeg")
	path := "/" + privateChan + "/" + m.ID
	plain, _ := e.do("GET", path+"?maxwidth=320&maxheight=480", carol, nil, nil)
	plainSize := plain.ContentLength
	// The photo's WebP at the plain quality is about 11 KB: a WebP browser
	// gets it for a budget it fits, a JPEG for one it does not.
	for _, tc := range []struct {
		query    string
		header   http.Header
		maxBytes int
		w, h     int
		mime     string
	}{
		{"?maxwidth=320&maxheight=480&maxbytes=12000", nil, 12000, 320, 240, "image/jpeg"},
		{"?maxwidth=320&maxheight=480&maxbytes=6000", nil, 6000, 320, 240, "image/jpeg"},
		{"?maxwidth=320&maxheight=480&maxbytes=6000", http.Header{"Accept": {acceptChrome}}, 6000, 320, 240, "image/jpeg"},
		{"?maxwidth=320&maxheight=480&maxbytes=1000000", nil, 1000000, 320, 240, "image/jpeg"},
		{"?maxwidth=320&maxheight=480&maxbytes=1000000", http.Header{"Accept": {acceptChrome}}, 1000000, 320, 240, "image/webp"},
		{"?maxwidth=200&maxheight=200&maxbytes=3000", nil, 3000, 200, 150, "image/jpeg"},
		{"?maxwidth=320&maxheight=480", http.Header{"Save-Data": {"on"}}, 10240, 320, 240, "image/jpeg"},
		// The demo's tiny preview: its WebP is far below the box's 2048 bytes.
		{"?maxwidth=32&maxheight=32", http.Header{"Save-Data": {"on"}, "Accept": {acceptChrome}}, 2048, 32, 24, "image/webp"},
		{"?maxwidth=240&maxheight=320", http.Header{"Save-Data": {"On"}}, 5120, 240, 180, "image/jpeg"},
		{"?maxwidth=320&maxheight=480&maxbytes=4000", http.Header{"Save-Data": {"on"}}, 4000, 320, 240, "image/jpeg"},
	} {
		t.Run(fmt.Sprint(tc.query, tc.header), func(t *testing.T) {
			resp, b := e.do("GET", path+tc.query, carol, nil, tc.header)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
			if len(b) > tc.maxBytes {
				t.Errorf("%d bytes, budget %d", len(b), tc.maxBytes)
			}
			if ct := resp.Header.Get("Content-Type"); ct != tc.mime {
				t.Errorf("Content-Type %s, want %s", ct, tc.mime)
			}
			bd := decodeAnswer(t, tc.mime, b).Bounds()
			if bd.Dx() > tc.w || bd.Dy() > tc.h || bd.Dx() < tc.w/2 || bd.Dy() < tc.h/2 {
				t.Errorf("%dx%d, want within %dx%d and at least half of it", bd.Dx(), bd.Dy(), tc.w, tc.h)
			}
			t.Logf("%s %dx%d, %d bytes (plain 320x480: %d)", tc.mime, bd.Dx(), bd.Dy(), len(b), plainSize)
		})
	}
	for _, bad := range []string{"abc", "-5", "0", "1023", "1e4", "12.5", "", "16777217", "99999999999999999999"} {
		resp, b := e.do("GET", path+"?maxwidth=320&maxheight=480&maxbytes="+bad, carol, nil, nil)
		if resp.StatusCode != 400 || !strings.Contains(string(b), "maxbytes must be") {
			t.Errorf("maxbytes=%q: %d %s, want 400 saying what maxbytes must be", bad, resp.StatusCode, b)
		}
	}
	if resp, b := e.do("GET", path+"?maxbytes=100000", carol, nil, nil); resp.StatusCode != 400 || !strings.Contains(string(b), "maxwidth") {
		t.Errorf("maxbytes without a box: %d %s, want 400", resp.StatusCode, b)
	}
	for range 2 {
		resp, b := e.do("GET", path+"?maxwidth=320&maxheight=480&maxbytes=1024", carol, nil, nil)
		if resp.StatusCode != 413 || !strings.Contains(string(b), "fits") || resp.Header.Get("ETag") != "" || !varyHas(resp, "Accept") {
			t.Errorf("maxbytes=1024 for a photo: %d %s (ETag %q), want 413", resp.StatusCode, b, resp.Header.Get("ETag"))
		}
	}
}

// TestSaveDataFailsOpenToTheSmallestPreview: Save-Data is a wish, not a
// limit: when nothing acceptable fits its budget (here set to the least
// allowed, for a noisy photo) the answer is the smallest acceptable
// preview, half the box's fit at the floor quality, not an error. With
// save_data_bytes 0 Save-Data is ignored and not in Vary.
func TestSaveDataFailsOpenToTheSmallestPreview(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.SaveDataBytes = 1024 }) // 2048, the floor, for 320x480
	m := e.mustUpload(privateChan, alice, photoJPEG(t), "image/jpeg")
	path := "/" + privateChan + "/" + m.ID + "?maxwidth=320&maxheight=480"
	resp, b := e.do("GET", path, carol, nil, http.Header{"Save-Data": {"on"}})
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	if bd := decodeAnswer(t, resp.Header.Get("Content-Type"), b).Bounds(); bd.Dx() != 160 || bd.Dy() != 120 {
		t.Errorf("%dx%d, want the floor's 160x120", bd.Dx(), bd.Dy())
	}
	plain, pb := e.do("GET", path, carol, nil, nil)
	if len(b) >= len(pb) || plain.Header.Get("ETag") == resp.Header.Get("ETag") {
		t.Errorf("Save-Data answer %d bytes (ETag %s), plain %d (ETag %s)", len(b), resp.Header.Get("ETag"), len(pb), plain.Header.Get("ETag"))
	}

	off := newEnv(t, func(c *Config) { c.SaveDataBytes = 0 })
	m = off.mustUpload(privateChan, alice, photoJPEG(t), "image/jpeg")
	path = "/" + privateChan + "/" + m.ID + "?maxwidth=320&maxheight=480"
	plain, pb = off.do("GET", path, carol, nil, nil)
	resp, b = off.do("GET", path, carol, nil, http.Header{"Save-Data": {"on"}})
	if !bytes.Equal(b, pb) || varyHas(resp, "Save-Data") || !varyHas(resp, "Accept") {
		t.Errorf("Save-Data off: %d bytes (plain %d), Vary %q", len(b), len(pb), resp.Header.Values("Vary"))
	}
}

// TestVariantOfPrivateItemRefused: a member's request makes and caches
// the WebP and the budgeted variants; nobody else gets them, not even by
// revalidating with their ETags or asking a range.
func TestVariantOfPrivateItemRefused(t *testing.T) {
	e := newEnv(t)
	m := e.mustUpload(privateChan, alice, photoJPEG(t), "image/jpeg")
	path := "/" + privateChan + "/" + m.ID
	for _, v := range []struct {
		query  string
		header http.Header
	}{
		{"?maxwidth=320&maxheight=480", http.Header{"Accept": {acceptChrome}}},
		{"?maxwidth=100&maxheight=100", http.Header{"Accept": {acceptChrome}}},
		{"?maxwidth=320&maxheight=480&maxbytes=6000", nil},
		{"?maxwidth=320&maxheight=480", http.Header{"Save-Data": {"on"}}},
	} {
		resp, _ := e.do("GET", path+v.query, carol, nil, v.header)
		if resp.StatusCode != 200 {
			t.Fatalf("member %s: %d", v.query, resp.StatusCode)
		}
		etag := resp.Header.Get("ETag")
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
			h := http.Header{}
			for k, x := range v.header {
				h[k] = x
			}
			for k, x := range tc.header {
				h[k] = x
			}
			resp, b := e.do("GET", path+v.query, tc.user, nil, h)
			if resp.StatusCode != tc.want || (tc.want != 304 && len(b) > 200) {
				t.Errorf("%s %s %v: status %d (%d bytes), want %d", tc.name, v.query, v.header, resp.StatusCode, len(b), tc.want)
			}
		}
	}
}

// TestVariantMadeOnceAndBounded: concurrent requests for one variant
// share one rendering, the next is answered from the derived cache (a
// refusal too: a 413 is remembered), a budget the stored preview fits
// costs no rendering, and the cache stays within its budget.
func TestVariantMadeOnceAndBounded(t *testing.T) {
	const budget = 96 << 10 // answers of up to 24 KiB kept, not all of those below
	e := newEnv(t, func(c *Config) { c.DerivedCacheBytes = budget })
	m := e.mustUpload(privateChan, alice, photoJPEG(t), "image/jpeg")
	counts := &countingMetrics{}
	e.srv.metrics = counts
	// This test counts renderings; one source's budget of ?maxbytes
	// searches is TestClientShapedVariantsAreBudgetedPerSource's.
	e.srv.deriveBudgets = ratelimit.New(100, time.Second, 10)
	path := "/" + privateChan + "/" + m.ID + "?maxwidth=320&maxheight=480"
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, _ := e.do("GET", path, alice, nil, http.Header{"Accept": {acceptFirefox}})
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/webp" {
				t.Errorf("status %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
		}()
	}
	wg.Wait()
	e.do("GET", path, alice, nil, http.Header{"Accept": {acceptChrome}})
	if n := counts.count("variant"); n != 1 {
		t.Fatalf("7 requests for one WebP rendered it %d times, want 1", n)
	}
	// Budgets below the stored preview's size are rendered, each once;
	// from it up the stored preview is the answer, with no rendering.
	_, plain := e.do("GET", path, alice, nil, nil)
	want := 1
	for i := range 14 { // 14 distinct budget steps, 2816 to 15360 bytes
		n := 3000 + i*1024
		if budgetStep(n) < len(plain) {
			want++
		}
		for range 2 {
			resp, b := e.do("GET", fmt.Sprintf("%s&maxbytes=%d", path, n), alice, nil, nil)
			if resp.StatusCode == 200 && len(b) > n || resp.StatusCode != 200 && resp.StatusCode != 413 {
				t.Errorf("maxbytes=%d: %d, %d bytes", n, resp.StatusCode, len(b))
			}
		}
	}
	if used, n := e.srv.derived.size(); used > budget || n == 0 {
		t.Errorf("derived cache holds %d bytes in %d answers, budget %d", used, n, budget)
	}
	if n := counts.count("variant"); n != want {
		t.Errorf("%d renderings for 1 WebP and 14 budgets (%d below the plain preview's %d bytes), want %d", n, want-1, len(plain), want)
	}
}

// TestVariantWaitsForAWorkerSlot: a variant is rendered under one of the
// transformer's worker slots, so with every slot busy a request waits
// PreviewWait and gets 503, rather than taking more CPUs.
func TestVariantWaitsForAWorkerSlot(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.PreviewWait = 200 * time.Millisecond })
	m := e.mustUpload(privateChan, alice, photoJPEG(t), "image/jpeg")
	var releases []func()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		release, err := e.srv.images.Acquire(ctx)
		cancel()
		if err != nil {
			break
		}
		releases = append(releases, release)
	}
	resp, b := e.do("GET", "/"+privateChan+"/"+m.ID+"?maxwidth=320&maxheight=480", alice, nil, http.Header{"Accept": {acceptChrome}})
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("all %d workers busy: %d %s, want 503 with Retry-After", len(releases), resp.StatusCode, b)
	}
	for _, r := range releases {
		r()
	}
	if resp, _ := e.do("GET", "/"+privateChan+"/"+m.ID+"?maxwidth=320&maxheight=480", alice, nil, http.Header{"Accept": {acceptChrome}}); resp.StatusCode != 200 {
		t.Errorf("workers free again: %d", resp.StatusCode)
	}
}

func TestBudgetStep(t *testing.T) {
	for _, tc := range []struct{ n, want int }{
		{1024, 1024}, {1100, 1024}, {1152, 1152}, {10000, 9216}, {10240, 10240}, {16 << 20, 16 << 20}, {(16 << 20) - 1, 15 << 20},
	} {
		if got := budgetStep(tc.n); got != tc.want || got > tc.n || float64(got) < 0.875*float64(tc.n) {
			t.Errorf("budgetStep(%d) = %d, want %d", tc.n, got, tc.want)
		}
	}
}

// TestTransparentPreviewAsWebP: a transparent photo's preview is a PNG
// for JPEG-only clients and a lossy WebP with its alpha for browsers that
// take WebP, smaller than the PNG; a budget lays it on white, as a JPEG. A
// flat synthetic picture that PNG compresses better stays a PNG for all.
func TestTransparentPreviewAsWebP(t *testing.T) {
	e := newEnv(t)
	rose, err := os.ReadFile(filepath.Join(xImageTestdata(t), "yellow_rose.lossy-with-alpha.webp"))
	if err != nil {
		t.Fatal(err)
	}
	m := e.mustUpload(privateChan, alice, rose, "image/webp")
	path := "/" + privateChan + "/" + m.ID + "?maxwidth=320&maxheight=480"
	plain, pb := e.do("GET", path, carol, nil, http.Header{"Accept": {acceptKaiOS}})
	if ct := plain.Header.Get("Content-Type"); ct != "image/png" {
		t.Fatalf("JPEG-only client: %s, want image/png", ct)
	}
	pimg := decodeAnswer(t, "image/png", pb)
	resp, b := e.do("GET", path, carol, nil, http.Header{"Accept": {acceptChrome}})
	if ct := resp.Header.Get("Content-Type"); ct != "image/webp" {
		t.Fatalf("Chrome: %s, want image/webp", ct)
	}
	img := decodeAnswer(t, "image/webp", b)
	if bd, pbd := img.Bounds(), pimg.Bounds(); bd != pbd {
		t.Errorf("WebP %v, PNG %v", bd, pbd)
	}
	// The alpha is the PNG's, up to lossy rounding: compared pixel by pixel.
	var diff, clear int
	bd := img.Bounds()
	for y := bd.Min.Y; y < bd.Max.Y; y++ {
		for x := bd.Min.X; x < bd.Max.X; x++ {
			_, _, _, a := img.At(x, y).RGBA()
			_, _, _, pa := pimg.At(x, y).RGBA()
			if d := int(a>>8) - int(pa>>8); d < -16 || d > 16 {
				diff++
			}
			if pa == 0 {
				clear++
			}
		}
	}
	if diff > bd.Dx()*bd.Dy()/100 || clear < bd.Dx()*bd.Dy()/20 {
		t.Errorf("%d of %d pixels' alpha off by more than 16; %d clear in the PNG", diff, bd.Dx()*bd.Dy(), clear)
	}
	if len(b) >= len(pb) {
		t.Errorf("WebP %d bytes, PNG %d", len(b), len(pb))
	}
	t.Logf("PNG %d bytes, WebP %d bytes; %d clear pixels", len(pb), len(b), clear)
	resp, b = e.do("GET", path+"&maxbytes=8000", carol, nil, http.Header{"Accept": {acceptChrome}})
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/jpeg" || len(b) > 8000 {
		t.Errorf("budget: %d %s, %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(b))
	}

	flat := e.mustUpload(privateChan, alice, pngImage(t, 600, 400, true), "image/png")
	path = "/" + privateChan + "/" + flat.ID + "?maxwidth=320&maxheight=480"
	_, pb = e.do("GET", path, carol, nil, nil)
	resp, b = e.do("GET", path, carol, nil, http.Header{"Accept": {acceptChrome}})
	if resp.Header.Get("Content-Type") != "image/png" || len(b) > len(pb) {
		t.Errorf("flat gradient for Chrome: %s of %d bytes, the PNG is %d", resp.Header.Get("Content-Type"), len(b), len(pb))
	}
}
