package transform

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/color"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/disintegration/imaging"

	"github.com/xmppmedia/mediaserver/transform/internal/quality"
	"github.com/xmppmedia/mediaserver/transform/internal/testimage"
)

// decodeThumbHash draws a ThumbHash at most 32 pixels on its long side,
// following the format's published decoding steps. It is the test's own
// reading of the format; TestThumbHashMatchesReference checks both sides
// against the reference package.
func decodeThumbHash(t testing.TB, hash []byte) *image.NRGBA {
	t.Helper()
	if len(hash) < 5 {
		t.Fatalf("hash of %d bytes", len(hash))
	}
	h24 := int(hash[0]) | int(hash[1])<<8 | int(hash[2])<<16
	h16 := int(hash[3]) | int(hash[4])<<8
	lDC := float64(h24&63) / 63
	pDC := float64(h24>>6&63)/31.5 - 1
	qDC := float64(h24>>12&63)/31.5 - 1
	lScale := float64(h24>>18&31) / 31
	hasAlpha := h24>>23 != 0
	pScale := float64(h16>>3&63) / 63
	qScale := float64(h16>>9&63) / 63
	landscape := h16>>15 != 0
	lLimit := 7
	if hasAlpha {
		lLimit = 5
	}
	lx, ly := h16&7, lLimit
	if landscape {
		lx, ly = lLimit, h16&7
	}
	ratio := float64(lx) / float64(ly)
	lx, ly = max(3, lx), max(3, ly)
	aDC, aScale := 1.0, 0.0
	start := 5
	if hasAlpha {
		if len(hash) < 6 {
			t.Fatalf("alpha hash of %d bytes", len(hash))
		}
		aDC, aScale = float64(hash[5]&15)/15, float64(hash[5]>>4)/15
		start = 6
	}
	idx := 0
	terms := func(nx, ny int, scale float64) []float64 {
		var ac []float64
		for cy := 0; cy < ny; cy++ {
			for cx := 0; cx*ny < nx*(ny-cy); cx++ {
				if cx == 0 && cy == 0 {
					continue
				}
				k := start + idx/2
				if k >= len(hash) {
					t.Fatalf("hash of %d bytes is short", len(hash))
				}
				v := float64(hash[k]>>(4*(idx&1))&15)/7.5 - 1
				ac = append(ac, v*scale)
				idx++
			}
		}
		return ac
	}
	lAC := terms(lx, ly, lScale)
	pAC := terms(3, 3, pScale*1.25)
	qAC := terms(3, 3, qScale*1.25)
	var aAC []float64
	if hasAlpha {
		aAC = terms(5, 5, aScale)
	}
	w, h := 32, 32
	if ratio > 1 {
		h = int(jsRound(32 / ratio))
	} else {
		w = int(jsRound(32 * ratio))
	}
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	sum := func(ac []float64, nx, ny int, x, y float64) float64 {
		var v float64
		j := 0
		for cy := 0; cy < ny; cy++ {
			fy := math.Cos(math.Pi/float64(h)*float64(cy)*(y+0.5)) * 2
			for cx := 0; cx*ny < nx*(ny-cy); cx++ {
				if cx == 0 && cy == 0 {
					continue
				}
				v += ac[j] * math.Cos(math.Pi/float64(w)*float64(cx)*(x+0.5)) * fy
				j++
			}
		}
		return v
	}
	c8 := func(v float64) uint8 { return uint8(math.Round(255 * math.Max(0, math.Min(1, v)))) }
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			l := lDC + sum(lAC, lx, ly, float64(x), float64(y))
			p := pDC + sum(pAC, 3, 3, float64(x), float64(y))
			q := qDC + sum(qAC, 3, 3, float64(x), float64(y))
			a := aDC
			if hasAlpha {
				a += sum(aAC, 5, 5, float64(x), float64(y))
			}
			b := l - 2.0/3*p
			r := (3*l - b + q) / 2
			img.SetNRGBA(x, y, color.NRGBA{c8(r), c8(r - q), c8(b), c8(a)})
		}
	}
	return img
}

// placeholderTestImages are upright pictures with the large shapes a
// placeholder must keep: flat quadrants, a photo-like texture, a portrait
// gradient, and a picture with transparency.
func placeholderTestImages() map[string]image.Image {
	grad := image.NewNRGBA(image.Rect(0, 0, 300, 500))
	for y := 0; y < 500; y++ {
		for x := 0; x < 300; x++ {
			grad.SetNRGBA(x, y, color.NRGBA{uint8(y / 2), uint8(200 - y/3), uint8(x * 255 / 300), 255})
		}
	}
	alpha := image.NewNRGBA(image.Rect(0, 0, 400, 300))
	for y := 0; y < 300; y++ {
		for x := 0; x < 400; x++ {
			a := uint8(255)
			if x < 200 {
				a = 0
			}
			alpha.SetNRGBA(x, y, color.NRGBA{30, 60, 220, a})
		}
	}
	return map[string]image.Image{
		"quadrants 800x600": quadrants(800, 600),
		"photo 640x480":     testimage.Photo(640, 480, 3),
		"gradient 300x500":  grad,
		"alpha 400x300":     alpha,
	}
}

// minPlaceholderPSNR is how close a decoded placeholder must be to the
// picture: a blur of four saturated quadrants scores about 12.5 dB, a
// smooth photo 16-22 dB; another picture's placeholder scores 5-9.
const minPlaceholderPSNR = 11.0

// placeholderPSNR compares a decoded placeholder with the upright picture
// shrunk to the placeholder's size, both over white.
func placeholderPSNR(t testing.TB, decoded, upright image.Image) float64 {
	t.Helper()
	b := decoded.Bounds()
	ref := imaging.Resize(upright, b.Dx(), b.Dy(), imaging.Box)
	white := imaging.New(b.Dx(), b.Dy(), color.White)
	psnr, err := quality.PSNRRGB(imaging.Overlay(white, decoded, image.Point{}, 1), imaging.Overlay(white, ref, image.Point{}, 1))
	if err != nil {
		t.Fatal(err)
	}
	return psnr
}

func TestThumbHashLooksLikeTheImage(t *testing.T) {
	imgs := placeholderTestImages()
	for name, img := range imgs {
		t.Run(name, func(t *testing.T) {
			small := imaging.Fit(img, placeholderSide, placeholderSide, imaging.Lanczos)
			hash := thumbHash(small)
			if len(hash) < 5 || len(hash) > 40 {
				t.Fatalf("hash is %d bytes, want a few dozen", len(hash))
			}
			dec := decodeThumbHash(t, hash)
			ib, db := img.Bounds(), dec.Bounds()
			want := float64(ib.Dx()) / float64(ib.Dy())
			if got := float64(db.Dx()) / float64(db.Dy()); math.Abs(got-want)/want > 0.25 {
				t.Errorf("decoded %dx%d: aspect %.2f, picture's %.2f", db.Dx(), db.Dy(), got, want)
			}
			own := placeholderPSNR(t, dec, img)
			// Every other picture's placeholder, stretched to this one's
			// size, must look less like it: the check tells pictures apart.
			for other, o := range imgs {
				if other == name {
					continue
				}
				od := imaging.Resize(decodeThumbHash(t, thumbHash(imaging.Fit(o, placeholderSide, placeholderSide, imaging.Lanczos))), db.Dx(), db.Dy(), imaging.Linear)
				if p := placeholderPSNR(t, od, img); p >= own {
					t.Errorf("placeholder of %s is as close (%.1f dB) as its own (%.1f dB)", other, p, own)
				}
			}
			if own < minPlaceholderPSNR {
				t.Errorf("decoded placeholder is %.1f dB from the picture, want >= %.0f", own, minPlaceholderPSNR)
			}
			t.Logf("%d bytes, %dx%d decoded, %.1f dB", len(hash), db.Dx(), db.Dy(), own)
		})
	}
}

// TestThumbHashMatchesReference runs the reference ThumbHash package
// (npm thumbhash, installed in e2e/ by `npm ci`) with node on the same
// pixels: its encoder must produce our hash (each 4-bit step within one,
// for rounding of the cosines), and its decoder must draw our hash like
// the picture.
func TestThumbHashMatchesReference(t *testing.T) {
	// Missing tools fail the test, as they fail the browser test: a skip
	// would quietly drop the only independent check of the encoder.
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node (Node.js 20 or later) is needed: %v", err)
	}
	module, err := filepath.Abs(filepath.Join("..", "e2e", "node_modules", "thumbhash", "thumbhash.js"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(module); err != nil {
		t.Fatalf("npm thumbhash is not installed in e2e/ (run `npm ci` there, as scripts/test does): %v", err)
	}
	script := `import * as th from ` + jsString("file://"+module) + `;
let input = '';
for await (const chunk of process.stdin) input += chunk;
const out = JSON.parse(input).map(c => {
	const rgba = Buffer.from(c.rgba, 'base64');
	const theirs = th.rgbaToThumbHash(c.w, c.h, rgba);
	const drawn = th.thumbHashToRGBA(Buffer.from(c.hash, 'base64'));
	return {hash: Buffer.from(theirs).toString('base64'), w: drawn.w, h: drawn.h, rgba: Buffer.from(drawn.rgba).toString('base64')};
});
process.stdout.write(JSON.stringify(out));
`
	type job struct {
		W    int    `json:"w"`
		H    int    `json:"h"`
		RGBA []byte `json:"rgba"`
		Hash []byte `json:"hash"`
	}
	type result struct {
		Hash []byte `json:"hash"`
		W    int    `json:"w"`
		H    int    `json:"h"`
		RGBA []byte `json:"rgba"`
	}
	var names []string
	var jobs []job
	var uprights []image.Image
	for name, img := range placeholderTestImages() {
		small := imaging.Fit(img, placeholderSide, placeholderSide, imaging.Lanczos)
		names, uprights = append(names, name), append(uprights, img)
		jobs = append(jobs, job{W: small.Bounds().Dx(), H: small.Bounds().Dy(), RGBA: small.Pix, Hash: thumbHash(small)})
	}
	in, err := json.Marshal(jobs)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "--input-type=module", "-e", script)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.String())
	}
	var res []result
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("node's answer: %v", err)
	}
	if len(res) != len(jobs) {
		t.Fatalf("node answered %d of %d", len(res), len(jobs))
	}
	for i, r := range res {
		ours := jobs[i].Hash
		if len(r.Hash) != len(ours) {
			t.Errorf("%s: reference hash is %d bytes, ours %d", names[i], len(r.Hash), len(ours))
			continue
		}
		// The header's first five bytes pack fields across byte edges;
		// compare them exactly, the 4-bit terms after them within one.
		hdr := 5
		if ours[2]&0x80 != 0 {
			hdr = 6
		}
		if !bytes.Equal(r.Hash[:hdr], ours[:hdr]) {
			t.Errorf("%s: header %x, reference %x", names[i], ours[:hdr], r.Hash[:hdr])
		}
		for k := hdr; k < len(ours); k++ {
			for _, sh := range []uint{0, 4} {
				d := int(ours[k]>>sh&15) - int(r.Hash[k]>>sh&15)
				if d > 1 || d < -1 {
					t.Errorf("%s: byte %d: %02x, reference %02x", names[i], k, ours[k], r.Hash[k])
				}
			}
		}
		drawn := &image.NRGBA{Pix: r.RGBA, Stride: 4 * r.W, Rect: image.Rect(0, 0, r.W, r.H)}
		theirs := placeholderPSNR(t, drawn, uprights[i])
		mine := placeholderPSNR(t, decodeThumbHash(t, ours), uprights[i])
		if theirs < minPlaceholderPSNR || math.Abs(theirs-mine) > 1 {
			t.Errorf("%s: reference decoder draws our hash %.1f dB from the picture, ours %.1f dB", names[i], theirs, mine)
		}
		t.Logf("%s: %s (reference decoder %.1f dB, ours %.1f dB)", names[i], base64.StdEncoding.EncodeToString(ours), theirs, mine)
	}
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestPreviewsAndPlaceholderOneDecode: the placeholder comes with the
// previews, upright whatever the EXIF orientation, like the picture.
func TestPreviewsAndPlaceholderOneDecode(t *testing.T) {
	tr, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	upright := quadrants(600, 800)
	for _, o := range []int{1, 6, 8, 3} {
		data := jpegWithOrientation(t, storedFor(upright, o), o, false)
		imgs, ph, err := tr.PreviewsAndPlaceholder(context.Background(), bytes.NewReader(data), int64(len(data)), []Box{{240, 320}, {320, 480}})
		if err != nil {
			t.Fatalf("orientation %d: %v", o, err)
		}
		if len(imgs) != 2 || imgs[1].Width != 320 || imgs[1].Height != 427 {
			t.Fatalf("orientation %d: previews %+v", o, imgs)
		}
		dec := decodeThumbHash(t, ph)
		if b := dec.Bounds(); b.Dx() >= b.Dy() {
			t.Errorf("orientation %d: placeholder %dx%d is not portrait", o, b.Dx(), b.Dy())
		}
		if psnr := placeholderPSNR(t, dec, upright); psnr < minPlaceholderPSNR {
			t.Errorf("orientation %d: placeholder %.1f dB from the upright picture", o, psnr)
		}
	}
	// With no boxes there is still a placeholder.
	data := encodePNG(t, upright)
	imgs, ph, err := tr.PreviewsAndPlaceholder(context.Background(), bytes.NewReader(data), int64(len(data)), nil)
	if err != nil || len(imgs) != 0 || len(ph) == 0 {
		t.Fatalf("no boxes: %d previews, %d-byte placeholder, %v", len(imgs), len(ph), err)
	}
}

// BenchmarkPlaceholder is the placeholder's own cost at upload: from the
// pixels of the smallest preview (240x180 for a 4:3 photo in the 240x320
// box), the resample to 100x75 and the ThumbHash.
func BenchmarkPlaceholder(b *testing.B) {
	res := toNRGBA(testimage.Photo(240, 180, 1))
	win := window{0, 0, 240, 180}
	var n int
	for b.Loop() {
		n = len(placeholderOf(res, win, 1))
	}
	b.ReportMetric(float64(n), "bytes")
}

// BenchmarkPreviewsAndPlaceholder12MP is BenchmarkPreviews12MP with the
// placeholder: run both for the placeholder's share of an upload's work.
func BenchmarkPreviewsAndPlaceholder12MP(b *testing.B) {
	data := photoJPEG(b, 4000, 3000)
	tr, err := New(DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, _, err := tr.PreviewsAndPlaceholder(context.Background(), bytes.NewReader(data), int64(len(data)), deviceBoxes); err != nil {
			b.Fatal(err)
		}
	}
}

// TestThumbHashEdgeSizes: a single pixel and extreme strips still give a
// hash that decodes, oriented like the picture (the format's aspect ratio
// stops at 7:1).
func TestThumbHashEdgeSizes(t *testing.T) {
	for _, sz := range [][2]int{{1, 1}, {2, 3}, {100, 1}, {1, 100}, {100, 100}} {
		img := image.NewNRGBA(image.Rect(0, 0, sz[0], sz[1]))
		for i := range img.Pix {
			img.Pix[i] = uint8(i * 7)
		}
		for i := 3; i < len(img.Pix); i += 4 {
			img.Pix[i] = 255
		}
		hash := thumbHash(img)
		dec := decodeThumbHash(t, hash)
		b := dec.Bounds()
		if (sz[0] > sz[1]) != (b.Dx() > b.Dy()) || (sz[0] < sz[1]) != (b.Dx() < b.Dy()) {
			t.Errorf("%dx%d: decoded %dx%d", sz[0], sz[1], b.Dx(), b.Dy())
		}
	}
}
