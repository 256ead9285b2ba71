package transform

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"testing"

	"github.com/gen2brain/avif"
	"github.com/gen2brain/webp"

	"github.com/xmppmedia/mediaserver/transform/internal/quality"
)

// formatPhotos are budgetPhotos plus x/image's lossless WebP photographs
// (lossless, so no earlier lossy generation favours either codec).
func formatPhotos(t testing.TB) []namedImage {
	t.Helper()
	out := budgetPhotos(t)
	for _, f := range []string{"yellow_rose.lossless.webp", "blue-purple-pink-large.lossless.webp"} {
		data, err := os.ReadFile(filepath.Join(xImageTestdata(t), f))
		if err != nil {
			t.Fatal(err)
		}
		img, err := decodeWebP(data)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, namedImage{"photo " + f, img})
	}
	return out
}

// webpSSIM encodes ref at q and scores x/image's decode of it against ref.
func webpSSIM(t testing.TB, ref *image.NRGBA, q int) (Image, float64) {
	t.Helper()
	img, err := encodeWebP(ref, q)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := decodeWebP(img.Data)
	if err != nil {
		t.Fatal(err)
	}
	s, err := quality.SSIM(dec, ref)
	if err != nil {
		t.Fatal(err)
	}
	return img, s
}

func TestEncodeWebP(t *testing.T) {
	photo := budgetRef(budgetPhotos(t)[5].img, Box{320, 480}) // progressive800x600.jpg
	// Half transparent: the left half clear, the right half opaque blue.
	clear := image.NewNRGBA(image.Rect(0, 0, 120, 80))
	for y := 0; y < 80; y++ {
		for x := 0; x < 120; x++ {
			c := color.NRGBA{0, 0, 200, 255}
			if x < 60 {
				c.A = 0
			}
			clear.SetNRGBA(x, y, c)
		}
	}
	for _, tt := range []struct {
		name    string
		img     *image.NRGBA
		minSSIM float64
	}{
		{"photo", photo, 0.94},
		{"transparent", clear, 0.97},
		{"one pixel", image.NewNRGBA(image.Rect(0, 0, 1, 1)), 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ssim := webpSSIM(t, tt.img, webpQuality(85))
			if got.MimeType != "image/webp" || !bytes.HasPrefix(got.Data, []byte("RIFF")) || string(got.Data[8:15]) != "WEBPVP8" {
				t.Fatalf("%s starting %q, want a WebP", got.MimeType, got.Data[:min(16, len(got.Data))])
			}
			// x/image's decoder, not libwebp's, reads it back.
			dec, err := decodeWebP(got.Data)
			if err != nil {
				t.Fatal(err)
			}
			b := dec.Bounds()
			if b.Dx() != tt.img.Rect.Dx() || b.Dy() != tt.img.Rect.Dy() || got.Width != b.Dx() || got.Height != b.Dy() {
				t.Errorf("decoded %dx%d (says %dx%d), want %v", b.Dx(), b.Dy(), got.Width, got.Height, tt.img.Rect.Size())
			}
			if ssim < tt.minSSIM {
				t.Errorf("SSIM %.4f, want >= %.2f", ssim, tt.minSSIM)
			}
			if tt.img == clear {
				left := color.NRGBAModel.Convert(dec.At(20, 40)).(color.NRGBA)
				right := color.NRGBAModel.Convert(dec.At(100, 40)).(color.NRGBA)
				if left.A > 8 || right.A < 247 || !near(right, color.NRGBA{0, 0, 200, 255}, 12) {
					t.Errorf("left %v (want clear), right %v (want opaque blue)", left, right)
				}
			}
		})
	}
}

// TestWebPAgainstJPEG is the WebP goal: on the 320x480 box of each photo,
// the plain quality-85 JPEG beside the WebP served with it (webpQuality)
// and beside the smallest WebP whose SSIM is at least the JPEG's (equal
// SSIM, found by bisection over libwebp's quality); then the same served
// pair at quality 75 (an original's own lower quality). SSIM is luma,
// each decoded by Go's own decoders (image/jpeg, x/image/webp), against
// the box's fit rendered without loss. The goal, at least 25% fewer bytes
// at equal SSIM, is asserted over the set; each photo must save bytes at
// equal SSIM, and the served WebPs at least 15% over the set at either
// quality, at a mean SSIM within 0.005 of the JPEGs'.
func TestWebPAgainstJPEG(t *testing.T) {
	box := Box{320, 480}
	var jpegTotal, equalTotal int
	served := map[int]*struct {
		jpeg, webp         int
		jpegSSIM, webpSSIM float64
	}{85: {}, 75: {}}
	t.Logf("%-38s %7s %6s | %-22s | %-24s | %s", "photo (320x480 box)", "JPEG q85", "SSIM", fmt.Sprintf("WebP q%d: bytes SSIM ratio", webpQuality(85)),
		"WebP at equal SSIM: q bytes SSIM ratio", fmt.Sprintf("JPEG q75 SSIM | WebP q%d SSIM ratio", webpQuality(75)))
	photos := formatPhotos(t)
	for _, p := range photos {
		ref := budgetRef(p.img, box)
		j, err := encodeJPEGQuality(ref, 85)
		if err != nil {
			t.Fatal(err)
		}
		js, err := shownSSIM(j, ref)
		if err != nil {
			t.Fatal(err)
		}
		j75, err := encodeJPEGQuality(ref, 75)
		if err != nil {
			t.Fatal(err)
		}
		js75, err := shownSSIM(j75, ref)
		if err != nil {
			t.Fatal(err)
		}
		// Each quality encoded and scored once (slow under -race).
		type scored struct {
			img  Image
			ssim float64
		}
		seen := map[int]scored{}
		at := func(q int) (Image, float64) {
			if s, ok := seen[q]; ok {
				return s.img, s.ssim
			}
			img, s := webpSSIM(t, ref, q)
			seen[q] = scored{img, s}
			return img, s
		}
		w85, ws85 := at(webpQuality(85))
		w75, ws75 := at(webpQuality(75))
		for q, pair := range map[int][2]Image{85: {{Data: j}, w85}, 75: {{Data: j75}, w75}} {
			sv := served[q]
			sv.jpeg += len(pair[0].Data)
			sv.webp += len(pair[1].Data)
		}
		served[85].jpegSSIM += js
		served[85].webpSSIM += ws85
		served[75].jpegSSIM += js75
		served[75].webpSSIM += ws75
		// The lowest quality reaching the JPEG's SSIM (SSIM rises with
		// quality; 100 would be lossless).
		lo, hi := 30, 99
		for lo < hi {
			mid := (lo + hi) / 2
			if _, s := at(mid); s >= js {
				hi = mid
			} else {
				lo = mid + 1
			}
		}
		eq, es := at(lo)
		if es < js {
			t.Errorf("%s: no WebP quality up to 99 reaches the JPEG's SSIM %.4f", p.name, js)
			continue
		}
		if len(eq.Data) >= len(j) {
			t.Errorf("%s: WebP at equal SSIM %d bytes, JPEG %d", p.name, len(eq.Data), len(j))
		}
		jpegTotal += len(j)
		equalTotal += len(eq.Data)
		t.Logf("%-38s %7d %.4f | %6d %.4f %.3f | q%-2d %6d %.4f %.3f | %6d %.4f | %6d %.4f %.3f", fmt.Sprintf("%s %dx%d", p.name, ref.Rect.Dx(), ref.Rect.Dy()),
			len(j), js, len(w85.Data), ws85, float64(len(w85.Data))/float64(len(j)), lo, len(eq.Data), es, float64(len(eq.Data))/float64(len(j)),
			len(j75), js75, len(w75.Data), ws75, float64(len(w75.Data))/float64(len(j75)))
	}
	ratio := float64(equalTotal) / float64(jpegTotal)
	t.Logf("all: JPEG q85 %d bytes; WebP at equal SSIM %d bytes (%.3f)", jpegTotal, equalTotal, ratio)
	if ratio > 0.75 {
		t.Errorf("WebP at equal SSIM is %.3f of the JPEG's bytes, goal <= 0.75", ratio)
	}
	n := float64(len(photos))
	for _, q := range []int{85, 75} {
		sv := served[q]
		r := float64(sv.webp) / float64(sv.jpeg)
		t.Logf("all, as served: JPEG q%d %d bytes, mean SSIM %.4f; WebP q%d %d bytes (%.3f), mean SSIM %.4f", q, sv.jpeg, sv.jpegSSIM/n,
			webpQuality(q), sv.webp, r, sv.webpSSIM/n)
		if r > 0.85 || sv.webpSSIM/n < sv.jpegSSIM/n-0.005 {
			t.Errorf("served at JPEG quality %d: WebP %.3f of the bytes at mean SSIM %.4f against %.4f", q, r, sv.webpSSIM/n, sv.jpegSSIM/n)
		}
	}
}

// BenchmarkPreviewEncoders encodes the 320x480-box preview of a real
// photo (progressive800x600.jpg, 320x240) with each encoder, side by side:
// CPU per encode (getrusage), bytes allocated per encode (for the
// WebAssembly encoders this includes the module's instance and its linear
// memory, made afresh on every call) and the file's size. AVIF is measured
// to decide whether to serve it (docs/previews.md); it is not served.
func BenchmarkPreviewEncoders(b *testing.B) {
	ref := budgetRef(budgetPhotos(b)[5].img, Box{320, 480})
	for _, enc := range []struct {
		name string
		fn   func() ([]byte, error)
	}{
		{"jpeg-q85", func() ([]byte, error) { return encodeJPEGQuality(ref, 85) }},
		{fmt.Sprintf("webp-q%d", webpQuality(85)), func() ([]byte, error) {
			img, err := encodeWebP(ref, webpQuality(85))
			return img.Data, err
		}},
		{"avif-q60-speed10", func() ([]byte, error) {
			var buf bytes.Buffer
			err := avif.Encode(&buf, ref, avif.Options{Quality: 60, QualityAlpha: 60, Speed: 10})
			return buf.Bytes(), err
		}},
	} {
		b.Run(enc.name, func(b *testing.B) {
			// The WebAssembly module unless a shared libwebp.so was found
			// (purego; not with -tags nodynamic).
			b.Logf("shared libwebp: %v", webp.Dynamic() == nil)
			if _, err := enc.fn(); err != nil { // the WebAssembly module compiles once, outside the timing
				b.Fatal(err)
			}
			b.ReportAllocs()
			var data []byte
			var err error
			cpu0 := cpuTime()
			for b.Loop() {
				if data, err = enc.fn(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
			b.ReportMetric(float64(len(data)), "bytes")
		})
	}
}
