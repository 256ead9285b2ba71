package transform

import (
	"image"
	"math"
)

// window is the part of a decoded image that holds the picture, in that
// image's pixel units. It is fractional because a decode at 1/8 (jpegscale)
// or a k x k pre-shrink rounds the size up: a 2001-pixel side becomes 251
// pixels of which the last stands for one source pixel and seven of padding,
// so the picture is 250.125 pixels wide. Resampling the whole 251 onto the
// output stretched every preview by up to a pixel, which cost 3 dB against
// a full decode (issue 13). Each pixel i of the image is taken to cover
// [i, i+1) of the window's coordinates; the padding beyond the picture
// repeats its edge (JPEG encoders pad that way, and preShrink does).
type window struct{ x0, y0, x1, y1 float64 }

func (w window) dx() float64 { return w.x1 - w.x0 }
func (w window) dy() float64 { return w.y1 - w.y0 }

// scaled is the window of the same picture in an image shrunk k times.
func (w window) scaled(k int) window {
	f := float64(k)
	return window{w.x0 / f, w.y0 / f, w.x1 / f, w.y1 / f}
}

// centreSquare is the largest square centred in w. A centred square maps
// onto itself under every EXIF orientation, so it can be cut from the
// stored image before orienting.
func (w window) centreSquare() window {
	side := min(w.dx(), w.dy())
	x0 := w.x0 + (w.dx()-side)/2
	y0 := w.y0 + (w.dy()-side)/2
	return window{x0, y0, x0 + side, y0 + side}
}

// fullWindow is the window of an image with no padding.
func fullWindow(img image.Image) window {
	b := img.Bounds()
	return window{0, 0, float64(b.Dx()), float64(b.Dy())}
}

// lanczosLobes: Lanczos-3, as imaging.Lanczos, which the previews used
// before and against which docs/previews.md measured them.
const lanczosLobes = 3

func lanczos(x float64) float64 {
	x = math.Abs(x)
	if x >= lanczosLobes {
		return 0
	}
	if x < 1e-9 {
		return 1
	}
	px := math.Pi * x
	return lanczosLobes * math.Sin(px) * math.Sin(px/lanczosLobes) / (px * px)
}

// taps is a 1-D resampling: output pixel i is the sum over k < n of
// weight[i*n+k] times source pixel index[i*n+k].
type taps struct {
	n      int
	index  []int32
	weight []float32
}

// makeTaps maps the source interval [lo, hi) onto dst output pixels, with
// source pixels 0..srcN-1 (indices outside repeat the edge pixel). When
// shrinking, the kernel is widened by the scale so every source pixel counts.
func makeTaps(lo, hi float64, srcN, dst int) taps {
	scale := (hi - lo) / float64(dst)
	fscale := max(scale, 1)
	support := lanczosLobes * fscale
	n := 2*int(math.Ceil(support)) + 1
	t := taps{n: n, index: make([]int32, dst*n), weight: make([]float32, dst*n)}
	ws := make([]float64, n)
	for i := range dst {
		centre := lo + (float64(i)+0.5)*scale
		first := int(math.Floor(centre - support))
		sum := 0.0
		for k := range n {
			j := first + k
			ws[k] = lanczos((float64(j) + 0.5 - centre) / fscale)
			sum += ws[k]
		}
		for k := range n {
			j := min(max(first+k, 0), srcN-1)
			t.index[i*n+k] = int32(j)
			t.weight[i*n+k] = float32(ws[k] / sum)
		}
	}
	return t
}

// span is the range of source indices the taps read.
func (t taps) span() (lo, hi int) {
	lo, hi = math.MaxInt32, -1
	for _, j := range t.index {
		lo, hi = min(lo, int(j)), max(hi, int(j))
	}
	return lo, hi + 1
}

// resample renders window win of img at dw x dh with Lanczos-3, colour
// weighted by alpha so transparent pixels lend no colour.
func resample(img image.Image, win window, dw, dh int) *image.NRGBA {
	b := img.Bounds()
	if win == fullWindow(img) && b.Dx() == dw && b.Dy() == dh {
		return toNRGBA(img)
	}
	src := toNRGBA(img)
	sw, sh := src.Rect.Dx(), src.Rect.Dy()
	tx := makeTaps(win.x0, win.x1, sw, dw)
	ty := makeTaps(win.y0, win.y1, sh, dh)
	rowLo, rowHi := ty.span()

	// Horizontal pass over the rows the vertical taps read, premultiplied.
	mid := make([]float32, (rowHi-rowLo)*dw*4)
	for y := rowLo; y < rowHi; y++ {
		row := src.Pix[y*src.Stride : y*src.Stride+4*sw]
		out := mid[(y-rowLo)*dw*4 : (y-rowLo+1)*dw*4]
		for i := range dw {
			var r, g, bl, a float32
			for k := range tx.n {
				j := 4 * int(tx.index[i*tx.n+k])
				p := row[j : j+4 : j+4]
				wa := tx.weight[i*tx.n+k] * float32(p[3])
				r += wa * float32(p[0])
				g += wa * float32(p[1])
				bl += wa * float32(p[2])
				a += wa
			}
			o := out[4*i : 4*i+4 : 4*i+4]
			o[0], o[1], o[2], o[3] = r, g, bl, a
		}
	}

	dst := image.NewNRGBA(image.Rect(0, 0, dw, dh))
	for y := range dh {
		out := dst.Pix[y*dst.Stride : y*dst.Stride+4*dw]
		for i := range dw {
			var r, g, bl, a float32
			for k := range ty.n {
				m := mid[((int(ty.index[y*ty.n+k])-rowLo)*dw+i)*4:]
				w := ty.weight[y*ty.n+k]
				r += w * m[0]
				g += w * m[1]
				bl += w * m[2]
				a += w * m[3]
			}
			o := out[4*i : 4*i+4 : 4*i+4]
			if a <= 0.5 {
				o[0], o[1], o[2], o[3] = 0, 0, 0, 0
				continue
			}
			o[0], o[1], o[2] = unit8(r/a), unit8(g/a), unit8(bl/a)
			o[3] = unit8(a)
		}
	}
	return dst
}

// unit8 rounds and clamps to 0..255.
func unit8(v float32) uint8 {
	switch {
	case v <= 0:
		return 0
	case v >= 255:
		return 255
	}
	return uint8(v + 0.5)
}
