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

// lanczosSin is the Lanczos kernel at x, given sin(pi x) and
// sin(pi x / lanczosLobes).
func lanczosSin(x, sinA, sinB float64) float64 {
	switch ax := math.Abs(x); {
	case ax >= lanczosLobes:
		return 0
	case ax < 1e-9:
		return 1
	}
	return lanczosLobes * sinA * sinB / (math.Pi * math.Pi * x * x)
}

// rotation turns (sin t, cos t) into (sin(t+d), cos(t+d)) for a fixed d.
type rotation struct{ sin, cos float64 }

func newRotation(d float64) rotation {
	s, c := math.Sincos(d)
	return rotation{s, c}
}

func (r rotation) apply(sin, cos float64) (float64, float64) {
	return sin*r.cos + cos*r.sin, cos*r.cos - sin*r.sin
}

// taps is a 1-D resampling: output pixel i is the sum over k < n[i] of
// weight[i*stride+k] times source pixel first[i]+k. Weights that fall
// outside the source are moved onto its edge pixel (the edge repeats), so
// each output reads one contiguous run of source pixels.
type taps struct {
	stride int
	first  []int
	n      []int
	weight []float32
}

// makeTaps maps the source interval [lo, hi) onto dst output pixels, with
// source pixels 0..srcN-1. When shrinking, the kernel is widened by the
// scale so every source pixel counts.
func makeTaps(lo, hi float64, srcN, dst int) taps {
	scale := (hi - lo) / float64(dst)
	fscale := max(scale, 1)
	support := lanczosLobes * fscale
	stride := 2*int(math.Ceil(support)) + 1
	t := taps{stride: stride, first: make([]int, dst), n: make([]int, dst), weight: make([]float32, dst*stride)}
	ws := make([]float64, stride)
	// The taps of one output pixel are evenly spaced, 1/fscale apart in
	// the kernel's units, so the two sines of the kernel advance by
	// rotation: two Sincos per output pixel instead of two sines per tap
	// (which were most of the cost of a small derived preview's taps).
	step := 1 / fscale
	stepA := newRotation(math.Pi * step)
	stepB := newRotation(math.Pi * step / lanczosLobes)
	for i := range dst {
		centre := lo + (float64(i)+0.5)*scale
		first := int(math.Floor(centre - support))
		clear(ws)
		sum := 0.0
		a, b := srcN, -1 // the clamped run
		x := (float64(first) + 0.5 - centre) / fscale
		sinA, cosA := math.Sincos(math.Pi * x)
		sinB, cosB := math.Sincos(math.Pi * x / lanczosLobes)
		for k := range stride {
			w := lanczosSin(x, sinA, sinB)
			x += step
			sinA, cosA = stepA.apply(sinA, cosA)
			sinB, cosB = stepB.apply(sinB, cosB)
			if w == 0 {
				continue
			}
			j := min(max(first+k, 0), srcN-1)
			a, b = min(a, j), max(b, j)
			ws[j-max(first, 0)] += w // j >= max(first,0) always
			sum += w
		}
		if b < 0 { // cannot happen with a Lanczos kernel, but keep it safe
			a, b, ws[0], sum = min(max(first, 0), srcN-1), min(max(first, 0), srcN-1), 1, 1
		}
		off := a - max(first, 0)
		t.first[i], t.n[i] = a, b-a+1
		for k := 0; k < t.n[i]; k++ {
			t.weight[i*stride+k] = float32(ws[off+k] / sum)
		}
	}
	return t
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
	rowLo, rowHi := ty.first[0], ty.first[dh-1]+ty.n[dh-1]
	for y := range dh {
		rowLo, rowHi = min(rowLo, ty.first[y]), max(rowHi, ty.first[y]+ty.n[y])
	}

	if isOpaque(src) {
		return resampleOpaque(src, tx, ty, rowLo, rowHi, dw, dh)
	}

	// Horizontal pass over the rows the vertical taps read, premultiplied.
	rowLen := dw * 4
	mid := make([]float32, (rowHi-rowLo)*rowLen)
	for y := rowLo; y < rowHi; y++ {
		row := src.Pix[y*src.Stride : y*src.Stride+4*sw]
		out := mid[(y-rowLo)*rowLen : (y-rowLo+1)*rowLen]
		for i := range dw {
			ws := tx.weight[i*tx.stride : i*tx.stride+tx.n[i]]
			px := row[4*tx.first[i] : 4*(tx.first[i]+len(ws))]
			var r, g, bl, a float32
			for k, w := range ws {
				p := px[4*k : 4*k+4 : 4*k+4]
				wa := w * float32(p[3])
				r += wa * float32(p[0])
				g += wa * float32(p[1])
				bl += wa * float32(p[2])
				a += wa
			}
			o := out[4*i : 4*i+4 : 4*i+4]
			o[0], o[1], o[2], o[3] = r, g, bl, a
		}
	}

	// Vertical pass, a whole row at a time (sequential memory).
	dst := image.NewNRGBA(image.Rect(0, 0, dw, dh))
	acc := make([]float32, rowLen)
	for y := range dh {
		verticalTaps(acc, mid, ty, y, rowLo, rowLen)
		out := dst.Pix[y*dst.Stride : y*dst.Stride+rowLen]
		for i := 0; i < rowLen; i += 4 {
			c := acc[i : i+4 : i+4]
			o := out[i : i+4 : i+4]
			a := c[3]
			if a <= 0.5 {
				o[0], o[1], o[2], o[3] = 0, 0, 0, 0
				continue
			}
			o[0], o[1], o[2], o[3] = unit8(c[0]/a), unit8(c[1]/a), unit8(c[2]/a), unit8(a)
		}
	}
	return dst
}

// resampleOpaque is resample for an image without transparency (every
// JPEG): three channels and no alpha weighting, a third less work.
func resampleOpaque(src *image.NRGBA, tx, ty taps, rowLo, rowHi, dw, dh int) *image.NRGBA {
	sw := src.Rect.Dx()
	rowLen := dw * 3
	mid := make([]float32, (rowHi-rowLo)*rowLen)
	for y := rowLo; y < rowHi; y++ {
		row := src.Pix[y*src.Stride : y*src.Stride+4*sw]
		out := mid[(y-rowLo)*rowLen : (y-rowLo+1)*rowLen]
		for i := range dw {
			ws := tx.weight[i*tx.stride : i*tx.stride+tx.n[i]]
			px := row[4*tx.first[i] : 4*(tx.first[i]+len(ws))]
			var r, g, bl float32
			for k, w := range ws {
				p := px[4*k : 4*k+3 : 4*k+3]
				r += w * float32(p[0])
				g += w * float32(p[1])
				bl += w * float32(p[2])
			}
			o := out[3*i : 3*i+3 : 3*i+3]
			o[0], o[1], o[2] = r, g, bl
		}
	}
	dst := image.NewNRGBA(image.Rect(0, 0, dw, dh))
	acc := make([]float32, rowLen)
	for y := range dh {
		verticalTaps(acc, mid, ty, y, rowLo, rowLen)
		out := dst.Pix[y*dst.Stride : y*dst.Stride+4*dw]
		for i := range dw {
			c := acc[3*i : 3*i+3 : 3*i+3]
			o := out[4*i : 4*i+4 : 4*i+4]
			o[0], o[1], o[2], o[3] = unit8(c[0]), unit8(c[1]), unit8(c[2]), 0xFF
		}
	}
	return dst
}

// verticalTaps sets acc to output row y of the vertical pass over mid,
// whose rows of rowLen values start at source row rowLo.
func verticalTaps(acc, mid []float32, ty taps, y, rowLo, rowLen int) {
	clear(acc)
	ws := ty.weight[y*ty.stride : y*ty.stride+ty.n[y]]
	for k, w := range ws {
		m := mid[(ty.first[y]+k-rowLo)*rowLen : (ty.first[y]+k-rowLo+1)*rowLen]
		for i, v := range m {
			acc[i] += w * v
		}
	}
}

// unit8 rounds and clamps to 0..255.
func unit8[F float32 | float64](v F) uint8 {
	switch {
	case v <= 0:
		return 0
	case v >= 255:
		return 255
	}
	return uint8(v + 0.5)
}
