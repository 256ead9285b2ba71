package transform

import (
	"image"
	"math"
)

// placeholderSide bounds the picture a placeholder is computed from: the
// ThumbHash format is defined for images of at most 100x100 pixels, and
// its few cosine terms see nothing that a larger picture would add.
const placeholderSide = 100

// thumbHash encodes img (at most placeholderSide on each side) as a
// ThumbHash: the average colour, a few low-frequency cosine terms of
// luminance, two chroma channels and, when the picture has transparency,
// alpha, packed in 4-bit steps with the aspect ratio into 20-30 bytes.
// The format is Evan Wallace's (https://evanw.github.io/thumbhash/), so
// any ThumbHash decoder draws it; this encoder follows its published
// description, and the test checks it against the reference package.
func thumbHash(img *image.NRGBA) []byte {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	n := w * h
	if n == 0 {
		return nil
	}

	// Straight-alpha RGBA in 0..1, and the average colour weighted by
	// alpha, over which transparent pixels are composited below.
	px := make([][4]float64, n)
	var avgR, avgG, avgB, sumA float64
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := img.PixOffset(b.Min.X+x, b.Min.Y+y)
			c := img.Pix[i : i+4 : i+4]
			a := float64(c[3]) / 255
			p := [4]float64{float64(c[0]) / 255, float64(c[1]) / 255, float64(c[2]) / 255, a}
			px[x+y*w] = p
			avgR += a * p[0]
			avgG += a * p[1]
			avgB += a * p[2]
			sumA += a
		}
	}
	if sumA > 0 {
		avgR, avgG, avgB = avgR/sumA, avgG/sumA, avgB/sumA
	}
	hasAlpha := sumA < float64(n)

	// Fewer luminance terms when alpha needs room of its own.
	lLimit := 7.0
	if hasAlpha {
		lLimit = 5
	}
	long := float64(max(w, h))
	lx := max(1, int(jsRound(lLimit*float64(w)/long)))
	ly := max(1, int(jsRound(lLimit*float64(h)/long)))

	// L: luminance; P, Q: yellow-blue and red-green differences.
	l, p, q, a := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	for i, c := range px {
		r := avgR*(1-c[3]) + c[3]*c[0]
		g := avgG*(1-c[3]) + c[3]*c[1]
		bl := avgB*(1-c[3]) + c[3]*c[2]
		l[i] = (r + g + bl) / 3
		p[i] = (r+g)/2 - bl
		q[i] = r - g
		a[i] = c[3]
	}
	lc := cosineTerms(l, w, h, max(3, lx), max(3, ly))
	pc := cosineTerms(p, w, h, 3, 3)
	qc := cosineTerms(q, w, h, 3, 3)
	var ac channelTerms
	if hasAlpha {
		ac = cosineTerms(a, w, h, 5, 5)
	}

	landscape := w > h
	header24 := int(jsRound(63*lc.dc)) |
		int(jsRound(31.5+31.5*pc.dc))<<6 |
		int(jsRound(31.5+31.5*qc.dc))<<12 |
		int(jsRound(31*lc.scale))<<18
	if hasAlpha {
		header24 |= 1 << 23
	}
	short := lx
	if landscape {
		short = ly
	}
	header16 := short | int(jsRound(63*pc.scale))<<3 | int(jsRound(63*qc.scale))<<9
	if landscape {
		header16 |= 1 << 15
	}

	hash := []byte{byte(header24), byte(header24 >> 8), byte(header24 >> 16), byte(header16), byte(header16 >> 8)}
	channels := []channelTerms{lc, pc, qc}
	if hasAlpha {
		hash = append(hash, byte(int(jsRound(15*ac.dc))|int(jsRound(15*ac.scale))<<4))
		channels = append(channels, ac)
	}
	start, count := len(hash), 0
	for _, c := range channels {
		count += len(c.ac)
	}
	hash = append(hash, make([]byte, (count+1)/2)...)
	i := 0
	for _, c := range channels {
		for _, f := range c.ac {
			hash[start+i/2] |= byte(int(jsRound(15*f))) << (4 * (i & 1))
			i++
		}
	}
	return hash
}

// channelTerms are one channel's cosine terms: the constant one, and the
// others (in the format's order) normalised to 0..1 by their largest
// magnitude, which is scale.
type channelTerms struct {
	dc, scale float64
	ac        []float64
}

// cosineTerms is the 2-D DCT of channel (w x h) up to nx x ny terms, taking
// only the triangle cx*ny < nx*(ny-cy): high frequencies in both directions
// at once add little to a blur.
func cosineTerms(channel []float64, w, h, nx, ny int) channelTerms {
	var t channelTerms
	fx := make([]float64, w)
	for cy := 0; cy < ny; cy++ {
		for cx := 0; cx*ny < nx*(ny-cy); cx++ {
			for x := range fx {
				fx[x] = math.Cos(math.Pi / float64(w) * float64(cx) * (float64(x) + 0.5))
			}
			var f float64
			for y := 0; y < h; y++ {
				fy := math.Cos(math.Pi / float64(h) * float64(cy) * (float64(y) + 0.5))
				row := channel[y*w : y*w+w]
				for x, v := range row {
					f += v * fx[x] * fy
				}
			}
			f /= float64(w * h)
			if cx > 0 || cy > 0 {
				t.ac = append(t.ac, f)
				t.scale = math.Max(t.scale, math.Abs(f))
			} else {
				t.dc = f
			}
		}
	}
	if t.scale > 0 {
		for i, f := range t.ac {
			t.ac[i] = 0.5 + 0.5/t.scale*f
		}
	}
	return t
}

// jsRound rounds halves up, as the format's definition (in JavaScript)
// does; math.Round would round -0.5 away from zero.
func jsRound(v float64) float64 { return math.Floor(v + 0.5) }

// placeholderOf computes the placeholder of pixels already decoded for the
// previews: base is the smallest preview (upright, o = 1) or, when no box
// was asked for, the decode itself (o its EXIF orientation), win the
// picture's window in it. A large base is box-shrunk first to about twice
// the placeholder, as for the previews: a Lanczos resample straight from a
// 1000-pixel source costs 10 ms, more than a blur of a few cosine terms
// is worth.
func placeholderOf(base image.Image, win window, o int) []byte {
	ww, wh := max(1, int(math.Round(win.dx()))), max(1, int(math.Round(win.dy())))
	pw, ph := fitSize(ww, wh, placeholderSide, placeholderSide)
	if k := shrinkFactor(ww, wh, pw, ph); k >= 2 {
		base, win = preShrink(base, k), win.scaled(k)
	}
	return thumbHash(orient(resample(base, win, pw, ph), o))
}
