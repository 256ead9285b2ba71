package transform

import (
	"bytes"
	"errors"
	"image"
	"io"
	"testing"
	"testing/iotest"
)

func decodeAll(t *testing.T, data []byte) (image.Image, header, error) {
	t.Helper()
	rr := newReplayReader(bytes.NewReader(data))
	h, err := readHeader(rr, 50_000_000, true)
	if err != nil {
		return nil, h, err
	}
	img, err := decode(rr, &h)
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
	_, err = decode(rr, &h)
	if !errors.Is(err, boom) || errors.Is(err, ErrCorrupt) {
		t.Fatalf("got %v, want the store error and not ErrCorrupt", err)
	}
}
