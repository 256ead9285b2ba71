package transform

import (
	"image"
	"image/color"
	"image/draw"
	"testing"
)

func TestFitSize(t *testing.T) {
	tests := []struct{ w, h, bw, bh, ww, wh int }{
		{4000, 3000, 320, 480, 320, 240},
		{3000, 4000, 320, 480, 320, 427},
		{4000, 3000, 240, 320, 240, 180},
		{100, 50, 320, 480, 100, 50},   // never enlarged
		{320, 480, 320, 480, 320, 480}, // exact fit
		{10000, 10, 240, 320, 240, 1},  // at least one pixel
		{1, 1, 240, 320, 1, 1},
		{500, 300, 240, 320, 240, 144},
	}
	for _, tt := range tests {
		gw, gh := fitSize(tt.w, tt.h, tt.bw, tt.bh)
		if gw != tt.ww || gh != tt.wh {
			t.Errorf("fitSize(%dx%d in %dx%d) = %dx%d, want %dx%d", tt.w, tt.h, tt.bw, tt.bh, gw, gh, tt.ww, tt.wh)
		}
	}
}

func TestShrinkFactor(t *testing.T) {
	tests := []struct{ sw, sh, dw, dh, want int }{
		{4000, 3000, 320, 240, 6},
		{4000, 3000, 240, 180, 8},
		{600, 400, 320, 213, 1},
		{100, 100, 100, 100, 1},
	}
	for _, tt := range tests {
		if got := shrinkFactor(tt.sw, tt.sh, tt.dw, tt.dh); got != tt.want {
			t.Errorf("shrinkFactor(%d,%d,%d,%d) = %d, want %d", tt.sw, tt.sh, tt.dw, tt.dh, got, tt.want)
		}
	}
}

func TestPreShrinkAveragesBlocks(t *testing.T) {
	// A 4x2 checkerboard of black and white shrunk by 2 is mid grey, and the
	// odd fifth column (a cut-off edge block) keeps its own colour.
	src := image.NewGray(image.Rect(0, 0, 5, 2))
	for y := 0; y < 2; y++ {
		for x := 0; x < 4; x++ {
			if (x+y)%2 == 0 {
				src.SetGray(x, y, color.Gray{255})
			}
		}
		src.SetGray(4, y, color.Gray{200})
	}
	for _, img := range []image.Image{src, toNRGBA(src), ycbcrOf(src)} {
		got := preShrink(img, 2)
		if got.Rect.Dx() != 3 || got.Rect.Dy() != 1 {
			t.Fatalf("%T: size %v, want 3x1", img, got.Rect)
		}
		for x, want := range []uint8{128, 128, 200} {
			c := got.NRGBAAt(x, 0)
			if d := int(c.R) - int(want); d < -2 || d > 2 || c.A != 255 {
				t.Errorf("%T: pixel %d = %v, want about %d", img, x, c, want)
			}
		}
	}
}

func TestPreShrinkDoesNotBleedTransparentColour(t *testing.T) {
	// Half the block is fully transparent "green"; the average must be the
	// opaque red at half alpha, not a red-green mix.
	src := image.NewNRGBA(image.Rect(0, 0, 2, 2))
	src.SetNRGBA(0, 0, color.NRGBA{255, 0, 0, 255})
	src.SetNRGBA(1, 0, color.NRGBA{0, 255, 0, 0})
	src.SetNRGBA(0, 1, color.NRGBA{255, 0, 0, 255})
	src.SetNRGBA(1, 1, color.NRGBA{0, 255, 0, 0})
	got := preShrink(src, 2).NRGBAAt(0, 0)
	if !near(got, color.NRGBA{255, 0, 0, 128}, 2) {
		t.Fatalf("got %v, want red at half alpha", got)
	}
}

func ycbcrOf(g *image.Gray) *image.YCbCr {
	y := image.NewYCbCr(g.Rect, image.YCbCrSubsampleRatio420)
	copy(y.Y, g.Pix) // Stride equals width for both
	for i := range y.Cb {
		y.Cb[i], y.Cr[i] = 128, 128
	}
	return y
}

// TestPreShrinkPremultipliedRGBA: libavif hands over premultiplied RGBA;
// its fast path must agree with the generic one on the same pixels.
func TestPreShrinkPremultipliedRGBA(t *testing.T) {
	n := image.NewNRGBA(image.Rect(0, 0, 9, 7))
	for i := range n.Pix {
		n.Pix[i] = uint8(i * 53)
	}
	for i := 3; i < len(n.Pix); i += 8 {
		n.Pix[i] = 255
	}
	rgba := image.NewRGBA(n.Rect)
	draw.Draw(rgba, rgba.Rect, n, image.Point{}, draw.Src)
	got, want := preShrink(rgba, 3), preShrink(n, 3)
	for i := range got.Pix {
		if d := int(got.Pix[i]) - int(want.Pix[i]); d < -2 || d > 2 {
			t.Fatalf("byte %d: RGBA path %d, NRGBA path %d", i, got.Pix[i], want.Pix[i])
		}
	}
}
