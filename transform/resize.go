package transform

import (
	"image"
	"image/color"
	"image/draw"
	"math"
)

// fitSize scales w x h to fit inside bw x bh keeping the aspect, never
// enlarging. Each side is at least 1 pixel.
func fitSize(w, h, bw, bh int) (int, int) {
	if w <= bw && h <= bh {
		return w, h
	}
	s := math.Min(float64(bw)/float64(w), float64(bh)/float64(h))
	fw := max(1, int(math.Round(float64(w)*s)))
	fh := max(1, int(math.Round(float64(h)*s)))
	return min(fw, bw), min(fh, bh)
}

// shrinkFactor is the largest integer k such that the source shrunk by k is
// still at least twice the target on both sides: a box pre-shrink by k is
// cheap and, at two or more source pixels per output pixel, leaves the final
// Lanczos pass enough detail to give the quality of a full Lanczos resize.
func shrinkFactor(srcW, srcH, dstW, dstH int) int {
	k := min(srcW/(2*dstW), srcH/(2*dstH))
	return max(1, k)
}

// toNRGBA returns img as *image.NRGBA at origin (0,0), copying only when needed.
func toNRGBA(img image.Image) *image.NRGBA {
	if n, ok := img.(*image.NRGBA); ok && n.Rect.Min == (image.Point{}) {
		return n
	}
	b := img.Bounds()
	switch img.(type) {
	case *image.YCbCr, *image.Gray:
		// Opaque, so RGBA and NRGBA bytes are the same, and image/draw
		// converts these into *image.RGBA on a fast path (into NRGBA it
		// would go pixel by pixel through color.Color).
		dst := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
		draw.Draw(dst, dst.Rect, img, b.Min, draw.Src)
		return &image.NRGBA{Pix: dst.Pix, Stride: dst.Stride, Rect: dst.Rect}
	}
	dst := image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(dst, dst.Rect, img, b.Min, draw.Src)
	return dst
}

// preShrink averages k x k blocks of img (k >= 2) into one pixel: a cheap
// box filter that takes a 12 MP decode down to about twice the target before
// the Lanczos pass. Edge blocks that are cut off are completed by repeating
// the last row and column, as a JPEG encoder pads its blocks, so output
// pixel i stands for source pixels [ik, ik+k) exactly and the picture is
// the window scaled by 1/k (see window). Colour is averaged premultiplied, so transparent pixels do not bleed
// their (invisible) colour into the result.
func preShrink(img image.Image, k int) *image.NRGBA {
	b := img.Bounds()
	ow, oh := (b.Dx()+k-1)/k, (b.Dy()+k-1)/k
	dst := image.NewNRGBA(image.Rect(0, 0, ow, oh))
	switch src := img.(type) {
	case *image.YCbCr:
		shrinkYCbCr(dst, src, k)
	case *image.Gray:
		shrinkGray(dst, src, k)
	default:
		shrinkGeneric(dst, img, k)
	}
	return dst
}

func shrinkYCbCr(dst *image.NRGBA, src *image.YCbCr, k int) {
	b := src.Rect
	ow, oh := dst.Rect.Dx(), dst.Rect.Dy()
	ys := make([]uint32, ow)
	cbs := make([]uint32, ow)
	crs := make([]uint32, ow)
	ns := make([]uint32, ow)
	for oy := 0; oy < oh; oy++ {
		clear(ys)
		clear(cbs)
		clear(crs)
		clear(ns)
		for yy := b.Min.Y + oy*k; yy < b.Min.Y+(oy+1)*k; yy++ {
			y := min(yy, b.Max.Y-1)
			yrow := src.Y[(y-b.Min.Y)*src.YStride:]
			for xx := b.Min.X; xx < b.Min.X+ow*k; xx++ {
				x := min(xx, b.Max.X-1)
				ox := (xx - b.Min.X) / k
				ci := src.COffset(x, y)
				ys[ox] += uint32(yrow[x-b.Min.X])
				cbs[ox] += uint32(src.Cb[ci])
				crs[ox] += uint32(src.Cr[ci])
				ns[ox]++
			}
		}
		row := dst.Pix[oy*dst.Stride:]
		for ox := 0; ox < ow; ox++ {
			n := ns[ox]
			r, g, bl := color.YCbCrToRGB(uint8((ys[ox]+n/2)/n), uint8((cbs[ox]+n/2)/n), uint8((crs[ox]+n/2)/n))
			row[4*ox], row[4*ox+1], row[4*ox+2], row[4*ox+3] = r, g, bl, 0xFF
		}
	}
}

func shrinkGray(dst *image.NRGBA, src *image.Gray, k int) {
	b := src.Rect
	ow, oh := dst.Rect.Dx(), dst.Rect.Dy()
	sums := make([]uint32, ow)
	ns := make([]uint32, ow)
	for oy := 0; oy < oh; oy++ {
		clear(sums)
		clear(ns)
		for yy := b.Min.Y + oy*k; yy < b.Min.Y+(oy+1)*k; yy++ {
			row := src.Pix[(min(yy, b.Max.Y-1)-b.Min.Y)*src.Stride:]
			for xx := 0; xx < ow*k; xx++ {
				sums[xx/k] += uint32(row[min(xx, b.Dx()-1)])
				ns[xx/k]++
			}
		}
		out := dst.Pix[oy*dst.Stride:]
		for ox := 0; ox < ow; ox++ {
			v := uint8((sums[ox] + ns[ox]/2) / ns[ox])
			out[4*ox], out[4*ox+1], out[4*ox+2], out[4*ox+3] = v, v, v, 0xFF
		}
	}
}

// shrinkGeneric handles every other image type through a per-row conversion
// to premultiplied RGBA64 values.
func shrinkGeneric(dst *image.NRGBA, img image.Image, k int) {
	b := img.Bounds()
	ow, oh := dst.Rect.Dx(), dst.Rect.Dy()
	type acc struct{ r, g, b, a, n uint64 }
	sums := make([]acc, ow)
	fast, _ := img.(*image.NRGBA)
	for oy := 0; oy < oh; oy++ {
		clear(sums)
		for yy := b.Min.Y + oy*k; yy < b.Min.Y+(oy+1)*k; yy++ {
			y := min(yy, b.Max.Y-1)
			for xx := b.Min.X; xx < b.Min.X+ow*k; xx++ {
				x := min(xx, b.Max.X-1)
				var r, g, bl, a uint32
				if fast != nil {
					i := fast.PixOffset(x, y)
					p := fast.Pix[i : i+4 : i+4]
					a = uint32(p[3]) * 0x101
					r = uint32(p[0]) * 0x101 * a / 0xFFFF
					g = uint32(p[1]) * 0x101 * a / 0xFFFF
					bl = uint32(p[2]) * 0x101 * a / 0xFFFF
				} else {
					r, g, bl, a = img.At(x, y).RGBA()
				}
				s := &sums[(xx-b.Min.X)/k]
				s.r += uint64(r)
				s.g += uint64(g)
				s.b += uint64(bl)
				s.a += uint64(a)
				s.n++
			}
		}
		out := dst.Pix[oy*dst.Stride:]
		for ox := 0; ox < ow; ox++ {
			s := sums[ox]
			a := s.a / s.n
			if a == 0 {
				out[4*ox], out[4*ox+1], out[4*ox+2], out[4*ox+3] = 0, 0, 0, 0
				continue
			}
			// un-premultiply: colour sum / alpha sum, both scaled the same.
			out[4*ox] = uint8(min(255, (s.r*255+s.a/2)/s.a))
			out[4*ox+1] = uint8(min(255, (s.g*255+s.a/2)/s.a))
			out[4*ox+2] = uint8(min(255, (s.b*255+s.a/2)/s.a))
			out[4*ox+3] = uint8((a*255 + 0x7FFF) / 0xFFFF)
		}
	}
}
