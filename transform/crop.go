package transform

import "image"

// subImager is implemented by every image type the decoders return.
type subImager interface {
	SubImage(image.Rectangle) image.Image
}

// cropTo returns the part of img inside r without copying pixels when the
// image type allows it.
func cropTo(img image.Image, r image.Rectangle) image.Image {
	if s, ok := img.(subImager); ok {
		return s.SubImage(r)
	}
	n := toNRGBA(img)
	return n.SubImage(r.Sub(img.Bounds().Min))
}
