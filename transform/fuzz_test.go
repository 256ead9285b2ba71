package transform

import (
	"bytes"
	"compress/zlib"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// FuzzDecode drives the decode entry point (header checks, orientation,
// decode, resize, encode) with arbitrary bytes. Whatever the input, the
// pipeline must not panic, must answer with one of the package's error kinds
// (never an unclassified error, which would become a 500), and a success
// must fit the box.
//
// CI runs it bounded: go test ./transform -run '^$' -fuzz FuzzDecode -fuzztime 30s
func FuzzDecode(f *testing.F) {
	// Seeds: a small valid file of each format, tagged and untagged, and the bombs.
	q := quadrants(24, 16)
	f.Add(encodeJPEG(f, q, 80))
	f.Add(jpegWithOrientation(f, q, 6, true))
	f.Add(encodePNG(f, q))
	f.Add(pngWithOrientation(f, q, 3))
	f.Add(encodeGIF(f, q))
	// 203x151 JPEGs from libjpeg: a 12x12 box takes them down the
	// DCT-domain (jpegscale) path at 1/8.
	for _, name := range []string{"testdata/quadrants.webp", "testdata/alpha.webp",
		"jpegscale/testdata/baseline420.jpg", "jpegscale/testdata/progressive420.jpg"} {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Add(webpFile(f, "testdata/quadrants.webp", 64, 32, 8))
	f.Add([]byte("\xFF\xD8\xFF"))
	f.Add([]byte("GIF89a\x01\x00\x01\x00"))
	// Colour profiles (converted, so parsed) in JPEG and PNG.
	icc := displayP3Profile()
	f.Add(withJPEGSegments(encodeJPEG(f, q, 80), appSegment(0xE2, append([]byte("ICC_PROFILE\x00\x01\x01"), icc...))))
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(icc)
	zw.Close()
	p := encodePNG(f, q)
	f.Add(append(append(append([]byte{}, p[:33]...), pngChunk("iCCP", append([]byte("P3\x00\x00"), z.Bytes()...))...), p[33:]...))
	// HEIC and AVIF (box parser, WebAssembly decoders), when the encoders
	// are installed (CI has them).
	dir := f.TempDir()
	src := filepath.Join(dir, "q.png")
	if err := os.WriteFile(src, encodePNG(f, quadrants(24, 16)), 0o644); err != nil {
		f.Fatal(err)
	}
	heicPath, avifPath := filepath.Join(dir, "q.heic"), filepath.Join(dir, "q.avif")
	for out, c := range map[string][]string{
		heicPath: {"heif-enc", "-q", "50", "-o", heicPath, src},
		avifPath: {"avifenc", "--irot", "1", "--imir", "0", src, avifPath},
	} {
		if exec.Command(c[0], c[1:]...).Run() == nil {
			if b, err := os.ReadFile(out); err == nil {
				f.Add(b)
			}
		}
	}

	cfg := DefaultConfig()
	cfg.MaxPixels = 4_000_000 // keep each fuzz iteration cheap
	tr, err := New(cfg)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		imgs, err := tr.Previews(bytes.NewReader(data), int64(len(data)), []Box{{12, 12}})
		if err != nil {
			if !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTooManyPixels) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		p := imgs[0]
		if p.Width < 1 || p.Height < 1 || (!p.UseOriginal && (p.Width > 12 || p.Height > 12)) {
			t.Fatalf("preview %dx%d does not fit 12x12", p.Width, p.Height)
		}
		if !p.UseOriginal && len(p.Data) == 0 {
			t.Fatal("empty preview")
		}
		if _, err := tr.Inspect(bytes.NewReader(data)); err != nil {
			t.Fatalf("Previews succeeded but Inspect failed: %v", err)
		}
	})
}
