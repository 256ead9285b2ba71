package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"io"
	"math"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xmppmedia/mediaserver/auth/localxmpp"
	"github.com/xmppmedia/mediaserver/configs"
	"github.com/xmppmedia/mediaserver/mediasvc/demo"
)

// The browser test: the demo page, served from an origin other than the
// API's, shows a private channel's images as previews chosen by the screen
// and uploads through its form, in a real headless Chromium driven by
// e2e/demo.test.mjs, against real Prosody and the server as buildApp
// wires it.
//
// It needs Node.js 20+, Debian's chromium and `npm ci` in e2e/ (CI installs
// them); without them it fails, saying what is missing. The screenshot is
// kept with `go test -artifacts -outputdir DIR` (see T.ArtifactDir).

const e2eDir = "../../e2e"

// browserTools finds node and chromium and the installed npm packages, or
// says what to install.
func browserTools(t *testing.T) (node, chromium string) {
	t.Helper()
	var missing []string
	node, err := exec.LookPath("node")
	if err != nil {
		missing = append(missing, "node (Node.js 20 or later, which playwright-core needs)")
	}
	chromium = os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		missing = append(missing, "chromium at "+chromium+" (apt-get install -y chromium)")
	}
	if _, err := os.Stat(filepath.Join(e2eDir, "node_modules", "playwright-core", "package.json")); err != nil {
		missing = append(missing, "playwright-core in e2e/node_modules (run `npm ci` in e2e/)")
	}
	if len(missing) > 0 {
		t.Fatalf("the browser test needs: %s", strings.Join(missing, "; "))
	}
	return node, chromium
}

// startDemoStack is startOpsStack's pattern with demo.enabled set and no
// metrics listener: real Prosody and the server on temporary stores.
func startDemoStack(t *testing.T) *opsStack {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s := &opsStack{logs: &lockedBuffer{}}
	var err error
	if s.px, err = localxmpp.Start(ctx, localxmpp.Options{}); err != nil {
		t.Fatalf("start Prosody: %v", err)
	}
	t.Cleanup(s.px.Stop)

	dir := t.TempDir()
	cfg := configs.Default()
	cfg.XMPP.ComponentJID = s.px.ComponentJID().String()
	cfg.XMPP.Secret = s.px.ComponentSecret()
	cfg.XMPP.ServerAddr = s.px.ComponentAddr()
	cfg.XMPP.ChannelServer = s.px.ChannelServer().String()
	cfg.XMPP.ReplyTimeout = 10 * time.Second
	cfg.Storage.Disk.Root = filepath.Join(dir, "media")
	cfg.Metadata.SQLite.Path = filepath.Join(dir, "media.db")
	cfg.Log.Format = "json"
	cfg.Demo.Enabled = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.base = "http://" + ln.Addr().String()
	if err := cfg.Set("http.public_url", s.base); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if s.app, err = buildApp(ctx, cfg, newLogger(cfg.Log, s.logs)); err != nil {
		t.Fatalf("buildApp: %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- s.app.serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
		s.app.close()
		if t.Failed() {
			t.Logf("server log:\n%s", s.logs.String())
		}
	})
	wait, waitCancel := context.WithTimeout(ctx, 15*time.Second)
	defer waitCancel()
	if err := s.app.component.WaitConnected(wait); err != nil {
		t.Fatalf("component did not connect: %v\n%s", err, s.px.Log())
	}
	return s
}

// browserReport is what e2e/demo.test.mjs prints after "RESULT ".
type browserReport struct {
	Viewports  []browserView `json:"viewports"`
	Anonymous  *browserView  `json:"anonymous"`
	SameOrigin *browserView  `json:"sameOrigin"`
	Upload     *struct {
		browserView
		Before int `json:"before"`
	} `json:"upload"`
	FailedRequests []string `json:"failedRequests"`
	ConsoleErrors  []string `json:"consoleErrors"`
	Error          string   `json:"error"`
}

type browserView struct {
	Name   string `json:"name"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
	// PageWidth is the document's scroll width: over Width, the page
	// scrolls sideways.
	PageWidth int `json:"pageWidth"`
	Status    struct {
		State string `json:"state"`
		Text  string `json:"text"`
	} `json:"status"`
	Images []browserImage `json:"images"`
	// Placeholders are read while the previews are held back.
	Placeholders []browserPlaceholder `json:"placeholders"`
	// Tiny are the tiny previews (LQIP), read when they have loaded and
	// the previews are still held back.
	Tiny []browserTiny `json:"tiny"`
}

// browserTiny is an image's tiny preview as the page shows it.
type browserTiny struct {
	ID            string `json:"id"`
	Src           string `json:"src"`
	CurrentSrc    string `json:"currentSrc"`
	Loaded        bool   `json:"loaded"`
	PreviewLoaded bool   `json:"previewLoaded"`
	NaturalWidth  int    `json:"naturalWidth"`
	NaturalHeight int    `json:"naturalHeight"`
	Filter        string `json:"filter"`
	Covers        bool   `json:"covers"`
}

// browserPlaceholder is an image's placeholder as the page drew it,
// compared with the reference ThumbHash decoder (npm thumbhash) in node.
type browserPlaceholder struct {
	ID            string `json:"id"`
	Shown         bool   `json:"shown"`
	PreviewLoaded bool   `json:"previewLoaded"`
	W             int    `json:"w"`
	H             int    `json:"h"`
	RefW          int    `json:"refW"`
	RefH          int    `json:"refH"`
	MaxDiff       int    `json:"maxDiff"`
	RGBA          []int  `json:"rgba"` // as the page drew it
}

type browserImage struct {
	ID            string `json:"id"`
	Alt           string `json:"alt"`
	Complete      bool   `json:"complete"`
	NaturalWidth  int    `json:"naturalWidth"`
	NaturalHeight int    `json:"naturalHeight"`
	CurrentSrc    string `json:"currentSrc"`
	Srcset        string `json:"srcset"`
	Sizes         string `json:"sizes"`
	Loading       string `json:"loading"`
	WidthAttr     string `json:"widthAttr"`
	HeightAttr    string `json:"heightAttr"`
	// Bytes is what the page shows the preview cost (empty where the
	// browser hides sizes: across origins); Cost the caption's text.
	Bytes string `json:"bytes"`
	Cost  string `json:"cost"`
}

func (v browserView) image(alt string) (browserImage, bool) {
	for _, img := range v.Images {
		if img.Alt == alt {
			return img, true
		}
	}
	return browserImage{}, false
}

// fitInside is the preview size of a w x h image for a box: aspect kept,
// never enlarged (API.md, Previews).
func fitInside(w, h, bw, bh int) (int, int) {
	if w <= bw && h <= bh {
		return w, h
	}
	s := min(float64(bw)/float64(w), float64(bh)/float64(h))
	return min(bw, max(1, int(float64(w)*s+0.5))), min(bh, max(1, int(float64(h)*s+0.5)))
}

func TestDemoPageInBrowser(t *testing.T) {
	node, chromium := browserTools(t)
	s := startDemoStack(t)
	user, password := s.newUser(t, "alice", "whitelist")
	channel := user.String()
	credential := s.login(t, user, password, "demo-page")

	// A private channel with one landscape photo in it.
	const seededTitle, seededW, seededH = "Seeded landscape", 800, 600
	seeded := uploadMultipart(t, s.base+"/"+channel+"?auth="+credential, "landscape.jpg", seededTitle, testPhoto(t, seededW, seededH))

	// The page from another origin: other host name and other port.
	pageSrv := httptest.NewServer(demo.Handler())
	t.Cleanup(pageSrv.Close)
	pageURL := strings.Replace(pageSrv.URL, "127.0.0.1", "localhost", 1) + "/"
	pageOrigin := strings.TrimSuffix(pageURL, "/")

	// What the browser relies on, checked over plain HTTP first so a
	// failure below says which part broke.
	t.Run("server", func(t *testing.T) {
		if status, _, body := fetch(t, s.base+"/"+channel); status != http.StatusUnauthorized {
			t.Errorf("private list without credentials: %s, want 401", describe(status, body))
		}
		if status, ct, body := fetch(t, s.base+"/demo/"); status != http.StatusOK || !strings.HasPrefix(ct, "text/html") {
			t.Errorf("demo.enabled: GET /demo/ on the API: %s (%s), want the page", describe(status, body), ct)
		}
		req, _ := http.NewRequest(http.MethodGet, s.base+"/"+channel+"?auth="+credential, nil)
		req.Header.Set("Origin", pageOrigin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != pageOrigin {
			t.Errorf("Access-Control-Allow-Origin %q, want the page's origin %q", got, pageOrigin)
		}
		if got := resp.Header.Get("Access-Control-Allow-Credentials"); got != "true" {
			t.Errorf("Access-Control-Allow-Credentials %q, want true", got)
		}
	})

	dir := t.TempDir()
	uploadPath := filepath.Join(dir, "portrait.jpg")
	const uploadTitle, uploadW, uploadH = "Uploaded from the browser", 600, 800
	if err := os.WriteFile(uploadPath, testPhoto(t, uploadW, uploadH), 0o644); err != nil {
		t.Fatal(err)
	}
	screenshot := filepath.Join(t.ArtifactDir(), "demo-screenshot.png")

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "demo.test.mjs")
	cmd.Dir = e2eDir
	cmd.Env = append(os.Environ(),
		"DEMO_PAGE_URL="+pageURL, "API_URL="+s.base, "CHANNEL="+channel, "AUTH="+credential,
		"SAME_ORIGIN_PAGE_URL="+s.base+"/demo/", "UPLOAD_FILE="+uploadPath, "UPLOAD_TITLE="+uploadTitle, "SCREENSHOT="+screenshot, "CHROMIUM="+chromium)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	runErr := cmd.Run()
	t.Logf("browser run took %s; screenshot: %s", time.Since(start).Round(time.Millisecond), screenshot)
	var report browserReport
	found := false
	for sc := bufio.NewScanner(bytes.NewReader(stdout.Bytes())); sc.Scan(); {
		if line, ok := strings.CutPrefix(sc.Text(), "RESULT "); ok {
			found = json.Unmarshal([]byte(line), &report) == nil
		}
	}
	if runErr != nil || !found || report.Error != "" {
		t.Fatalf("e2e/demo.test.mjs: %v %s\nstdout:\n%s\nstderr:\n%s", runErr, report.Error, stdout.String(), stderr.String())
	}

	// Each screen class gets its own preview: 240x320 on the small phone,
	// 320x480 on the larger one, really loaded with the credential.
	for i, want := range []struct {
		viewport string
		box      [2]int
	}{
		{"phone 240x320", [2]int{240, 320}},
		{"phone 320x480", [2]int{320, 480}},
	} {
		t.Run(want.viewport, func(t *testing.T) {
			if i >= len(report.Viewports) {
				t.Fatalf("no report for %s", want.viewport)
			}
			v := report.Viewports[i]
			if v.Status.State != "ready" {
				t.Fatalf("page status %s: %q", v.Status.State, v.Status.Text)
			}
			if v.PageWidth > v.Width {
				t.Errorf("the page is %d pixels wide on a %d pixel screen", v.PageWidth, v.Width)
			}
			if len(v.Images) != 1 {
				t.Fatalf("%d images shown, want the 1 in the channel: %+v", len(v.Images), v.Images)
			}
			img := v.Images[0]
			if img.ID != seeded || img.Alt != seededTitle {
				t.Errorf("image %s %q, want %s %q", img.ID, img.Alt, seeded, seededTitle)
			}
			pw, ph := fitInside(seededW, seededH, want.box[0], want.box[1])
			checkPreview(t, img, s.base, credential, want.box, pw, ph)
			// The layout box is the large preview's, whatever the screen.
			lw, lh := fitInside(seededW, seededH, 320, 480)
			if img.WidthAttr != fmt.Sprint(lw) || img.HeightAttr != fmt.Sprint(lh) {
				t.Errorf("width/height attributes %sx%s, want %dx%d", img.WidthAttr, img.HeightAttr, lw, lh)
			}
			if img.Loading != "lazy" || strings.Count(img.Srcset, "w,")+1 != 2 || img.Sizes == "" {
				t.Errorf("loading %q, srcset %q, sizes %q: want lazy, two candidates and sizes", img.Loading, img.Srcset, img.Sizes)
			}
			checkPlaceholders(t, v, img, seededW, seededH)
			checkTiny(t, v, img, s.base, credential, seededW, seededH)
			if !strings.Contains(img.Cost, "hides its size") {
				t.Errorf("across origins the page shows the cost %q, want that the browser hides it", img.Cost)
			}
		})
	}

	t.Run("served by the API", func(t *testing.T) {
		v := report.SameOrigin
		if v == nil {
			t.Fatal("no report for the page at /demo/ on the API")
		}
		if v.Status.State != "ready" || len(v.Images) != 1 {
			t.Fatalf("page status %s %q, %d images; want the channel's 1", v.Status.State, v.Status.Text, len(v.Images))
		}
		pw, ph := fitInside(seededW, seededH, 320, 480)
		checkPreview(t, v.Images[0], s.base, credential, [2]int{320, 480}, pw, ph)
		// Same origin, the browser tells the page the bytes: those the
		// server sends for the preview to a browser like it (WebP).
		req, _ := http.NewRequest(http.MethodGet, v.Images[0].CurrentSrc, nil)
		req.Header.Set("Accept", chromiumImageAccept)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.Header.Get("Content-Type") != "image/webp" {
			t.Errorf("the preview as Chromium asks for it: %s %v, want WebP", resp.Header.Get("Content-Type"), err)
		}
		if v.Images[0].Bytes != fmt.Sprint(len(body)) || !strings.Contains(v.Images[0].Cost, fmt.Sprintf("%d bytes", len(body))) {
			t.Errorf("the page shows the preview cost %q (%q), want %d bytes", v.Images[0].Bytes, v.Images[0].Cost, len(body))
		}
	})

	t.Run("no credential", func(t *testing.T) {
		v := report.Anonymous
		if v == nil {
			t.Fatal("no report for the page without a credential")
		}
		if v.Status.State != "error" || !strings.Contains(v.Status.Text, "401") || len(v.Images) != 0 {
			t.Errorf("without the credential the page shows %d images, status %s %q; want none and the 401",
				len(v.Images), v.Status.State, v.Status.Text)
		}
	})

	t.Run("upload", func(t *testing.T) {
		up := report.Upload
		if up == nil {
			t.Fatal("no upload report")
		}
		if up.Status.State != "ready" || !strings.Contains(up.Status.Text, "Uploaded") {
			t.Errorf("page status after upload %s: %q", up.Status.State, up.Status.Text)
		}
		if len(up.Images) != up.Before+1 {
			t.Errorf("%d images after the upload, %d before", len(up.Images), up.Before)
		}
		img, ok := up.image(uploadTitle)
		if !ok {
			t.Fatalf("the uploaded image is not in the list: %+v", up.Images)
		}
		// The desktop screen shows the 320x480 preview.
		pw, ph := fitInside(uploadW, uploadH, 320, 480)
		checkPreview(t, img, s.base, credential, [2]int{320, 480}, pw, ph)

		// The server has it as the form described it, from the user.
		status, _, body := fetch(t, s.base+"/"+channel+"/"+img.ID+"/metadata?auth="+credential)
		var m struct {
			Title, FileName, MimeType, Author string
			Width, Height                     int
		}
		if status != http.StatusOK || json.Unmarshal(body, &m) != nil {
			t.Fatalf("metadata of the upload: %s", describe(status, body))
		}
		if m.Title != uploadTitle || m.FileName != "portrait.jpg" || m.MimeType != "image/jpeg" ||
			m.Author != channel || m.Width != uploadW || m.Height != uploadH {
			t.Errorf("stored %+v, want title %q, portrait.jpg, image/jpeg by %s, %dx%d", m, uploadTitle, channel, uploadW, uploadH)
		}
	})

	t.Run("screenshot", func(t *testing.T) {
		f, err := os.Open(screenshot)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cfg, format, err := image.DecodeConfig(f)
		if err != nil || format != "png" || cfg.Width != 760 {
			t.Errorf("screenshot: %s %dx%d %v, want a PNG 760 wide", format, cfg.Width, cfg.Height, err)
		}
	})

	if len(report.FailedRequests) > 0 || len(report.ConsoleErrors) > 0 {
		t.Errorf("the browser saw failed requests %q and console errors %q", report.FailedRequests, report.ConsoleErrors)
	}
}

// checkPlaceholders asserts that the page drew img's placeholder under it
// before its preview arrived, as the reference ThumbHash decoder draws it,
// with the picture's aspect ratio and about its colour.
func checkPlaceholders(t *testing.T, v browserView, img browserImage, w, h int) {
	t.Helper()
	if len(v.Placeholders) != 1 || v.Placeholders[0].ID != img.ID {
		t.Fatalf("placeholders %+v, want the one of %s", v.Placeholders, img.ID)
	}
	p := v.Placeholders[0]
	if !p.Shown || p.PreviewLoaded {
		t.Errorf("placeholder shown %v with the preview loaded %v: want shown while the preview is on its way", p.Shown, p.PreviewLoaded)
	}
	if p.W != p.RefW || p.H != p.RefH || p.MaxDiff > 2 {
		t.Errorf("the page drew the placeholder %dx%d, the reference decoder %dx%d, pixels up to %d apart", p.W, p.H, p.RefW, p.RefH, p.MaxDiff)
	}
	if p.H == 0 || math.Abs(float64(p.W)/float64(p.H)-float64(w)/float64(h)) > 0.1*float64(w)/float64(h) {
		t.Errorf("placeholder %dx%d, picture %dx%d: aspect ratios differ", p.W, p.H, w, h)
	}
	status, _, body := fetch(t, img.CurrentSrc)
	preview, _, err := image.Decode(bytes.NewReader(body))
	if status != http.StatusOK || err != nil {
		t.Fatalf("preview %s: %d %v", img.CurrentSrc, status, err)
	}
	// Against the preview, the placeholder must do clearly better than a
	// flat box of the preview's mean colour: it shows the picture's
	// shapes, not only its colour.
	diff := meanAbsDiff(p, preview)
	mean := meanRGB(preview)
	flat := browserPlaceholder{W: p.W, H: p.H, RGBA: make([]int, len(p.RGBA))}
	for i := range flat.RGBA {
		if i%4 < 3 {
			flat.RGBA[i] = int(mean[i%4] + 0.5)
		}
	}
	flatDiff := meanAbsDiff(flat, preview)
	t.Logf("placeholder %dx%d drawn before the preview, %d from the reference decoder; %.1f from the preview (mean absolute difference, 0..255), a flat box of its mean colour %.1f",
		p.W, p.H, p.MaxDiff, diff, flatDiff)
	if diff > 0.7*flatDiff {
		t.Errorf("placeholder differs from the preview by %.1f on average, a flat box of its mean colour by %.1f: want clearly less", diff, flatDiff)
	}
}

// checkTiny asserts that the page showed img's tiny preview, the 32x32
// box from the API, blurred over the whole frame while the preview was
// still on its way.
func checkTiny(t *testing.T, v browserView, img browserImage, base, credential string, w, h int) {
	t.Helper()
	if len(v.Tiny) != 1 || v.Tiny[0].ID != img.ID {
		t.Fatalf("tiny previews %+v, want the one of %s", v.Tiny, img.ID)
	}
	tiny := v.Tiny[0]
	tw, th := fitInside(w, h, tinyBox, tinyBox)
	if !tiny.Loaded || tiny.PreviewLoaded || tiny.NaturalWidth != tw || tiny.NaturalHeight != th {
		t.Errorf("tiny preview loaded %v (%dx%d) with the preview loaded %v: want %dx%d shown before the preview",
			tiny.Loaded, tiny.NaturalWidth, tiny.NaturalHeight, tiny.PreviewLoaded, tw, th)
	}
	u, err := url.Parse(tiny.CurrentSrc)
	if err != nil || !strings.HasPrefix(tiny.CurrentSrc, base+"/") || tiny.CurrentSrc != tiny.Src {
		t.Fatalf("tiny preview from %q (the page asked for %q), want the API at %s", tiny.CurrentSrc, tiny.Src, base)
	}
	q := u.Query()
	if q.Get("maxwidth") != fmt.Sprint(tinyBox) || q.Get("maxheight") != fmt.Sprint(tinyBox) || q.Get("auth") != credential {
		t.Errorf("tiny preview %s, want the %dx%[2]d box with the credential", tiny.CurrentSrc, tinyBox)
	}
	if !strings.Contains(tiny.Filter, "blur(") || !tiny.Covers {
		t.Errorf("tiny preview filter %q, covers the frame %v: want blurred over all of it", tiny.Filter, tiny.Covers)
	}
}

// tinyBox is the tiny preview's box, as demo.js asks for it.
const tinyBox = 32

// meanRGB is an image's mean colour, 0..255 per channel.
func meanRGB(img image.Image) [3]float64 {
	var sum [3]float64
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			sum[0], sum[1], sum[2] = sum[0]+float64(r>>8), sum[1]+float64(g>>8), sum[2]+float64(bl>>8)
		}
	}
	n := float64(b.Dx() * b.Dy())
	return [3]float64{sum[0] / n, sum[1] / n, sum[2] / n}
}

// meanAbsDiff compares the placeholder's pixels with the preview averaged
// over the area each of them covers, over R, G and B.
func meanAbsDiff(p browserPlaceholder, preview image.Image) float64 {
	if p.W == 0 || p.H == 0 || len(p.RGBA) != 4*p.W*p.H {
		return 255
	}
	b := preview.Bounds()
	var total float64
	for py := 0; py < p.H; py++ {
		for px := 0; px < p.W; px++ {
			x0, x1 := b.Min.X+px*b.Dx()/p.W, b.Min.X+(px+1)*b.Dx()/p.W
			y0, y1 := b.Min.Y+py*b.Dy()/p.H, b.Min.Y+(py+1)*b.Dy()/p.H
			var sum [3]float64
			for y := y0; y < y1; y++ {
				for x := x0; x < x1; x++ {
					r, g, bl, _ := preview.At(x, y).RGBA()
					sum[0], sum[1], sum[2] = sum[0]+float64(r>>8), sum[1]+float64(g>>8), sum[2]+float64(bl>>8)
				}
			}
			n := float64((x1 - x0) * (y1 - y0))
			for c := range 3 {
				total += math.Abs(sum[c]/n - float64(p.RGBA[4*(py*p.W+px)+c]))
			}
		}
	}
	return total / float64(3*p.W*p.H)
}

// checkPreview asserts that the browser loaded img from the API with the
// credential as the preview for box, and that it is pw x ph pixels: as
// the browser decoded it and as the server sends it.
func checkPreview(t *testing.T, img browserImage, base, credential string, box [2]int, pw, ph int) {
	t.Helper()
	if !img.Complete || img.NaturalWidth != pw || img.NaturalHeight != ph {
		t.Errorf("image %s: complete %v, natural size %dx%d, want loaded at %dx%d",
			img.ID, img.Complete, img.NaturalWidth, img.NaturalHeight, pw, ph)
	}
	u, err := url.Parse(img.CurrentSrc)
	if err != nil || !strings.HasPrefix(img.CurrentSrc, base+"/") {
		t.Fatalf("image %s loaded from %q, want the API at %s", img.ID, img.CurrentSrc, base)
	}
	q := u.Query()
	if q.Get("maxwidth") != fmt.Sprint(box[0]) || q.Get("maxheight") != fmt.Sprint(box[1]) || q.Get("auth") != credential {
		t.Errorf("image %s loaded from %s, want the %dx%d preview with the credential", img.ID, img.CurrentSrc, box[0], box[1])
	}
	status, ct, body := fetch(t, img.CurrentSrc)
	cfg, _, err := image.DecodeConfig(bytes.NewReader(body))
	if status != http.StatusOK || err != nil || cfg.Width != pw || cfg.Height != ph {
		t.Errorf("%s: %d %s %dx%d (%v), want a %dx%d preview", img.CurrentSrc, status, ct, cfg.Width, cfg.Height, err, pw, ph)
	}
}

// uploadMultipart uploads data as the demo page's form does and returns
// the new item's id.
func uploadMultipart(t *testing.T, target, filename, title string, data []byte) string {
	t.Helper()
	id, err := postMultipart(target, filename, title, data)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// postMultipart is uploadMultipart for any goroutine: it returns what
// went wrong instead of failing the test.
func postMultipart(target, filename, title string, data []byte) (string, error) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, kv := range [][2]string{{"content-type", "image/jpeg"}, {"filename", filename}, {"title", title}} {
		mw.WriteField(kv[0], kv[1])
	}
	fw, err := mw.CreateFormFile("data", filename)
	if err != nil {
		return "", err
	}
	fw.Write(data)
	mw.Close()
	client := &http.Client{Timeout: 60 * time.Second}
	resp, err := client.Post(target, mw.FormDataContentType(), &body)
	if err != nil {
		return "", fmt.Errorf("upload %s: %v", filename, err)
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	out.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("upload %s: %s", filename, describe(resp.StatusCode, out.Bytes()))
	}
	var v struct{ ID string }
	if err := json.Unmarshal(out.Bytes(), &v); err != nil || v.ID == "" {
		return "", fmt.Errorf("upload %s: not media JSON: %s", filename, out.Bytes())
	}
	return v.ID, nil
}
