package transform

import (
	"bytes"
	"fmt"
	"image"
	"testing"
)

func TestTIFFOrientation(t *testing.T) {
	le := []byte{'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0, 0, 0}
	tests := []struct {
		name string
		tiff []byte
		want int
	}{
		{"big endian 6", exifTIFF(6), 6},
		{"big endian 3", exifTIFF(3), 3},
		{"little endian 6", le, 6},
		{"out of range", exifTIFF(9), 1},
		{"zero", exifTIFF(0), 1},
		{"truncated", exifTIFF(6)[:12], 1},
		{"bad magic", []byte("MM\x00\x2b\x00\x00\x00\x08"), 1},
		{"ifd offset past end", []byte("MM\x00\x2a\x7f\xff\xff\xff"), 1},
		{"empty", nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tiffOrientation(tt.tiff); got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}

func TestJPEGOrientationFindsEXIFAfterOtherSegments(t *testing.T) {
	base := encodeJPEG(t, quadrants(16, 16), 80)
	exif := func(o int) []byte { return appSegment(0xE1, append([]byte("Exif\x00\x00"), exifTIFF(o)...)) }
	tests := []struct {
		name string
		data []byte
		want int
	}{
		{"none", base, 1},
		{"exif only", withJPEGSegments(base, exif(6)), 6},
		{"xmp first", withJPEGSegments(base, xmpSegment(), exif(8)), 8},
		{"app0 app2 xmp then exif", withJPEGSegments(base, appSegment(0xE0, []byte("JFIF\x00\x01\x02")),
			appSegment(0xE2, []byte("ICC_PROFILE\x00")), xmpSegment(), exif(3)), 3},
		{"fill bytes before marker", withJPEGSegments(base, []byte{0xFF, 0xFF}, exif(5)), 5},
		{"exif after SOS is ignored", append(base[:len(base)-2], exif(6)...), 1},
		{"truncated segment", withJPEGSegments(base, []byte{0xFF, 0xE1, 0x10, 0x00, 'E'})[:9], 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := jpegOrientation(bytes.NewReader(tt.data)); got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}

func TestOrientedSize(t *testing.T) {
	for o := 1; o <= 8; o++ {
		w, h := orientedSize(40, 30, o)
		if (o >= 5) != (w == 30 && h == 40) {
			t.Errorf("orientation %d: got %dx%d", o, w, h)
		}
	}
}

// TestEveryOrientationEveryFormat checks the user-visible result: whatever
// the camera stored and however it tagged it, the preview shows the scene
// upright, for each of the 8 orientations in each format that carries EXIF.
func TestEveryOrientationEveryFormat(t *testing.T) {
	tr, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	upright := quadrants(64, 32)
	for o := 1; o <= 8; o++ {
		stored := storedFor(upright, o)
		sw, sh := stored.Rect.Dx(), stored.Rect.Dy()
		files := map[string][]byte{
			"jpeg":           jpegWithOrientation(t, stored, o, false),
			"jpeg xmp first": jpegWithOrientation(t, stored, o, true),
			"png":            pngWithOrientation(t, stored, o),
		}
		if o == 1 || o == 6 { // WebP: the fixture holds upright pixels; tag them.
			files["webp"] = webpFile(t, "testdata/quadrants.webp", 64, 32, o)
		}
		for name, data := range files {
			t.Run(fmt.Sprintf("%s/%d", name, o), func(t *testing.T) {
				info, err := tr.Inspect(bytes.NewReader(data))
				if err != nil {
					t.Fatal(err)
				}
				wantW, wantH := 64, 32
				if name == "webp" {
					wantW, wantH = orientedSize(64, 32, o)
				} else if info.Width != wantW || info.Height != wantH {
					t.Errorf("Inspect: %dx%d stored %dx%d, want %dx%d upright", info.Width, info.Height, sw, sh, wantW, wantH)
				}
				if info.Orientation != o {
					t.Errorf("Inspect orientation %d, want %d", info.Orientation, o)
				}
				imgs, err := tr.Previews(bytes.NewReader(data), 0, []Box{{32, 32}})
				if err != nil {
					t.Fatal(err)
				}
				out := imgs[0]
				if out.Width != wantW/2 || out.Height != wantH/2 {
					t.Fatalf("preview %dx%d, want %dx%d", out.Width, out.Height, wantW/2, wantH/2)
				}
				got, _, err := image.Decode(bytes.NewReader(out.Data))
				if err != nil {
					t.Fatal(err)
				}
				if name == "webp" {
					checkQuadrants(t, storedFor(got, o))
				} else {
					checkQuadrants(t, got)
				}
			})
		}
	}
}
