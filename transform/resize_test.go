package transform

import (
	"image"
	"image/color"
	"image/draw"
	"math"
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

// TestTapsMatchTheKernel: makeTaps advances the kernel's sines by rotation;
// its weights must be the Lanczos-3 kernel evaluated directly, normalised.
func TestTapsMatchTheKernel(t *testing.T) {
	kernel := func(x float64) float64 {
		if x = math.Abs(x); x >= 3 {
			return 0
		} else if x < 1e-9 {
			return 1
		}
		return 3 * math.Sin(math.Pi*x) * math.Sin(math.Pi*x/3) / (math.Pi * math.Pi * x * x)
	}
	for _, c := range []struct {
		lo, hi    float64
		srcN, dst int
	}{{0, 80, 80, 67}, {0, 250.125, 251, 100}, {0.5, 40, 41, 40}, {0, 30, 30, 97}, {0, 3000, 3000, 7}} {
		tp := makeTaps(c.lo, c.hi, c.srcN, c.dst)
		scale := (c.hi - c.lo) / float64(c.dst)
		fscale := max(scale, 1)
		for i := range c.dst {
			centre := c.lo + (float64(i)+0.5)*scale
			want := make([]float64, c.srcN)
			sum := 0.0
			for j := -c.srcN; j < 2*c.srcN; j++ {
				w := kernel((float64(j) + 0.5 - centre) / fscale)
				want[min(max(j, 0), c.srcN-1)] += w
				sum += w
			}
			for j := range want {
				var got float64
				if k := j - tp.first[i]; k >= 0 && k < tp.n[i] {
					got = float64(tp.weight[i*tp.stride+k])
				}
				if math.Abs(got-want[j]/sum) > 1e-5 {
					t.Fatalf("%+v: output %d, source %d: weight %.7f, kernel says %.7f", c, i, j, got, want[j]/sum)
				}
			}
		}
	}
}
