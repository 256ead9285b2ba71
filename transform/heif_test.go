package transform

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/xmppmedia/mediaserver/transform/internal/testimage"
)

// heifVariant is a HEIC or AVIF file made at test time from a generated
// photo by libheif's heif-enc or libavif's avifenc.
type heifVariant struct {
	name       string
	avif       bool
	w, h       int
	irot, imir int // -1: none (avifenc only)
}

func (v heifVariant) make(t testing.TB, dir string) string {
	t.Helper()
	src := filepath.Join(dir, fmt.Sprintf("photo-%dx%d.png", v.w, v.h))
	if _, err := os.Stat(src); err != nil {
		if err := os.WriteFile(src, encodePNG(t, testimage.Photo(v.w, v.h, uint64(v.w+v.h))), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if !v.avif {
		out := filepath.Join(dir, v.name+".heic")
		run(t, tool(t, "heif-enc", "libheif-examples"), "-q", "90", "-o", out, src)
		return out
	}
	out := filepath.Join(dir, v.name+".avif")
	args := []string{"--min", "8", "--max", "16", "-y", "420", "-s", "8", "-j", "1"}
	if v.irot >= 0 {
		args = append(args, "--irot", strconv.Itoa(v.irot))
	}
	if v.imir >= 0 {
		args = append(args, "--imir", strconv.Itoa(v.imir))
	}
	run(t, tool(t, "avifenc", "libavif-bin"), append(args, src, out)...)
	return out
}

func heifVariants() []heifVariant {
	vs := []heifVariant{
		{name: "heic 641x481", w: 641, h: 481, irot: -1, imir: -1},
		{name: "heic 480x640", w: 480, h: 640, irot: -1, imir: -1},
		{name: "avif 641x481", avif: true, w: 641, h: 481, irot: -1, imir: -1},
	}
	// Every display transform: four rotations, each plain and mirrored.
	for rot := range 4 {
		for _, mir := range []int{-1, 0, 1} {
			if mir == 1 && rot > 0 {
				continue // imir 1 = imir 0 plus a half turn; one of each suffices
			}
			vs = append(vs, heifVariant{name: fmt.Sprintf("avif irot %d imir %d", rot, mir), avif: true, w: 320, h: 200, irot: rot, imir: mir})
		}
	}
	return vs
}

// TestHEIFPreviews: HEIC and AVIF files get previews that match
// ImageMagick's (libheif's decode with its irot/imir applied), with the
// displayed dimensions from Inspect.
func TestHEIFPreviews(t *testing.T) {
	dir := t.TempDir()
	tr := newTestTransformer(t)
	for _, v := range heifVariants() {
		t.Run(v.name, func(t *testing.T) {
			path := v.make(t, dir)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			info, err := tr.Inspect(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			w, h := v.w, v.h
			if v.irot == 1 || v.irot == 3 {
				w, h = h, w
			}
			if info.Width != w || info.Height != h {
				t.Errorf("Inspect: %dx%d, want %dx%d", info.Width, info.Height, w, h)
			}
			box := Box{240, 320}
			imgs, err := tr.Previews(bytes.NewReader(data), int64(len(data)), []Box{box})
			if err != nil {
				t.Fatal(err)
			}
			p := imgs[0]
			if p.MimeType != "image/jpeg" || p.UseOriginal {
				t.Fatalf("preview %s UseOriginal=%v, want a JPEG", p.MimeType, p.UseOriginal)
			}
			ref := magickPreview(t, path, box)
			got := decodeBytes(t, p.Data)
			psnr, ssim := similarity(t, got, ref)
			// The control: the same preview turned upside down, which is
			// what a wrong transform looks like to these measures.
			wrong, _ := similarity(t, orient(got, 3), ref)
			t.Logf("%dx%d: %.2f dB SSIM %.4f against ImageMagick (turned: %.2f dB)", p.Width, p.Height, psnr, ssim, wrong)
			if psnr < 25 || ssim < 0.85 || psnr < wrong+6 {
				t.Errorf("preview differs from ImageMagick's: %.2f dB SSIM %.4f (turned: %.2f dB)", psnr, ssim, wrong)
			}
		})
	}
}

// BenchmarkHEIFPreviews: both device previews of one 4000x3000 photo as
// JPEG, HEIC and AVIF, in process, after one untimed decode (the
// WebAssembly modules are compiled once per process; previewbench measures
// whole processes, compile included).
//
//	go test ./transform -run '^$' -bench HEIFPreviews -benchtime 3x
func BenchmarkHEIFPreviews(b *testing.B) {
	dir := b.TempDir()
	photo := testimage.Photo(4000, 3000, 1)
	jpg := filepath.Join(dir, "photo.jpg")
	if err := os.WriteFile(jpg, encodeJPEG(b, photo, 90), 0o644); err != nil {
		b.Fatal(err)
	}
	heicPath, avifPath := filepath.Join(dir, "photo.heic"), filepath.Join(dir, "photo.avif")
	run(b, tool(b, "heif-enc", "libheif-examples"), "-q", "90", "-o", heicPath, jpg)
	run(b, tool(b, "avifenc", "libavif-bin"), "--min", "8", "--max", "16", "-s", "8", "-j", "2", jpg, avifPath)
	tr, err := New(DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	for _, p := range []string{jpg, heicPath, avifPath} {
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(filepath.Ext(p)[1:], func(b *testing.B) {
			if _, err := tr.Previews(bytes.NewReader(data), int64(len(data)), deviceBoxes); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				if _, err := tr.Previews(bytes.NewReader(data), int64(len(data)), deviceBoxes); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
