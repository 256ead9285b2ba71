// Package quality measures how close a preview is to a reference rendering.
package quality

import (
	"fmt"
	"image"
	"math"
)

// SSIM returns the mean structural similarity of the luma of a and b
// (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03,
// L 255). 1 means identical. The images must have the same size.
func SSIM(a, b image.Image) (float64, error) {
	ab, bb := a.Bounds(), b.Bounds()
	if ab.Dx() != bb.Dx() || ab.Dy() != bb.Dy() {
		return 0, fmt.Errorf("ssim: sizes differ: %v vs %v", ab.Size(), bb.Size())
	}
	w, h := ab.Dx(), ab.Dy()
	x, y := luma(a), luma(b)
	const radius = 5
	var kern [2*radius + 1]float64
	sum := 0.0
	for i := range kern {
		d := float64(i - radius)
		kern[i] = math.Exp(-d * d / (2 * 1.5 * 1.5))
		sum += kern[i]
	}
	for i := range kern {
		kern[i] /= sum
	}
	blur := func(src []float64) []float64 { return blurSep(src, w, h, kern[:]) }
	mx, my := blur(x), blur(y)
	xx, yy, xy := make([]float64, len(x)), make([]float64, len(x)), make([]float64, len(x))
	for i := range x {
		xx[i], yy[i], xy[i] = x[i]*x[i], y[i]*y[i], x[i]*y[i]
	}
	sxx, syy, sxy := blur(xx), blur(yy), blur(xy)
	const c1, c2 = (0.01 * 255) * (0.01 * 255), (0.03 * 255) * (0.03 * 255)
	total := 0.0
	for i := range x {
		vx := sxx[i] - mx[i]*mx[i]
		vy := syy[i] - my[i]*my[i]
		cov := sxy[i] - mx[i]*my[i]
		total += ((2*mx[i]*my[i] + c1) * (2*cov + c2)) / ((mx[i]*mx[i] + my[i]*my[i] + c1) * (vx + vy + c2))
	}
	return total / float64(len(x)), nil
}

// PSNR returns the peak signal-to-noise ratio of the luma in dB (+Inf when identical).
func PSNR(a, b image.Image) (float64, error) {
	ab, bb := a.Bounds(), b.Bounds()
	if ab.Dx() != bb.Dx() || ab.Dy() != bb.Dy() {
		return 0, fmt.Errorf("psnr: sizes differ: %v vs %v", ab.Size(), bb.Size())
	}
	x, y := luma(a), luma(b)
	mse := 0.0
	for i := range x {
		d := x[i] - y[i]
		mse += d * d
	}
	mse /= float64(len(x))
	if mse == 0 {
		return math.Inf(1), nil
	}
	return 10 * math.Log10(255*255/mse), nil
}

// PSNRRGB returns the peak signal-to-noise ratio over R, G and B together
// in dB (+Inf when identical), alpha ignored: unlike PSNR it sees colour
// errors that leave the luma alone (a wrong chroma range or colour profile).
func PSNRRGB(a, b image.Image) (float64, error) {
	ab, bb := a.Bounds(), b.Bounds()
	if ab.Dx() != bb.Dx() || ab.Dy() != bb.Dy() {
		return 0, fmt.Errorf("psnr: sizes differ: %v vs %v", ab.Size(), bb.Size())
	}
	mse := 0.0
	for y := 0; y < ab.Dy(); y++ {
		for x := 0; x < ab.Dx(); x++ {
			r1, g1, b1, _ := a.At(ab.Min.X+x, ab.Min.Y+y).RGBA()
			r2, g2, b2, _ := b.At(bb.Min.X+x, bb.Min.Y+y).RGBA()
			for _, d := range [3]float64{float64(r1>>8) - float64(r2>>8), float64(g1>>8) - float64(g2>>8), float64(b1>>8) - float64(b2>>8)} {
				mse += d * d
			}
		}
	}
	mse /= float64(3 * ab.Dx() * ab.Dy())
	if mse == 0 {
		return math.Inf(1), nil
	}
	return 10 * math.Log10(255*255/mse), nil
}

// luma is BT.601 luma in 0..255, alpha ignored.
func luma(img image.Image) []float64 {
	b := img.Bounds()
	out := make([]float64, 0, b.Dx()*b.Dy())
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			out = append(out, (0.299*float64(r)+0.587*float64(g)+0.114*float64(bl))/257)
		}
	}
	return out
}

// blurSep convolves with kern horizontally then vertically, clamping at edges.
func blurSep(src []float64, w, h int, kern []float64) []float64 {
	r := len(kern) / 2
	tmp := make([]float64, len(src))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			s := 0.0
			for k, kv := range kern {
				xx := min(max(x+k-r, 0), w-1)
				s += kv * src[y*w+xx]
			}
			tmp[y*w+x] = s
		}
	}
	out := make([]float64, len(src))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			s := 0.0
			for k, kv := range kern {
				yy := min(max(y+k-r, 0), h-1)
				s += kv * tmp[yy*w+x]
			}
			out[y*w+x] = s
		}
	}
	return out
}
