package transform

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"
)

// bombs are tiny files whose headers claim far more pixels than the limit.
func bombs(t *testing.T) map[string][]byte {
	small := quadrants(16, 16)

	j := encodeJPEG(t, small, 80)
	i := bytes.Index(j, []byte{0xFF, 0xC0}) // SOF0: len(2) precision(1) height(2) width(2)
	binary.BigEndian.PutUint16(j[i+5:], 60000)
	binary.BigEndian.PutUint16(j[i+7:], 60000)

	p := encodePNG(t, small)
	binary.BigEndian.PutUint32(p[16:], 100000) // IHDR width
	binary.BigEndian.PutUint32(p[20:], 100000) // IHDR height
	binary.BigEndian.PutUint32(p[29:], crc32.ChecksumIEEE(p[12:29]))

	g := encodeGIF(t, small)
	binary.LittleEndian.PutUint16(g[6:], 65535) // logical screen
	binary.LittleEndian.PutUint16(g[8:], 65535)

	w := webpFile(t, "testdata/quadrants.webp", 16384, 16384, 0)
	return map[string][]byte{"jpeg": j, "png": p, "gif": g, "webp": w}
}

func TestHeaderRefusesDecompressionBombs(t *testing.T) {
	for name, data := range bombs(t) {
		t.Run(name, func(t *testing.T) {
			rr := newReplayReader(bytes.NewReader(data))
			_, err := readHeader(rr, 50_000_000, true)
			if !errors.Is(err, ErrTooManyPixels) {
				t.Fatalf("got %v, want ErrTooManyPixels", err)
			}
			if rr.recorded() > 64<<10 {
				t.Errorf("held %d bytes to read a header", rr.recorded())
			}
		})
	}
}

func TestHeaderReadsEachFormat(t *testing.T) {
	img := quadrants(40, 30)
	tests := []struct {
		name, format string
		data         []byte
		w, h         int
	}{
		{"jpeg", formatJPEG, encodeJPEG(t, img, 80), 40, 30},
		{"png", formatPNG, encodePNG(t, img), 40, 30},
		{"gif", formatGIF, encodeGIF(t, img), 40, 30},
		{"webp", formatWebP, webpFile(t, "testdata/quadrants.webp", 64, 32, 0), 64, 32},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := readHeader(newReplayReader(bytes.NewReader(tt.data)), 1e6, false)
			if err != nil {
				t.Fatal(err)
			}
			if h.format != tt.format || h.width != tt.w || h.height != tt.h || h.orientation != 1 {
				t.Errorf("got %+v, want %s %dx%d orientation 1", h, tt.format, tt.w, tt.h)
			}
		})
	}
}

func TestHeaderErrors(t *testing.T) {
	jpg := encodeJPEG(t, quadrants(16, 16), 80)
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrUnsupported},
		{"text", []byte("hello, this is not an image"), ErrUnsupported},
		{"svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`), ErrUnsupported},
		{"jpeg magic only", jpg[:3], ErrCorrupt},
		{"png magic only", []byte("\x89PNG\r\n\x1a\n"), ErrCorrupt},
		{"gif magic only", []byte("GIF89a"), ErrCorrupt},
		{"zero width png", zeroWidthPNG(t), ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readHeader(newReplayReader(bytes.NewReader(tt.data)), 1e6, true)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func zeroWidthPNG(t *testing.T) []byte {
	p := encodePNG(t, quadrants(4, 4))
	binary.BigEndian.PutUint32(p[16:], 0)
	binary.BigEndian.PutUint32(p[29:], crc32.ChecksumIEEE(p[12:29]))
	return p
}

func TestCheckPixels(t *testing.T) {
	tests := []struct {
		w, h int
		max  int64
		want error
	}{
		{100, 100, 10000, nil},
		{100, 101, 10000, ErrTooManyPixels},
		{65535, 65535, 50_000_000, ErrTooManyPixels},
		{0, 10, 100, ErrCorrupt},
		{10, -1, 100, ErrCorrupt},
	}
	for _, tt := range tests {
		if err := checkPixels(tt.w, tt.h, tt.max); !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
			t.Errorf("checkPixels(%d, %d, %d) = %v, want %v", tt.w, tt.h, tt.max, err, tt.want)
		}
	}
}
