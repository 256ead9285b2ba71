package transform

import "image"

// Resampling in YCbCr. A JPEG decodes to Y, Cb and Cr planes and is
// encoded from them again; going through RGB in between costs a colour
// conversion each way, an upsampling of the chroma to full size (nearest
// neighbour, in image/draw) and the encoder's 2x2 averaging back down,
// and twice the samples for the Lanczos pass. Lanczos is linear and the
// JPEG colour conversion affine, so resampling each plane on its own grid
// gives the same picture: luma to the output size, chroma straight from
// its own grid onto the output's 4:2:0 chroma grid (which also replaces
// the nearest-neighbour upsampling with a proper filter). This is what
// makes a derived 100x100 cheap (BenchmarkDerive).

// chromaFactors is how many luma samples there are per chroma sample
// across and down.
func chromaFactors(r image.YCbCrSubsampleRatio) (hs, vs int, ok bool) {
	switch r {
	case image.YCbCrSubsampleRatio444:
		return 1, 1, true
	case image.YCbCrSubsampleRatio422:
		return 2, 1, true
	case image.YCbCrSubsampleRatio420:
		return 2, 2, true
	case image.YCbCrSubsampleRatio440:
		return 1, 2, true
	case image.YCbCrSubsampleRatio411:
		return 4, 1, true
	case image.YCbCrSubsampleRatio410:
		return 4, 2, true
	}
	return 0, 0, false
}

// resampleYCbCr renders window win of src at dw x dh with Lanczos-3 as a
// 4:2:0 image (what the JPEG encoder writes). Output chroma sample j
// stands for output luma pixels [2j, 2j+2), centred as JFIF sites it, so
// its window in the source's chroma plane is the luma window stretched by
// the part of a chroma sample that hangs over an odd side, over hs.
func resampleYCbCr(src *image.YCbCr, win window, dw, dh int) (*image.YCbCr, bool) {
	hs, vs, ok := chromaFactors(src.SubsampleRatio)
	if !ok {
		return nil, false
	}
	b := src.Rect
	dst := image.NewYCbCr(image.Rect(0, 0, dw, dh), image.YCbCrSubsampleRatio420)
	resamplePlane(dst.Y, dst.YStride, dw, dh,
		src.Y[src.YOffset(b.Min.X, b.Min.Y):], src.YStride, b.Dx(),
		makeTaps(win.x0, win.x1, b.Dx(), dw), makeTaps(win.y0, win.y1, b.Dy(), dh))

	cdw, cdh := (dw+1)/2, (dh+1)/2
	// The source chroma plane's extent and the window in its units.
	cx0, cy0 := b.Min.X/hs, b.Min.Y/vs
	csw, csh := (b.Max.X+hs-1)/hs-cx0, (b.Max.Y+vs-1)/vs-cy0
	sx, sy := win.dx()/float64(dw), win.dy()/float64(dh) // source luma per output pixel
	cwin := window{
		x0: win.x0 / float64(hs), y0: win.y0 / float64(vs),
		x1: (win.x0 + float64(2*cdw)*sx) / float64(hs),
		y1: (win.y0 + float64(2*cdh)*sy) / float64(vs),
	}
	off := src.COffset(b.Min.X, b.Min.Y)
	tx, ty := makeTaps(cwin.x0, cwin.x1, csw, cdw), makeTaps(cwin.y0, cwin.y1, csh, cdh)
	resamplePlane(dst.Cb, dst.CStride, cdw, cdh, src.Cb[off:], src.CStride, csw, tx, ty)
	resamplePlane(dst.Cr, dst.CStride, cdw, cdh, src.Cr[off:], src.CStride, csw, tx, ty)
	return dst, true
}

// resamplePlane renders a plane of 8-bit samples, sw wide, at dw x dh
// through the taps tx (across) and ty (down), separably as resample does:
// rows first, over the rows the vertical taps read, then whole rows at a
// time.
func resamplePlane(dst []uint8, dstStride, dw, dh int, src []uint8, srcStride, sw int, tx, ty taps) {
	rowLo, rowHi := ty.first[0], 0
	for y := range dh {
		rowLo, rowHi = min(rowLo, ty.first[y]), max(rowHi, ty.first[y]+ty.n[y])
	}
	mid := make([]float32, (rowHi-rowLo)*dw)
	for y := rowLo; y < rowHi; y++ {
		row := src[y*srcStride : y*srcStride+sw]
		out := mid[(y-rowLo)*dw : (y-rowLo+1)*dw]
		for i := range out {
			ws := tx.weight[i*tx.stride : i*tx.stride+tx.n[i]]
			px := row[tx.first[i] : tx.first[i]+len(ws)]
			var v float32
			for k, w := range ws {
				v += w * float32(px[k])
			}
			out[i] = v
		}
	}
	acc := make([]float32, dw)
	for y := range dh {
		verticalTaps(acc, mid, ty, y, rowLo, dw)
		out := dst[y*dstStride : y*dstStride+dw]
		for i, v := range acc {
			out[i] = unit8(v)
		}
	}
}
