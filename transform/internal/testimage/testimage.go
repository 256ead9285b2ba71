// Package testimage generates deterministic photo-like images for tests and
// benchmarks, so that no binary test photos need to live in the repository.
package testimage

import (
	"image"
	"math"
)

// rng is a small deterministic generator (SplitMix64).
type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	r.s += 0x9E3779B97F4A7C15
	z := r.s
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// float in [0,1).
func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

// Photo draws a w x h image with the statistics that matter for JPEG size
// and resampling quality: fractal luminance texture at every scale, smoother
// colour, hard-edged shapes (where bad filters ring or alias) and a little
// sensor noise. The same seed gives the same pixels.
func Photo(w, h int, seed uint64) *image.RGBA {
	r := &rng{s: seed}
	lum := make([]float32, w*h)
	chromaA := make([]float32, w*h)
	chromaB := make([]float32, w*h)
	// Fractal value noise: octaves from 1/5 of the width down to 3 pixels.
	for cell, amp := float64(w)/5, 60.0; cell >= 3; cell, amp = cell/2, amp*0.6 {
		addOctave(lum, w, h, cell, float32(amp), r)
		if cell > 40 {
			addOctave(chromaA, w, h, cell, float32(amp*0.45), r)
			addOctave(chromaB, w, h, cell, float32(amp*0.45), r)
		}
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := y*w + x
			l := 128 + float64(lum[i])
			a, b := float64(chromaA[i]), float64(chromaB[i])
			p := img.Pix[4*i : 4*i+4 : 4*i+4]
			p[0] = clamp(l + a)
			p[1] = clamp(l - 0.5*a - 0.5*b)
			p[2] = clamp(l + b)
			p[3] = 255
		}
	}
	// Hard-edged discs of flat colour, plus mild noise inside them.
	for n := 0; n < 60; n++ {
		cx, cy := r.float()*float64(w), r.float()*float64(h)
		rad := (0.01 + 0.06*r.float()) * float64(w)
		c := [3]uint8{uint8(r.next()), uint8(r.next()), uint8(r.next())}
		x0, x1 := max(0, int(cx-rad)), min(w, int(cx+rad)+1)
		y0, y1 := max(0, int(cy-rad)), min(h, int(cy+rad)+1)
		for y := y0; y < y1; y++ {
			for x := x0; x < x1; x++ {
				if math.Hypot(float64(x)-cx, float64(y)-cy) <= rad {
					i := img.PixOffset(x, y)
					img.Pix[i], img.Pix[i+1], img.Pix[i+2] = c[0], c[1], c[2]
				}
			}
		}
	}
	for i := 0; i < len(img.Pix); i += 4 {
		v := r.next()
		for c := 0; c < 3; c++ {
			d := int(v>>(8*c)%37) - 18 // -18..18
			img.Pix[i+c] = clamp(float64(int(img.Pix[i+c]) + d))
		}
	}
	return img
}

// addOctave adds bilinearly interpolated random lattice values.
func addOctave(dst []float32, w, h int, cell float64, amp float32, r *rng) {
	gw, gh := int(float64(w)/cell)+2, int(float64(h)/cell)+2
	grid := make([]float32, gw*gh)
	for i := range grid {
		grid[i] = (float32(r.float())*2 - 1) * amp
	}
	inv := 1 / cell
	for y := 0; y < h; y++ {
		fy := float64(y) * inv
		gy := int(fy)
		ty := float32(fy - float64(gy))
		// smoothstep hides the lattice
		ty = ty * ty * (3 - 2*ty)
		row0, row1 := grid[gy*gw:], grid[(gy+1)*gw:]
		out := dst[y*w : (y+1)*w]
		for x := range out {
			fx := float64(x) * inv
			gx := int(fx)
			tx := float32(fx - float64(gx))
			tx = tx * tx * (3 - 2*tx)
			top := row0[gx] + (row0[gx+1]-row0[gx])*tx
			bot := row1[gx] + (row1[gx+1]-row1[gx])*tx
			out[x] += top + (bot-top)*ty
		}
	}
}

func clamp(v float64) uint8 {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v + 0.5)
}
