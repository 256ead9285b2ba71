package transform

import (
	"bytes"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xmppmedia/mediaserver/transform/internal/testimage"
)

// jpegVariant is a JPEG made at test time by libjpeg-turbo's cjpeg (or
// ImageMagick, for what cjpeg cannot write) from a generated photo.
type jpegVariant struct {
	name string
	w, h int
	// cjpeg options; nil with magick set means ImageMagick writes it.
	cjpeg  []string
	magick []string
}

// writePPM writes a generated photo as binary PPM, cjpeg's input.
func writePPM(t testing.TB, path string, img *image.RGBA) {
	t.Helper()
	b := img.Rect
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "P6\n%d %d\n255\n", b.Dx(), b.Dy())
	for y := 0; y < b.Dy(); y++ {
		row := img.Pix[y*img.Stride:]
		for x := 0; x < b.Dx(); x++ {
			buf.Write(row[4*x : 4*x+3])
		}
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// make writes the variant into dir and returns its path.
func (v jpegVariant) make(t testing.TB, dir string) string {
	t.Helper()
	src := filepath.Join(dir, fmt.Sprintf("photo-%dx%d.ppm", v.w, v.h))
	if _, err := os.Stat(src); err != nil {
		writePPM(t, src, testimage.Photo(v.w, v.h, uint64(v.w*7919+v.h)))
	}
	out := filepath.Join(dir, strings.NewReplacer(" ", "-", ":", "", "/", "-").Replace(v.name)+".jpg")
	if v.magick != nil {
		convert := tool(t, "convert", "imagemagick")
		run(t, convert, append(append([]string{src}, v.magick...), out)...)
		return out
	}
	cjpeg := tool(t, "cjpeg", "libjpeg-turbo-progs")
	run(t, cjpeg, append(append([]string{"-quality", "90"}, v.cjpeg...), "-outfile", out, src)...)
	return out
}

// subsamplings are cjpeg's -sample settings for each chroma subsampling.
var subsamplings = []struct{ name, sample string }{
	{"4:4:4", "1x1"}, {"4:2:2", "2x1"}, {"4:2:0", "2x2"}, {"4:4:0", "1x2"}, {"4:1:1", "4x1"},
}

// geometryVariants: every subsampling at sides that are not multiples of
// 8 or 16 (odd, prime), thin images, restart intervals, progressive,
// grayscale and CMYK.
func geometryVariants() []jpegVariant {
	var vs []jpegVariant
	for _, s := range subsamplings {
		for _, sz := range [][2]int{{2001, 1501}, {1001, 2003}, {1283, 967}} {
			vs = append(vs, jpegVariant{name: fmt.Sprintf("%dx%d %s", sz[0], sz[1], s.name), w: sz[0], h: sz[1], cjpeg: []string{"-sample", s.sample}})
		}
	}
	vs = append(vs,
		jpegVariant{name: "2048x1536 4:2:0", w: 2048, h: 1536, cjpeg: []string{"-sample", "2x2"}},
		jpegVariant{name: "1x997", w: 1, h: 997, cjpeg: []string{"-sample", "2x2"}},
		jpegVariant{name: "997x1", w: 997, h: 1, cjpeg: []string{"-sample", "2x2"}},
		jpegVariant{name: "997x13", w: 997, h: 13, cjpeg: []string{"-sample", "2x2"}},
		jpegVariant{name: "13x997", w: 13, h: 997, cjpeg: []string{"-sample", "2x2"}},
		jpegVariant{name: "2001x1501 restart 1 row", w: 2001, h: 1501, cjpeg: []string{"-sample", "2x2", "-restart", "1"}},
		jpegVariant{name: "2001x1501 restart 7 blocks", w: 2001, h: 1501, cjpeg: []string{"-sample", "2x2", "-restart", "7B"}},
		jpegVariant{name: "2001x1501 progressive", w: 2001, h: 1501, cjpeg: []string{"-sample", "2x2", "-progressive"}},
		jpegVariant{name: "1283x967 progressive 4:4:4 restart", w: 1283, h: 967, cjpeg: []string{"-sample", "1x1", "-progressive", "-restart", "3B"}},
		jpegVariant{name: "2001x1501 grayscale", w: 2001, h: 1501, cjpeg: []string{"-grayscale"}},
		jpegVariant{name: "1283x967 grayscale progressive", w: 1283, h: 967, cjpeg: []string{"-grayscale", "-progressive"}},
		jpegVariant{name: "2001x1501 CMYK", w: 2001, h: 1501, magick: []string{"-colorspace", "CMYK", "-quality", "90"}},
	)
	return vs
}

// TestScaledJPEGGeometryMatchesFullDecode: the DCT-domain path (jpegscale
// plus resampling of the picture's true window) is within 0.5 dB of the
// full decode, both measured against ImageMagick's preview of the same
// file. Before the window fix a 2001x1501 file was 3 dB worse.
func TestScaledJPEGGeometryMatchesFullDecode(t *testing.T) {
	dir := t.TempDir()
	scaled, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	fullCfg := DefaultConfig()
	fullCfg.FullJPEGDecode = true
	full, err := New(fullCfg)
	if err != nil {
		t.Fatal(err)
	}
	boxes := []Box{{320, 480}, {100, 100}, {480, 320}}
	for _, v := range geometryVariants() {
		t.Run(v.name, func(t *testing.T) {
			path := v.make(t, dir)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			got, err := scaled.Previews(bytes.NewReader(data), 0, boxes)
			if err != nil {
				t.Fatal(err)
			}
			want, err := full.Previews(bytes.NewReader(data), 0, boxes)
			if err != nil {
				t.Fatal(err)
			}
			for i, box := range boxes {
				ref := magickPreview(t, path, box)
				if got[i].Width > box.Width || got[i].Height > box.Height {
					t.Errorf("box %v: preview %dx%d does not fit", box, got[i].Width, got[i].Height)
				}
				gp, gs := similarity(t, decodeBytes(t, got[i].Data), ref)
				fp, fs := similarity(t, decodeBytes(t, want[i].Data), ref)
				t.Logf("box %v: scaled %.2f dB SSIM %.4f, full %.2f dB SSIM %.4f", box, gp, gs, fp, fs)
				if gp < fp-0.5 {
					t.Errorf("box %v: DCT-scaled path %.2f dB, more than 0.5 dB below the full decode's %.2f dB", box, gp, fp)
				}
			}
		})
	}
}
