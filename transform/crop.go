package transform

import "image"

// centreSquare is the largest square centred in r. A centred square maps onto
// itself under every EXIF orientation, so it can be cut from the stored
// image before orienting (only the odd pixel of rounding may differ).
func centreSquare(r image.Rectangle) image.Rectangle {
	side := min(r.Dx(), r.Dy())
	x0 := r.Min.X + (r.Dx()-side)/2
	y0 := r.Min.Y + (r.Dy()-side)/2
	return image.Rect(x0, y0, x0+side, y0+side)
}

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
