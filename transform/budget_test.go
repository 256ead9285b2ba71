package transform

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xmppmedia/mediaserver/transform/internal/quality"
	"github.com/xmppmedia/mediaserver/transform/internal/testimage"
)

// budgetPhotos are the pictures the budget is measured on, decoded and
// upright as the pipeline hands them on: photo-like renderings at the size
// a 12 MP decode is pre-shrunk to for the 320x480 box, in both
// orientations, and real photographs (the disintegration/imaging
// module's test photos, and this package's 800x600 one).
func budgetPhotos(t testing.TB) []namedImage {
	t.Helper()
	out := []namedImage{
		{"photo-like 1000x750 #1", testimage.Photo(1000, 750, 1)},
		{"photo-like 1000x750 #2", testimage.Photo(1000, 750, 2)},
		{"photo-like 750x1000 #3", testimage.Photo(750, 1000, 3)},
	}
	dir, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/disintegration/imaging").Output()
	if err != nil {
		t.Fatalf("locate github.com/disintegration/imaging: %v", err)
	}
	for _, f := range []string{
		filepath.Join(strings.TrimSpace(string(dir)), "testdata", "branches.jpg"),
		filepath.Join(strings.TrimSpace(string(dir)), "testdata", "flowers.png"),
		filepath.Join("testdata", "progressive800x600.jpg"),
	} {
		out = append(out, namedImage{"photo " + filepath.Base(f), loadImage(t, f)})
	}
	return out
}

type namedImage struct {
	name string
	img  image.Image
}

// budgetRef is the box's fit of img rendered without loss, what SSIM is
// measured against.
func budgetRef(img image.Image, box Box) *image.NRGBA {
	b := img.Bounds()
	w, h := fitSize(b.Dx(), b.Dy(), box.Width, box.Height)
	ref := cloneNRGBA(resample(img, fullWindow(img), w, h))
	flattenOnWhite(ref)
	return ref
}

// qualityOnly is the search without shrinking (imgproxy's max_bytes: lower
// the quality until it fits, down to 1), for comparison.
func qualityOnly(t testing.TB, ref *image.NRGBA, maxBytes, maxQuality int) (q int, data []byte, ssim float64) {
	t.Helper()
	q, data, _, err := highestQualityWithin(ref, 1, maxQuality, maxBytes, false)
	if err != nil {
		t.Fatal(err)
	}
	if data == nil {
		return 0, nil, 0
	}
	if ssim, err = shownSSIM(data, ref); err != nil {
		t.Fatal(err)
	}
	return q, data, ssim
}

func TestFitBudget(t *testing.T) {
	box := Box{320, 480}
	// The portrait rendering and the photographs (the benchmark runs all):
	// each search is some 20 encodes, slow under -race.
	for _, p := range budgetPhotos(t)[2:] {
		ref := budgetRef(p.img, box)
		plain, err := encodeJPEGQuality(ref, 85)
		if err != nil {
			t.Fatal(err)
		}
		prev := 0.0
		for _, n := range []int{6000, 10000, 1 << 20} {
			t.Run(fmt.Sprintf("%s/%d", p.name, n), func(t *testing.T) {
				b := DefaultBudget(n)
				got, err := FitBudget(p.img, box, b)
				if err != nil {
					t.Fatal(err)
				}
				if len(got.Data) > n || got.MimeType != "image/jpeg" {
					t.Fatalf("%s of %d bytes for a budget of %d", got.MimeType, len(got.Data), n)
				}
				if got.Quality < b.MinQuality || got.Quality > b.MaxQuality {
					t.Errorf("quality %d outside %d..%d", got.Quality, b.MinQuality, b.MaxQuality)
				}
				// What it says it is: decoded, its size and similarity.
				dec, err := jpeg.Decode(bytes.NewReader(got.Data))
				if err != nil {
					t.Fatal(err)
				}
				db := dec.Bounds()
				if db.Dx() != got.Width || db.Dy() != got.Height || got.Width > ref.Rect.Dx() || got.Height > ref.Rect.Dy() ||
					float64(got.Width) < b.MinScale*float64(ref.Rect.Dx())-1 {
					t.Errorf("%dx%d (says %dx%d), box fit %dx%d", db.Dx(), db.Dy(), got.Width, got.Height, ref.Rect.Dx(), ref.Rect.Dy())
				}
				ssim, err := quality.SSIM(resample(dec, fullWindow(dec), ref.Rect.Dx(), ref.Rect.Dy()), ref)
				if err != nil || ssim != got.SSIM {
					t.Errorf("SSIM %v, says %v (%v)", ssim, got.SSIM, err)
				}
				// A budget the plain preview fits gives the plain preview.
				if len(plain) <= n && (got.Quality != 85 || !bytes.Equal(got.Data, plain)) {
					t.Errorf("budget %d fits the plain preview (%d bytes) but got %d bytes at quality %d", n, len(plain), len(got.Data), got.Quality)
				}
				// Never worse than lowering quality alone, where that stays
				// above the floor; a larger budget is never worse.
				if oq, od, os := qualityOnly(t, ref, n, 85); od != nil && oq >= b.MinQuality && got.SSIM < os {
					t.Errorf("SSIM %.4f, below quality-only's %.4f (q%d)", got.SSIM, os, oq)
				}
				if got.SSIM < prev {
					t.Errorf("SSIM %.4f, below a smaller budget's %.4f", got.SSIM, prev)
				}
				prev = got.SSIM
				t.Logf("%dx%d q%d %d bytes SSIM %.4f after %d encodes (plain: %d bytes)", got.Width, got.Height, got.Quality, len(got.Data), got.SSIM, got.Encodes, len(plain))
			})
		}
	}
}

func TestFitBudgetRefusals(t *testing.T) {
	photo := testimage.Photo(1000, 750, 1)
	if _, err := FitBudget(photo, Box{320, 480}, DefaultBudget(800)); !errors.Is(err, ErrOverBudget) {
		t.Errorf("800 bytes for a 320x480 photo: %v, want ErrOverBudget", err)
	}
	for _, b := range []Budget{
		{MaxBytes: 0, MaxQuality: 85, MinQuality: 40, MinScale: 0.5},
		{MaxBytes: 1000, MaxQuality: 85, MinQuality: 90, MinScale: 0.5},
		{MaxBytes: 1000, MaxQuality: 85, MinQuality: 40, MinScale: 0},
		{MaxBytes: 1000, MaxQuality: 101, MinQuality: 40, MinScale: 0.5},
	} {
		if _, err := FitBudget(photo, Box{320, 480}, b); err == nil || errors.Is(err, ErrOverBudget) {
			t.Errorf("budget %+v: %v, want it refused as invalid", b, err)
		}
	}
	if _, err := FitBudget(photo, Box{0, 480}, DefaultBudget(10000)); err == nil {
		t.Error("an invalid box was accepted")
	}
}

// TestFitBudgetTransparent: a transparent picture comes out as a JPEG on
// white, and the caller's pixels are left alone.
func TestFitBudgetTransparent(t *testing.T) {
	src := image.NewNRGBA(image.Rect(0, 0, 200, 100))
	for y := 0; y < 100; y++ {
		for x := 0; x < 200; x++ {
			a := uint8(255)
			if x < 100 {
				a = 0
			}
			src.SetNRGBA(x, y, color.NRGBA{0, 0, 200, a})
		}
	}
	before := bytes.Clone(src.Pix)
	got, err := FitBudget(src, Box{240, 320}, DefaultBudget(4000))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(src.Pix, before) {
		t.Error("FitBudget changed the source's pixels")
	}
	dec, err := jpeg.Decode(bytes.NewReader(got.Data))
	if err != nil {
		t.Fatal(err)
	}
	b := dec.Bounds()
	left := color.NRGBAModel.Convert(dec.At(b.Dx()/4, b.Dy()/2)).(color.NRGBA)
	right := color.NRGBAModel.Convert(dec.At(3*b.Dx()/4, b.Dy()/2)).(color.NRGBA)
	if !near(left, color.NRGBA{255, 255, 255, 255}, 12) || !near(right, color.NRGBA{0, 0, 200, 255}, 12) {
		t.Errorf("left %v (want white), right %v (want blue)", left, right)
	}
}

// BenchmarkFitBudget measures the budgeted 320x480 preview at 10 and 20 KB
// beside the plain quality-85 preview and beside lowering quality alone
// (imgproxy's max_bytes), on each picture of budgetPhotos: bytes, SSIM
// (shown at the box's fit, against it rendered without loss), and the
// search's CPU time per preview. docs/previews.md has the table.
func BenchmarkFitBudget(b *testing.B) {
	box := Box{320, 480}
	for _, p := range budgetPhotos(b) {
		ref := budgetRef(p.img, box)
		plain, err := encodeJPEGQuality(ref, 85)
		if err != nil {
			b.Fatal(err)
		}
		plainSSIM, err := shownSSIM(plain, ref)
		if err != nil {
			b.Fatal(err)
		}
		// The plain preview's own cost from the same source, for the ratio.
		b.Run(strings.ReplaceAll(p.name, " ", "_")+"/plain-q85", func(b *testing.B) {
			cpu0 := cpuTime()
			for b.Loop() {
				if _, err := encodeJPEGQuality(budgetRef(p.img, box), 85); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
		})
		for _, n := range []int{10 << 10, 20 << 10} {
			b.Run(fmt.Sprintf("%s/%dKB", strings.ReplaceAll(p.name, " ", "_"), n>>10), func(b *testing.B) {
				var got Budgeted
				cpu0 := cpuTime() // derive_test.go
				for b.Loop() {
					if got, err = FitBudget(p.img, box, DefaultBudget(n)); err != nil {
						b.Fatal(err)
					}
				}
				cpu := cpuTime() - cpu0
				oq, od, os := qualityOnly(b, ref, n, 85)
				b.ReportMetric(float64(len(got.Data)), "bytes")
				b.ReportMetric(got.SSIM, "ssim")
				b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
				b.Logf("%-26s %2d KB: %3dx%-3d q%-2d %6d bytes SSIM %.4f, %2d encodes | plain q85 %3dx%-3d %6d bytes SSIM %.4f | quality only q%-2d %6d bytes SSIM %.4f",
					p.name, n>>10, got.Width, got.Height, got.Quality, len(got.Data), got.SSIM, got.Encodes,
					ref.Rect.Dx(), ref.Rect.Dy(), len(plain), plainSSIM, oq, len(od), os)
			})
		}
	}
}
