package jpegscale

import (
	"bytes"
	"errors"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecode: arbitrary bytes never panic; every error is ErrUnsupported, a
// FormatError or a read error; a success has the promised size; and a file
// that image/jpeg decodes is not refused as corrupt by this decoder (the
// two agree on what a valid JPEG is, within the supported subset).
//
//	go test ./transform/jpegscale -run '^$' -fuzz FuzzDecode -fuzztime 30s -fuzzminimizetime 10s
func FuzzDecode(f *testing.F) {
	// Small seeds keep mutation and minimization fast.
	for _, size := range [][2]int{{8, 8}, {17, 9}, {33, 20}} {
		img := image.NewRGBA(image.Rect(0, 0, size[0], size[1]))
		for i := range img.Pix {
			img.Pix[i] = uint8(i * 13)
		}
		var buf bytes.Buffer
		jpeg.Encode(&buf, img, &jpeg.Options{Quality: 50})
		f.Add(buf.Bytes(), uint8(2)) // shrink 8
		f.Add(buf.Bytes(), uint8(1)) // shrink 4
	}
	names, _ := filepath.Glob("testdata/*.jpg")
	for _, n := range names {
		if b, err := os.ReadFile(n); err == nil {
			for sel := range uint8(3) { // shrink 2, 4, 8
				f.Add(b, sel)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, shrinkSel uint8) {
		shrink := []int{2, 4, 8}[shrinkSel%3]
		d, err := NewDecoder(bytes.NewReader(data))
		if err == nil {
			if int64(d.Width())*int64(d.Height()) > 4<<20 {
				return // the caller's pixel limit would refuse it
			}
			out, derr := d.Decode(shrink)
			err = derr
			if err == nil {
				b := out.Bounds()
				if b.Dx() != (d.Width()+shrink-1)/shrink || b.Dy() != (d.Height()+shrink-1)/shrink {
					t.Fatalf("size %v for %dx%d at 1/%d", b, d.Width(), d.Height(), shrink)
				}
				return
			}
		}
		var fe FormatError
		if !errors.Is(err, ErrUnsupported) && !errors.As(err, &fe) {
			t.Fatalf("unclassified error %v", err)
		}
		if errors.As(err, &fe) {
			if cfg, jerr := jpeg.DecodeConfig(bytes.NewReader(data)); jerr == nil && int64(cfg.Width)*int64(cfg.Height) <= 4<<20 {
				if _, jerr := jpeg.Decode(bytes.NewReader(data)); jerr == nil {
					t.Fatalf("image/jpeg decodes it, jpegscale says %v", err)
				}
			}
		}
	})
}
