package transform

import (
	"bytes"
	"errors"
	"image"
	"image/jpeg"
	"io"
	"os"
	"testing"
	"testing/iotest"

	"github.com/disintegration/imaging"
	"github.com/xmppmedia/mediaserver/transform/internal/quality"
	"github.com/xmppmedia/mediaserver/transform/internal/testimage"
)

func decodeAll(t *testing.T, data []byte) (image.Image, header, error) {
	t.Helper()
	rr := newReplayReader(bytes.NewReader(data))
	h, err := readHeader(rr, 50_000_000, true)
	if err != nil {
		return nil, h, err
	}
	img, _, err := decode(rr, &h, image.Pt(h.width, h.height))
	return img, h, err
}

func TestDecodeEachFormat(t *testing.T) {
	q := quadrants(40, 30)
	tests := []struct {
		name string
		data []byte
		w, h int
	}{
		{"jpeg", encodeJPEG(t, q, 90), 40, 30},
		{"png", encodePNG(t, q), 40, 30},
		{"gif", encodeGIF(t, q), 40, 30},
		{"webp lossy", webpFile(t, "testdata/quadrants.webp", 64, 32, 0), 64, 32},
		{"webp lossless alpha", webpFile(t, "testdata/alpha.webp", 32, 32, 0), 32, 32},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, _, err := decodeAll(t, tt.data)
			if err != nil {
				t.Fatal(err)
			}
			if b := img.Bounds(); b.Dx() != tt.w || b.Dy() != tt.h {
				t.Fatalf("decoded %v, want %dx%d", b, tt.w, tt.h)
			}
			if tt.name != "webp lossless alpha" {
				checkQuadrants(t, img)
			}
		})
	}
}

func TestDecodeCorrupt(t *testing.T) {
	q := noisy(64, 48)
	jpg := encodeJPEG(t, q, 90)
	png := encodePNG(t, q)
	gif := encodeGIF(t, q)
	webp := webpFile(t, "testdata/quadrants.webp", 64, 32, 0)
	garbled := func(b []byte, from int) []byte {
		c := append([]byte{}, b...)
		for i := from; i < len(c); i++ {
			c[i] = byte(i * 7)
		}
		return c
	}
	sos := bytes.Index(jpg, []byte{0xFF, 0xDA})
	tests := map[string][]byte{
		"jpeg truncated in scan":  jpg[:sos+200],
		"jpeg truncated header":   jpg[:sos],
		"jpeg garbage after SOS":  garbled(jpg, sos+20),
		"png truncated":           png[:len(png)/2],
		"png garbage in IDAT":     garbled(png, 60),
		"gif truncated":           gif[:len(gif)/2],
		"webp truncated":          webp[:len(webp)-40],
		"webp garbage in frame":   garbled(webp, 60),
		"webp lying chunk length": append(append([]byte{}, webp[:34]...), 0xFF, 0xFF, 0xFF, 0x7F),
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			_, _, err := decodeAll(t, data)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("got %v, want ErrCorrupt", err)
			}
		})
	}
}

// A failing store read must surface as that failure (a 500 or retry), not
// as a corrupt upload (422) the user is blamed for.
func TestDecodeSourceFailureIsNotCorrupt(t *testing.T) {
	jpg := encodeJPEG(t, noisy(64, 48), 90)
	boom := errors.New("blob store connection reset")
	src := io.MultiReader(bytes.NewReader(jpg[:len(jpg)/2]), iotest.ErrReader(boom))
	rr := newReplayReader(src)
	h, err := readHeader(rr, 1e6, true)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = decode(rr, &h, image.Pt(h.width, h.height))
	if !errors.Is(err, boom) || errors.Is(err, ErrCorrupt) {
		t.Fatalf("got %v, want the store error and not ErrCorrupt", err)
	}
}

func TestJPEGScale(t *testing.T) {
	tests := []struct {
		w, h   int
		hs, vs int
		need   image.Point
		want   int
	}{
		{4000, 3000, 2, 2, image.Pt(320, 240), 8},
		{4000, 3000, 2, 2, image.Pt(427, 320), 8}, // 480x320 box, both orientations made at upload
		{3840, 2880, 2, 2, image.Pt(427, 320), 8},
		{4000, 3000, 2, 2, image.Pt(480, 360), 4},
		{4000, 3000, 2, 2, image.Pt(512, 384), 4},
		{4000, 3000, 2, 2, image.Pt(1000, 750), 2},
		{4000, 3000, 2, 2, image.Pt(2000, 1500), 1},
		{3000, 4000, 2, 2, image.Pt(240, 320), 8},
		{400, 300, 2, 2, image.Pt(400, 300), 1},
		{2001, 1501, 2, 2, image.Pt(427, 320), 4},
		{2001, 1501, 4, 1, image.Pt(427, 320), 2}, // 4:1:1 keeps too little chroma at 1/4
		{2001, 1501, 1, 1, image.Pt(100, 75), 8},
		{9, 1000, 1, 1, image.Pt(1, 100), 8}, // 1.125 picture pixels across at 1/8
		{8, 1000, 1, 1, image.Pt(1, 100), 4},
	}
	for _, tt := range tests {
		if got := jpegScale(tt.w, tt.h, tt.hs, tt.vs, tt.need); got != tt.want {
			t.Errorf("jpegScale(%dx%d, need %v) = %d, want %d", tt.w, tt.h, tt.need, got, tt.want)
		}
	}
}

// TestDecodeJPEGScaledMatchesFull: the DCT-domain path gives the picture
// the full decode gives, smaller; adobe-RGB files (which jpegscale leaves to
// image/jpeg) still decode, in full.
func TestDecodeJPEGScaledMatchesFull(t *testing.T) {
	photo := testimage.Photo(800, 600, 3)
	prog, err := os.ReadFile("testdata/progressive800x600.jpg") // written by libjpeg via vips
	if err != nil {
		t.Fatal(err)
	}
	base := encodeJPEG(t, photo, 90)
	adobeRGB := withJPEGSegments(base, appSegment(0xEE, []byte{'A', 'd', 'o', 'b', 'e', 0, 100, 0, 0, 0, 0, 0}))
	tests := []struct {
		name     string
		data     []byte
		need     image.Point
		wantSize image.Point
	}{
		{"baseline 1/8", base, image.Pt(50, 37), image.Pt(100, 75)},
		{"baseline 1/4", base, image.Pt(130, 97), image.Pt(200, 150)},
		{"baseline 1/2", base, image.Pt(250, 187), image.Pt(400, 300)},
		{"progressive 1/8", prog, image.Pt(60, 45), image.Pt(100, 75)},
		{"progressive 1/4", prog, image.Pt(130, 97), image.Pt(200, 150)},
		{"progressive 1/2", prog, image.Pt(250, 187), image.Pt(400, 300)},
		{"progressive full", prog, image.Pt(500, 375), image.Pt(800, 600)},
		{"adobe rgb full", adobeRGB, image.Pt(100, 75), image.Pt(800, 600)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rr := newReplayReader(bytes.NewReader(tt.data))
			h, err := readHeader(rr, 50_000_000, true)
			if err != nil {
				t.Fatal(err)
			}
			img, _, err := decode(rr, &h, tt.need)
			if err != nil {
				t.Fatal(err)
			}
			if got := img.Bounds().Size(); got != tt.wantSize {
				t.Fatalf("size %v, want %v", got, tt.wantSize)
			}
			full, err := jpeg.Decode(bytes.NewReader(tt.data))
			if err != nil {
				t.Fatal(err)
			}
			if full.Bounds().Size() == tt.wantSize {
				return // the full decode is image/jpeg's own
			}
			ref := imaging.Resize(full, tt.wantSize.X, tt.wantSize.Y, imaging.Lanczos)
			if s, _ := quality.SSIM(toNRGBA(img), ref); s < 0.97 {
				t.Errorf("SSIM against the full decode Lanczos-resized to the same size: %.4f, want >= 0.97", s)
			}
		})
	}
}
