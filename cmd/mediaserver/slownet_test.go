package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/draw"
	_ "image/jpeg"
	_ "image/png"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The link: Chrome DevTools' "Regular 2G" preset (the one Lighthouse and
// WebPageTest called 2G), applied per request by
// Network.emulateNetworkConditions.
const (
	link2GDownKbps = 250
	link2GUpKbps   = 50
	link2GRTTMs    = 300
)

// The viewport: the larger of the two screen classes.
const phoneW, phoneH = 320, 480

// realPhotoFiles are 20 photographs: 14 from lomiri-wallpapers-16.04
// (CC-BY-4.0, CC-BY-SA-4.0, CC0-1.0; Ubuntu's 2018 wallpaper contest) and
// 6 from mate-backgrounds (GPL-2+), 1.3 to 16 MP, landscape and portrait.
var realPhotoFiles = []string{
	"Bridge_by_Sander_Klootwijk.jpg", "Dragonfly_by_Bolly.jpg", "Picture_0B_by_freespace.jpg",
	"Picture_1A_by_freespace.jpg", "Wine_by_Jakkub_Mede.jpg", "aitzgorri_by_Aitzol_Berasategi.jpg",
	"analogpattern_by_Peter_Nerlich.jpg", "free_by_Peter_Nerlich.jpg", "friends_by_Aitzol_Berasategi.jpg",
	"greentock_by_Peter_Nerlich.jpg", "life_by_Aitzol_Berasategi.jpg", "picosdeeuropa_by_Aitzol_Berasategi.jpg",
	"seeding_by_Clements_Engelhardt.jpg", "sunset_by_Aitzol_Berasategi.jpg",
	"mate/nature/Dune.jpg", "mate/nature/LadyBird.jpg", "mate/nature/RainDrops.jpg",
	"mate/nature/Storm.jpg", "mate/nature/TwoWings.jpg", "mate/nature/YellowFlower.jpg",
}

// realPhotos finds the photographs, or says which packages to install.
func realPhotos(t *testing.T) []string {
	t.Helper()
	var paths []string
	for _, f := range realPhotoFiles {
		p := filepath.Join("/usr/share/backgrounds", f)
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("the 2G test needs the photographs of lomiri-wallpapers-16.04 and mate-backgrounds (apt-get install -y lomiri-wallpapers-16.04 mate-backgrounds): %v", err)
		}
		paths = append(paths, p)
	}
	return paths
}

// slownetReport is what e2e/slownet.test.mjs prints after "RESULT ".
type slownetReport struct {
	Runs           []slownetRun  `json:"runs"`
	FirstPaint     []paintRecord `json:"firstPaint"`
	FailedRequests []string      `json:"failedRequests"`
	ConsoleErrors  []string      `json:"consoleErrors"`
	Error          string        `json:"error"`
}

type slownetRun struct {
	SaveData bool `json:"saveData"`
	// Milliseconds from the navigation's start.
	PlaceholdersAt float64 `json:"placeholdersAt"`
	AllLoadedAt    float64 `json:"allLoadedAt"`
	Screens        []struct {
		At float64 `json:"at"`
		Y  float64 `json:"y"`
	} `json:"screens"`
	// Transferred is every byte the page cost, headers included.
	Transferred  int            `json:"transferred"`
	Requests     int            `json:"requests"`
	SaveDataSent []string       `json:"saveDataSent"`
	Images       []slownetImage `json:"images"`
}

type slownetImage struct {
	ID             string         `json:"id"`
	Complete       bool           `json:"complete"`
	NaturalWidth   int            `json:"naturalWidth"`
	NaturalHeight  int            `json:"naturalHeight"`
	Srcset         string         `json:"srcset"`
	Sizes          string         `json:"sizes"`
	Loading        string         `json:"loading"`
	HasPlaceholder bool           `json:"hasPlaceholder"`
	Bytes          string         `json:"bytes"`
	Cost           string         `json:"cost"`
	Preview        *resourceTimes `json:"preview"`
	PreviewURL     string         `json:"previewURL"`
	Tiny           *resourceTimes `json:"tiny"`
}

// resourceTimes is a resource timing entry: milliseconds from the
// navigation's start, and the body's bytes as sent.
type resourceTimes struct {
	Start float64 `json:"start"`
	End   float64 `json:"end"`
	Bytes int     `json:"bytes"`
}

// paintRecord is one image page loaded behind the link: when the image
// was asked for and arrived, and every frame painted meanwhile
// (milliseconds since the epoch).
type paintRecord struct {
	Name    string  `json:"name"`
	Variant string  `json:"variant"`
	Width   int     `json:"width"`
	Height  int     `json:"height"`
	Start   float64 `json:"start"`
	End     float64 `json:"end"`
	Bytes   int     `json:"bytes"`
	Frames  []struct {
		At   float64 `json:"at"`
		File string  `json:"file"`
	} `json:"frames"`
}

// paintItem is a page of one image for the first-paint measurement.
type paintItem struct {
	Name    string `json:"name"`
	Variant string `json:"variant"`
	URL     string `json:"url"`
	Width   int    `json:"width"`
	Height  int    `json:"height"`
}

// TestDemoPageOn2G measures the demo page on a 320x480 phone over a 2G
// link, for a channel of 20 real photographs: bytes, when every
// placeholder is shown, when every tiny preview and every preview has
// arrived, with and without Save-Data; then the first paint of baseline
// against progressive JPEG copies of the same previews, under the same
// link. It prints the figures README and docs/previews.md ("The slow
// network") quote, and asserts what a person would see: every image
// with its placeholder at once, its tiny preview before it, the preview
// the screen takes, and the bytes it cost.
//
// The photos come from two Debian packages of free-licensed photographs
// (scripts/test installs them); the browser parts are those of
// TestDemoPageInBrowser.
func TestDemoPageOn2G(t *testing.T) {
	node, chromium := browserTools(t)
	photos := realPhotos(t)
	jpegtran, err := exec.LookPath("jpegtran")
	if err != nil {
		t.Fatal("the 2G test makes progressive copies with jpegtran: apt-get install -y libjpeg-turbo-progs")
	}
	s := startDemoStack(t)
	user, password := s.newUser(t, "alice", "whitelist")
	channel := user.String()
	credential := s.login(t, user, password, "slow-network")

	// The channel: 20 photographs, their sizes kept to check the previews.
	type photo struct {
		name string
		w, h int
	}
	byID := map[string]photo{}
	start := time.Now()
	var uploaded int64
	type done struct {
		id  string
		p   photo
		n   int
		err error
	}
	// Two uploads at a time: the server makes previews on as many
	// workers as there are cores.
	results := make(chan done, len(photos))
	queue := make(chan string, len(photos))
	for _, p := range photos {
		queue <- p
	}
	close(queue)
	for range 2 {
		go func() {
			for p := range queue {
				d := done{p: photo{name: filepath.Base(p)}}
				data, err := os.ReadFile(p)
				if err == nil {
					var cfg image.Config
					if cfg, _, err = image.DecodeConfig(bytes.NewReader(data)); err == nil {
						d.p.w, d.p.h, d.n = cfg.Width, cfg.Height, len(data)
						d.id, err = postMultipart(s.base+"/"+channel+"?auth="+credential, d.p.name, strings.TrimSuffix(d.p.name, ".jpg"), data)
					}
				}
				d.err = err
				results <- d
			}
		}()
	}
	for range photos {
		d := <-results
		if d.err != nil {
			t.Fatalf("%s: %v", d.p.name, d.err)
		}
		byID[d.id] = d.p
		uploaded += int64(d.n)
	}
	t.Logf("uploaded %d photos, %.1f MB, in %s", len(photos), float64(uploaded)/1e6, time.Since(start).Round(time.Millisecond))

	// The progressive question: the stored 320x480-box previews as the
	// server sends them to a browser that takes only JPEG, and lossless
	// jpegtran copies of each, baseline with optimized Huffman tables and
	// progressive (libjpeg's default scan script), served from a bare file
	// server. Half the photos keep the run short.
	dir := t.TempDir()
	var paint []paintItem
	type sizes struct{ baseline, optimized, progressive int }
	var total sizes
	ids := make([]string, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	// In the photos' order, so every run measures the same half.
	slices.SortFunc(ids, func(a, b string) int { return strings.Compare(byID[a].name, byID[b].name) })
	mux := http.NewServeMux()
	mux.Handle("/img/", http.StripPrefix("/img/", http.FileServer(http.Dir(dir))))
	mux.HandleFunc("/page/{file}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!DOCTYPE html><html><body style="margin:0;background:#fff"><img alt="" style="display:block" src="/img/%s"></body></html>`, r.PathValue("file"))
	})
	files := httptest.NewServer(mux)
	t.Cleanup(files.Close)
	for i, id := range ids {
		status, ct, body := fetch(t, fmt.Sprintf("%s/%s/%s?maxwidth=%d&maxheight=%d&auth=%s", s.base, channel, id, phoneW, phoneH, credential))
		if status != http.StatusOK || ct != "image/jpeg" {
			t.Fatalf("preview of %s: %s (%s), want a JPEG", byID[id].name, describe(status, body), ct)
		}
		cfg, _, err := image.DecodeConfig(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		base := filepath.Join(dir, fmt.Sprintf("%02d-baseline.jpg", i))
		if err := os.WriteFile(base, body, 0o644); err != nil {
			t.Fatal(err)
		}
		n := map[string]int{"baseline": len(body)}
		for _, v := range []struct{ variant, flag string }{{"optimized", "-optimize"}, {"progressive", "-progressive"}} {
			out := filepath.Join(dir, fmt.Sprintf("%02d-%s.jpg", i, v.variant))
			if msg, err := exec.Command(jpegtran, "-copy", "none", v.flag, "-outfile", out, base).CombinedOutput(); err != nil {
				t.Fatalf("jpegtran %s: %v %s", v.flag, err, msg)
			}
			st, err := os.Stat(out)
			if err != nil {
				t.Fatal(err)
			}
			n[v.variant] = int(st.Size())
		}
		total.baseline += n["baseline"]
		total.optimized += n["optimized"]
		total.progressive += n["progressive"]
		if i%2 == 0 {
			for _, variant := range []string{"baseline", "progressive"} {
				file := fmt.Sprintf("%02d-%s.jpg", i, variant)
				paint = append(paint, paintItem{Name: fmt.Sprintf("%02d", i), Variant: variant, URL: files.URL + "/page/" + file, Width: cfg.Width, Height: cfg.Height})
			}
		}
	}
	paintJSON, err := json.Marshal(paint)
	if err != nil {
		t.Fatal(err)
	}

	// The server makes a WebP or Save-Data variant on its first request
	// and keeps it (docs/previews.md); the runs below measure the network,
	// so the variants the browser will ask for are made first.
	start = time.Now()
	warmPreviews(t, s.base, channel, credential, ids, [][2]int{{phoneW, phoneH}, {tinyBox, tinyBox}})
	t.Logf("made the WebP and Save-Data variants of %d previews in %s", len(ids), time.Since(start).Round(time.Millisecond))

	framesDir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "slownet.test.mjs")
	cmd.Dir = e2eDir
	cmd.Env = append(os.Environ(),
		"PAGE_URL="+s.base+"/demo/?channel="+channel+"&auth="+credential, fmt.Sprintf("COUNT=%d", len(photos)),
		fmt.Sprintf("DOWN_KBPS=%d", link2GDownKbps), fmt.Sprintf("UP_KBPS=%d", link2GUpKbps), fmt.Sprintf("RTT_MS=%d", link2GRTTMs),
		fmt.Sprintf("WIDTH=%d", phoneW), fmt.Sprintf("HEIGHT=%d", phoneH),
		"FIRST_PAINT="+string(paintJSON), "FRAMES_DIR="+framesDir, "CHROMIUM="+chromium)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start = time.Now()
	runErr := cmd.Run()
	t.Logf("browser run took %s", time.Since(start).Round(time.Millisecond))
	var report slownetReport
	found := false
	for sc := bufio.NewScanner(bytes.NewReader(stdout.Bytes())); sc.Scan(); {
		if line, ok := strings.CutPrefix(sc.Text(), "RESULT "); ok {
			found = json.Unmarshal([]byte(line), &report) == nil
		}
	}
	if runErr != nil || !found || report.Error != "" {
		t.Fatalf("e2e/slownet.test.mjs: %v %s\nstdout:\n%.4000s\nstderr:\n%s", runErr, report.Error, stdout.String(), stderr.String())
	}
	if len(report.Runs) != 2 {
		t.Fatalf("%d runs reported, want without and with Save-Data", len(report.Runs))
	}

	link := fmt.Sprintf("2G (%d/%d kbit/s, %d ms RTT), %dx%d, %d photos", link2GDownKbps, link2GUpKbps, link2GRTTMs, phoneW, phoneH, len(photos))
	var figures []string
	for _, run := range report.Runs {
		name := "plain"
		if run.SaveData {
			name = "Save-Data: on"
		}
		t.Run(name, func(t *testing.T) {
			checkSlowRun(t, run, len(photos), func(id string) (int, int, bool) {
				p, ok := byID[id]
				return p.w, p.h, ok
			})
			figures = append(figures, slowRunFigures(name, run))
		})
	}

	t.Run("first paint", func(t *testing.T) {
		figures = append(figures, firstPaintFigures(t, report.FirstPaint, link2GRTTMs))
		figures = append(figures, fmt.Sprintf("bytes of the %d previews (320x480 box): Go baseline %d, jpegtran -optimize %d (%+.1f%%), jpegtran -progressive %d (%+.1f%%)",
			len(ids), total.baseline, total.optimized, pct(total.optimized, total.baseline), total.progressive, pct(total.progressive, total.baseline)))
	})
	t.Logf("TestDemoPageOn2G, %s:\n%s", link, strings.Join(figures, "\n"))

	if len(report.FailedRequests) > 0 || len(report.ConsoleErrors) > 0 {
		t.Errorf("the browser saw failed requests %q and console errors %q", report.FailedRequests, report.ConsoleErrors)
	}
}

// chromiumImageAccept is the Accept header Chromium sends for images.
const chromiumImageAccept = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"

// warmPreviews asks for each item's previews in each box as Chromium
// does, with and without Save-Data, two at a time.
func warmPreviews(t *testing.T, base, channel, credential string, ids []string, boxes [][2]int) {
	t.Helper()
	var urls []string
	for _, id := range ids {
		for _, b := range boxes {
			urls = append(urls, fmt.Sprintf("%s/%s/%s?maxwidth=%d&maxheight=%d&auth=%s", base, channel, id, b[0], b[1], credential))
		}
	}
	type req struct {
		url      string
		saveData bool
	}
	queue := make(chan req, 2*len(urls))
	for _, u := range urls {
		queue <- req{u, false}
		queue <- req{u, true}
	}
	close(queue)
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			client := &http.Client{Timeout: 60 * time.Second}
			for r := range queue {
				hr, _ := http.NewRequest(http.MethodGet, r.url, nil)
				hr.Header.Set("Accept", chromiumImageAccept)
				if r.saveData {
					hr.Header.Set("Save-Data", "on")
				}
				resp, err := client.Do(hr)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("%s (Save-Data %v): %s", r.url, r.saveData, resp.Status)
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func pct(a, b int) float64 { return 100 * (float64(a) - float64(b)) / float64(b) }

// checkSlowRun asserts what a person sees on the slow page: every image,
// its placeholder at once, its tiny preview before its preview, the
// preview the phone's screen takes, and its cost in bytes.
func checkSlowRun(t *testing.T, run slownetRun, n int, size func(id string) (int, int, bool)) {
	t.Helper()
	if len(run.Images) != n {
		t.Fatalf("%d images on the page, want %d", len(run.Images), n)
	}
	for _, img := range run.Images {
		w, h, ok := size(img.ID)
		if !ok {
			t.Errorf("image %s is none of the uploads", img.ID)
			continue
		}
		pw, ph := fitInside(w, h, phoneW, phoneH)
		// Under Save-Data the server may send a smaller picture to fit
		// its byte budget, never a larger one.
		if !img.Complete || img.NaturalWidth > pw || img.NaturalHeight > ph || (!run.SaveData && (img.NaturalWidth != pw || img.NaturalHeight != ph)) {
			t.Errorf("image %s (%dx%d): loaded %v at %dx%d, want the %dx%d preview", img.ID, w, h, img.Complete, img.NaturalWidth, img.NaturalHeight, pw, ph)
		}
		if !strings.Contains(img.PreviewURL, fmt.Sprintf("maxwidth=%d&maxheight=%d", phoneW, phoneH)) {
			t.Errorf("image %s loaded from %s, want the %dx%d box", img.ID, img.PreviewURL, phoneW, phoneH)
		}
		if img.Loading != "lazy" || strings.Count(img.Srcset, "w,")+1 != 2 || img.Sizes == "" || !img.HasPlaceholder {
			t.Errorf("image %s: loading %q, srcset %q, sizes %q, placeholder %v: want lazy, two candidates, sizes and a placeholder",
				img.ID, img.Loading, img.Srcset, img.Sizes, img.HasPlaceholder)
		}
		if img.Preview == nil || img.Tiny == nil {
			t.Errorf("image %s: no resource timing for the preview (%v) or the tiny preview (%v)", img.ID, img.Preview, img.Tiny)
			continue
		}
		// The page shows the bytes the browser received for the preview.
		if img.Bytes != fmt.Sprint(img.Preview.Bytes) || !strings.Contains(img.Cost, fmt.Sprintf("%d bytes", img.Preview.Bytes)) {
			t.Errorf("image %s: the page shows %q (%q), the browser received %d bytes", img.ID, img.Bytes, img.Cost, img.Preview.Bytes)
		}
		if img.Tiny.End > img.Preview.End {
			t.Errorf("image %s: the tiny preview arrived at %.0f ms, after its preview (%.0f ms)", img.ID, img.Tiny.End, img.Preview.End)
		}
	}
	if run.PlaceholdersAt <= 0 || run.PlaceholdersAt > run.AllLoadedAt {
		t.Errorf("placeholders shown at %.0f ms, previews loaded at %.0f ms", run.PlaceholdersAt, run.AllLoadedAt)
	}
	want := ""
	if run.SaveData {
		want = "on"
	}
	for _, v := range run.SaveDataSent {
		if v != want {
			t.Errorf("a preview request carried Save-Data %q, want %q", v, want)
			break
		}
	}
	if len(run.SaveDataSent) < n {
		t.Errorf("%d preview requests seen on the wire, want at least %d", len(run.SaveDataSent), n)
	}
}

// slowRunFigures is one run's line of figures.
func slowRunFigures(name string, run slownetRun) string {
	var previews, tiny int
	var lastTiny, firstPreview float64
	firstPreview = math.Inf(1)
	var ahead []float64
	for _, img := range run.Images {
		if img.Preview == nil || img.Tiny == nil {
			continue
		}
		previews += img.Preview.Bytes
		tiny += img.Tiny.Bytes
		lastTiny = max(lastTiny, img.Tiny.End)
		firstPreview = min(firstPreview, img.Preview.End)
		ahead = append(ahead, img.Preview.End-img.Tiny.End)
	}
	return fmt.Sprintf("%s: %.1f KB transferred in %d requests (previews %.1f KB, tiny previews %.1f KB); every placeholder shown %.2f s; first preview %.2f s; every preview %.2f s, every tiny preview %.2f s, each tiny one shown a median %.2f s before its preview was complete (%d screens, scrolled on when the previews on screen had loaded)",
		name, float64(run.Transferred)/1000, run.Requests, float64(previews)/1000, float64(tiny)/1000,
		run.PlaceholdersAt/1000, firstPreview/1000, run.AllLoadedAt/1000, lastTiny/1000, median(ahead)/1000, len(run.Screens))
}

// firstPaintFigures reads the frames painted while each image page
// loaded and says, per variant, when the picture first showed (any of
// its area painted), when all of it showed at least blurred (the frame
// within 20 dB PSNR of the final one, over the whole picture), and when
// it was complete, as medians from the image's request.
func firstPaintFigures(t *testing.T, records []paintRecord, rttMs int) string {
	t.Helper()
	type times struct{ first, whole, done, bytes []float64 }
	by := map[string]*times{}
	for _, rec := range records {
		if len(rec.Frames) == 0 {
			t.Errorf("%s %s: no frames painted", rec.Name, rec.Variant)
			continue
		}
		// The last frame is the final paint; the others are read in
		// order until both moments are found.
		final := readCrop(t, rec.Frames[len(rec.Frames)-1].File, rec.Width, rec.Height)
		first, whole := math.NaN(), math.NaN()
		for _, f := range rec.Frames {
			at := f.At - rec.Start
			if at < 0 {
				continue // the blank page before the image was asked for
			}
			c := readCrop(t, f.File, rec.Width, rec.Height)
			if math.IsNaN(first) && paintedFraction(c) > 0.01 {
				first = at
			}
			if psnr(c, final) >= 20 {
				whole = at
				break
			}
		}
		if math.IsNaN(first) || math.IsNaN(whole) {
			t.Errorf("%s %s: the picture never showed in %d frames", rec.Name, rec.Variant, len(rec.Frames))
			continue
		}
		if first < float64(rttMs)/2 {
			t.Errorf("%s %s: painted %.0f ms after it was asked for, under the link's round trip: the link is not throttled", rec.Name, rec.Variant, first)
		}
		tm := by[rec.Variant]
		if tm == nil {
			tm = &times{}
			by[rec.Variant] = tm
		}
		tm.first = append(tm.first, first)
		tm.whole = append(tm.whole, whole)
		tm.done = append(tm.done, rec.End-rec.Start)
		tm.bytes = append(tm.bytes, float64(rec.Bytes))
	}
	var parts []string
	for _, variant := range []string{"baseline", "progressive"} {
		tm := by[variant]
		if tm == nil {
			t.Errorf("no first-paint records for %s", variant)
			continue
		}
		parts = append(parts, fmt.Sprintf("%s (%d previews, median %.1f KB): first paint %.2f s, whole picture (>= 20 dB) %.2f s, complete %.2f s",
			variant, len(tm.first), median(tm.bytes)/1000, median(tm.first)/1000, median(tm.whole)/1000, median(tm.done)/1000))
	}
	return "first paint, one preview per page, medians from its request: " + strings.Join(parts, "; ")
}

// readCrop is the picture's area, top left, of a frame, as RGBA.
func readCrop(t *testing.T, file string, w, h int) *image.RGBA {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(out, out.Rect, img, image.Point{}, draw.Src)
	return out
}

// paintedFraction is the share of pixels that are not the page's white.
func paintedFraction(img *image.RGBA) float64 {
	painted := 0
	for i := 0; i+3 < len(img.Pix); i += 4 {
		if img.Pix[i] < 248 || img.Pix[i+1] < 248 || img.Pix[i+2] < 248 {
			painted++
		}
	}
	return float64(painted) / float64(len(img.Pix)/4)
}

// psnr of R, G and B between two pictures of one size.
func psnr(a, b *image.RGBA) float64 {
	var sum float64
	for i := 0; i+3 < len(a.Pix) && i+3 < len(b.Pix); i += 4 {
		for c := range 3 {
			d := float64(a.Pix[i+c]) - float64(b.Pix[i+c])
			sum += d * d
		}
	}
	mse := sum / float64(3*len(a.Pix)/4)
	if mse == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/mse)
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return math.NaN()
	}
	return s[len(s)/2]
}
