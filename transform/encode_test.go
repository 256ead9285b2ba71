package transform

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"
)

func TestEncodeOpaqueIsBaselineJPEGWithoutMetadata(t *testing.T) {
	img, err := encode(toNRGBA(noisy(64, 48)), 80)
	if err != nil {
		t.Fatal(err)
	}
	if img.MimeType != "image/jpeg" || img.Width != 64 || img.Height != 48 {
		t.Fatalf("got %s %dx%d", img.MimeType, img.Width, img.Height)
	}
	markers := jpegMarkers(img.Data)
	if !markers[0xC0] || markers[0xC2] {
		t.Errorf("want baseline SOF0 and no progressive SOF2, markers %v", markers)
	}
	for m := byte(0xE1); m <= 0xEF; m++ {
		if markers[m] {
			t.Errorf("APP%d segment (metadata) in output", m-0xE0)
		}
	}
	if _, err := jpeg.Decode(bytes.NewReader(img.Data)); err != nil {
		t.Fatal(err)
	}
}

func TestEncodeTransparentIsPNG(t *testing.T) {
	src := quadrants(16, 16)
	src.SetNRGBA(3, 3, color.NRGBA{10, 20, 30, 100})
	img, err := encode(src, 80)
	if err != nil {
		t.Fatal(err)
	}
	if img.MimeType != "image/png" {
		t.Fatalf("got %s, want image/png", img.MimeType)
	}
	dec, err := png.Decode(bytes.NewReader(img.Data))
	if err != nil {
		t.Fatal(err)
	}
	if got := color.NRGBAModel.Convert(dec.At(3, 3)).(color.NRGBA); got != (color.NRGBA{10, 20, 30, 100}) {
		t.Errorf("pixel (3,3) = %v, want the translucent colour back", got)
	}
}

func TestIsOpaque(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 3, 3))
	if isOpaque(img) {
		t.Error("all-transparent image reported opaque")
	}
	for i := 3; i < len(img.Pix); i += 4 {
		img.Pix[i] = 255
	}
	if !isOpaque(img) {
		t.Error("opaque image reported transparent")
	}
	if !isOpaque(img.SubImage(image.Rect(1, 1, 2, 2)).(*image.NRGBA)) {
		t.Error("opaque sub-image reported transparent")
	}
}

// jpegMarkers lists the segment markers before the first SOS.
func jpegMarkers(b []byte) map[byte]bool {
	m := map[byte]bool{}
	for p := 2; p+4 <= len(b) && b[p] == 0xFF; {
		m[b[p+1]] = true
		if b[p+1] == 0xDA {
			break
		}
		p += 2 + (int(b[p+2])<<8 | int(b[p+3]))
	}
	return m
}
