package transform

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"testing"
)

func TestPreviewsFitBoxes(t *testing.T) {
	src := gradient(1200, 900)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, src, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	tr, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	boxes := []Box{{240, 320}, {320, 480}, {2000, 2000}}
	imgs, err := tr.Previews(bytes.NewReader(buf.Bytes()), int64(buf.Len()), boxes)
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]int{{240, 180}, {320, 240}, {1200, 900}}
	for i, img := range imgs {
		if img.Width != want[i][0] || img.Height != want[i][1] {
			t.Errorf("box %v: got %dx%d, want %dx%d", boxes[i], img.Width, img.Height, want[i][0], want[i][1])
		}
		if img.UseOriginal {
			continue
		}
		cfg, format, err := image.DecodeConfig(bytes.NewReader(img.Data))
		if err != nil || format != "jpeg" || cfg.Width != img.Width || cfg.Height != img.Height {
			t.Errorf("box %v: output %v %q %dx%d", boxes[i], err, format, cfg.Width, cfg.Height)
		}
	}
}

func TestInspectRefusesBomb(t *testing.T) {
	tr, _ := New(DefaultConfig())
	var buf bytes.Buffer
	jpeg.Encode(&buf, gradient(16, 16), nil)
	b := buf.Bytes()
	// Patch the SOF0 dimensions to 60000x60000.
	i := bytes.Index(b, []byte{0xFF, 0xC0})
	b[i+5], b[i+6], b[i+7], b[i+8] = 0xEA, 0x60, 0xEA, 0x60
	if _, err := tr.Inspect(bytes.NewReader(b)); !errors.Is(err, ErrTooManyPixels) {
		t.Fatalf("got %v, want ErrTooManyPixels", err)
	}
}

func gradient(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), uint8((x + y) % 256), 255})
		}
	}
	return img
}
