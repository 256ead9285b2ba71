package transform

import "image"

// VP8 (lossy WebP) codes colour as BT.601 "studio range" YCbCr: Y in
// 16..235, Cb and Cr in 16..240 around 128, as libwebp decodes it. The
// image.YCbCr that golang.org/x/image/webp returns carries those samples
// unchanged, but every Go consumer (color.YCbCrToRGB, image/draw, imaging,
// preShrink) reads image.YCbCr as JFIF full range, so a WebP came out
// washed out: blacks at 16, whites at 235, colours too weak (golang/go#40173).
//
// Rather than a second YCbCr->RGB path through every step, the planes are
// rewritten in place to the full-range values that give the same RGB under
// the JFIF equations: Y' = (Y-16)*255/219 and C' = (C-128)*255/224 + 128.
// The two sets of equations differ only by those scale factors (1.164 and
// 1.138 = 1.596/1.402 = 2.018/1.772), so the result matches libwebp's
// conversion up to rounding, at the cost of one table look-up per sample
// and no extra memory. Samples outside the studio range clip to 0..255,
// which is where the RGB result clips too.

// studioToFull holds the two look-up tables.
type studioToFull struct{ luma, chroma [256]uint8 }

func newStudioToFull() *studioToFull {
	var t studioToFull
	for i := range 256 {
		t.luma[i] = unit8(float64(i-16) * 255 / 219)
		t.chroma[i] = unit8(float64(i-128)*255/224 + 128)
	}
	return &t
}

// expandStudioRange rewrites a lossy WebP's decoded planes to full range
// (see above). Other image types (a lossless WebP is NRGBA) are left alone.
// The planes are mapped whole: each byte once, padding included, which is
// harmless and keeps the loop free of subsampling arithmetic.
func expandStudioRange(img image.Image) {
	var y *image.YCbCr
	switch m := img.(type) {
	case *image.YCbCr:
		y = m
	case *image.NYCbCrA:
		y = &m.YCbCr
	default:
		return
	}
	t := newStudioToFull()
	for i, v := range y.Y {
		y.Y[i] = t.luma[v]
	}
	for i, v := range y.Cb {
		y.Cb[i] = t.chroma[v]
	}
	for i, v := range y.Cr {
		y.Cr[i] = t.chroma[v]
	}
}
