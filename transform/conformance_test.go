package transform

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // decoding originals served as themselves
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// A conformance run over a corpus nobody here drew: Go's own image test
// files, golang.org/x/image's WebP files, the PNG suite, plus variants made
// at test time with libjpeg-turbo, ImageMagick, libheif and libavif. Each
// preview is compared with ImageMagick's decode + auto-orient + resize of
// the same file, by dimensions and by PSNR (R, G, B) and SSIM (luma). The
// table is printed with -v and kept in docs/previews.md:
//
//	go test ./transform -run TestConformance -v

type corpusEntry struct {
	name, path string
	// refuse: the file must be refused with ErrUnsupported (415).
	refuse bool
}

// conformanceThresholds: what a preview must score against ImageMagick.
// Resampling filters differ (ImageMagick's Lanczos is windowed differently
// and it upsamples chroma smoothly), so identical is not the bar; a wrong
// orientation, colour model or geometry scores far below (12-20 dB).
const (
	minPSNR = 25.0
	minSSIM = 0.85
)

func conformanceCorpus(t *testing.T, dir string) []corpusEntry {
	var c []corpusEntry
	add := func(glob string, skip ...string) {
		files, err := filepath.Glob(glob)
		if err != nil || len(files) == 0 {
			t.Fatalf("corpus: nothing at %s (%v)", glob, err)
		}
		for _, f := range files {
			if slices.ContainsFunc(skip, func(s string) bool { return strings.Contains(filepath.Base(f), s) }) {
				continue
			}
			c = append(c, corpusEntry{name: filepath.Base(f), path: f})
		}
	}
	add(filepath.Join(goImageTestdata(), "*"), ".truncated.")
	add(filepath.Join(filepath.Dir(goImageTestdata()), "png", "testdata", "pngsuite", "bas*.png"))
	x := xImageTestdata(t)
	add(filepath.Join(x, "*.webp"))

	// libjpeg-turbo: every subsampling, restart intervals, progressive scan
	// scripts, odd and prime sides; ImageMagick: CMYK.
	jv := []jpegVariant{}
	for _, s := range subsamplings {
		jv = append(jv, jpegVariant{name: "cjpeg 1283x967 " + s.name, w: 1283, h: 967, cjpeg: []string{"-sample", s.sample}})
	}
	scripts := map[string]string{
		"successive approximation": "0,1,2: 0-0, 0, 1;\n0: 1-5, 0, 2;\n2: 1-63, 0, 0;\n1: 1-63, 0, 0;\n0: 6-63, 0, 2;\n0: 1-63, 2, 1;\n0,1,2: 0-0, 1, 0;\n0: 1-63, 1, 0;\n",
		"separate DC scans":        "0: 0-0, 0, 0;\n1: 0-0, 0, 0;\n2: 0-0, 0, 0;\n0: 1-63, 0, 0;\n1: 1-63, 0, 0;\n2: 1-63, 0, 0;\n",
	}
	for name, script := range scripts {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".scans")
		if err := os.WriteFile(p, []byte(script), 0o644); err != nil {
			t.Fatal(err)
		}
		jv = append(jv, jpegVariant{name: "cjpeg 1001x753 scans " + name, w: 1001, h: 753, cjpeg: []string{"-sample", "2x2", "-scans", p}})
	}
	jv = append(jv,
		jpegVariant{name: "cjpeg 1001x753 progressive", w: 1001, h: 753, cjpeg: []string{"-progressive"}},
		jpegVariant{name: "cjpeg 1001x753 restart 1B", w: 1001, h: 753, cjpeg: []string{"-restart", "1B"}},
		jpegVariant{name: "cjpeg 1001x753 restart 2 rows progressive", w: 1001, h: 753, cjpeg: []string{"-restart", "2", "-progressive"}},
		jpegVariant{name: "cjpeg 997x13", w: 997, h: 13, cjpeg: []string{"-sample", "2x2"}},
		jpegVariant{name: "cjpeg 13x997", w: 13, h: 997, cjpeg: []string{"-sample", "2x2"}},
		jpegVariant{name: "cjpeg 1x331", w: 1, h: 331},
		jpegVariant{name: "cjpeg 331x1", w: 331, h: 1},
		jpegVariant{name: "cjpeg 1283x967 grayscale", w: 1283, h: 967, cjpeg: []string{"-grayscale"}},
		jpegVariant{name: "cjpeg 1283x967 RGB", w: 1283, h: 967, cjpeg: []string{"-rgb"}},
		jpegVariant{name: "magick 1283x967 CMYK", w: 1283, h: 967, magick: []string{"-colorspace", "CMYK", "-quality", "90"}},
		jpegVariant{name: "magick 641x479 16-bit PNG", w: 641, h: 479, magick: []string{"-depth", "16"}, magickFormat: "PNG48"},
		jpegVariant{name: "magick 641x479 palette PNG", w: 641, h: 479, magick: []string{"-colors", "200"}, magickFormat: "PNG8"},
		jpegVariant{name: "magick 641x479 interlaced PNG", w: 641, h: 479, magick: []string{"-interlace", "PNG"}, magickFormat: "PNG24"},
	)
	for _, v := range jv {
		c = append(c, corpusEntry{name: v.name, path: v.make(t, dir)})
	}

	// EXIF orientations 1 to 8 on a libjpeg-turbo file.
	base, err := os.ReadFile(jpegVariant{name: "orientation base", w: 641, h: 479, cjpeg: []string{"-sample", "2x2"}}.make(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	for o := 1; o <= 8; o++ {
		p := filepath.Join(dir, fmt.Sprintf("orientation-%d.jpg", o))
		data := withJPEGSegments(base, appSegment(0xE1, append([]byte("Exif\x00\x00"), exifTIFF(o)...)))
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		c = append(c, corpusEntry{name: fmt.Sprintf("cjpeg 641x479 EXIF orientation %d", o), path: p})
	}

	// An animated GIF (the first frame is the preview).
	convert := tool(t, "convert", "imagemagick")
	frames := []string{"-delay", "20"}
	for i := range 3 {
		f := filepath.Join(dir, fmt.Sprintf("frame%d.png", i))
		run(t, convert, "-size", "300x200", fmt.Sprintf("gradient:rgb(%d,40,40)-rgb(40,40,%d)", 80*i+60, 200-60*i), f)
		frames = append(frames, f)
	}
	anim := filepath.Join(dir, "animated.gif")
	run(t, convert, append(frames, "-loop", "0", anim)...)
	c = append(c, corpusEntry{name: "magick 300x200 animated GIF", path: anim})

	for _, v := range heifVariants()[:3] {
		c = append(c, corpusEntry{name: v.name, path: v.make(t, dir)})
	}
	for _, v := range []jpegVariant{
		{name: "cjpeg arithmetic", w: 301, h: 203, cjpeg: []string{"-arithmetic"}},
		{name: "cjpeg arithmetic progressive", w: 301, h: 203, cjpeg: []string{"-arithmetic", "-progressive"}},
	} {
		c = append(c, corpusEntry{name: v.name, path: v.make(t, dir), refuse: true})
	}
	return c
}

func TestConformance(t *testing.T) {
	dir := t.TempDir()
	corpus := conformanceCorpus(t, dir)
	tr := newTestTransformer(t)
	box := Box{240, 320}
	var table strings.Builder
	fmt.Fprintf(&table, "| file | format | original | preview (%v box) | ImageMagick | PSNR dB | SSIM |\n|---|---|---|---|---|---|---|\n", box)
	failed := 0
	for _, e := range corpus {
		row, err := conformanceRow(t, tr, e, box)
		fmt.Fprintf(&table, "| %s | %s |\n", e.name, row)
		if err != nil {
			t.Errorf("%s: %v", e.name, err)
			failed++
		}
	}
	t.Logf("conformance against ImageMagick, %d files, %d failed:\n%s", len(corpus), failed, table.String())
}

// conformanceRow previews one file and compares it with ImageMagick's.
func conformanceRow(t *testing.T, tr *Transformer, e corpusEntry, box Box) (string, error) {
	data, err := os.ReadFile(e.path)
	if err != nil {
		t.Fatal(err)
	}
	info, ierr := tr.Inspect(bytes.NewReader(data))
	imgs, err := tr.Previews(bytes.NewReader(data), int64(len(data)), []Box{box})
	if e.refuse {
		if !errors.Is(err, ErrUnsupported) || !errors.Is(ierr, ErrUnsupported) {
			return "refused? | | | | |", fmt.Errorf("want ErrUnsupported, got Inspect %v, Previews %v", ierr, err)
		}
		return "jpeg | refused: unsupported (415) | | | |", nil
	}
	if ierr != nil || err != nil {
		return "error | | | | |", fmt.Errorf("Inspect %v, Previews %v", ierr, err)
	}
	p := imgs[0]
	var got image.Image
	served := fmt.Sprintf("%dx%d %s", p.Width, p.Height, strings.TrimPrefix(p.MimeType, "image/"))
	if p.UseOriginal {
		served += " (original)"
		if got, _, err = image.Decode(bytes.NewReader(data)); err != nil {
			return "", fmt.Errorf("decode original: %v", err)
		}
	} else {
		got = decodeBytes(t, p.Data)
	}
	ref := magickPreview(t, e.path, box)
	rb := ref.Bounds()
	row := fmt.Sprintf("%s | %dx%d | %s | %dx%d", info.Format, info.Width, info.Height, served, rb.Dx(), rb.Dy())
	if p.Width > box.Width || p.Height > box.Height {
		return row + " | | ", fmt.Errorf("preview %dx%d does not fit %v", p.Width, p.Height, box)
	}
	if abs(got.Bounds().Dx()-rb.Dx()) > 1 || abs(got.Bounds().Dy()-rb.Dy()) > 1 {
		return row + " | | ", fmt.Errorf("preview %v, ImageMagick %v", got.Bounds().Size(), rb.Size())
	}
	psnr, ssim := similarity(t, got, ref)
	row += fmt.Sprintf(" | %.1f | %.4f", psnr, ssim)
	if psnr < minPSNR || ssim < minSSIM {
		return row, fmt.Errorf("%.1f dB SSIM %.4f, want >= %.0f dB and >= %.2f", psnr, ssim, minPSNR, minSSIM)
	}
	return row, nil
}
