package transform

import (
	"fmt"
	"image"
	"io"
	"math"
)

// previews is Previews without the worker slot.
func (t *Transformer) previews(r io.Reader, origSize int64, boxes []Box) ([]Image, error) {
	out, _, err := t.render(r, origSize, boxes, false, nil)
	return out, err
}

// encoder turns one box's upright pixels into its answer; q is the JPEG
// quality the pipeline chose for it. A nil encoder makes the plain
// preview: baseline JPEG, or PNG with transparency (renderBox).
type encoder func(res *image.NRGBA, box Box, q int) (Image, error)

// render makes the previews of boxes with enc and, with withPlaceholder,
// the placeholder, all from one decode.
func (t *Transformer) render(r io.Reader, origSize int64, boxes []Box, withPlaceholder bool, enc encoder) ([]Image, []byte, error) {
	rr := newReplayReader(r)
	h, err := readHeader(rr, t.cfg.MaxPixels, true)
	if err != nil {
		return nil, nil, err
	}
	// Work in stored coordinates: a box for the upright image is the
	// transposed box for a stored image that orientation turns by 90 degrees.
	// The target sizes come from the header, so the decoder can already
	// shrink (a JPEG in the DCT domain).
	type target struct{ w, h int }
	targets := make([]target, len(boxes))
	var need image.Point
	for i, b := range boxes {
		bw, bh := b.Width, b.Height
		if swapsAxes(h.orientation) {
			bw, bh = bh, bw
		}
		tw, th := fitSize(h.width, h.height, bw, bh)
		targets[i] = target{tw, th}
		need = image.Pt(max(need.X, tw), max(need.Y, th))
	}
	if withPlaceholder {
		pw, ph := fitSize(h.width, h.height, placeholderSide, placeholderSide)
		need = image.Pt(max(need.X, pw), max(need.Y, ph))
	}
	src, win, err := t.decode(rr, &h, t.decodeNeed(need, h))
	if err != nil {
		return nil, nil, err
	}
	sb := src.Bounds()
	if h.format != formatJPEG {
		// Fit what was decoded: a GIF's first frame may be smaller than
		// its logical screen, and must not be enlarged to the screen's fit.
		need = image.Point{}
		for i, b := range boxes {
			bw, bh := b.Width, b.Height
			if swapsAxes(h.orientation) {
				bw, bh = bh, bw
			}
			tw, th := fitSize(sb.Dx(), sb.Dy(), bw, bh)
			targets[i] = target{tw, th}
			need = image.Pt(max(need.X, tw), max(need.Y, th))
		}
		if withPlaceholder {
			pw, ph := fitSize(sb.Dx(), sb.Dy(), placeholderSide, placeholderSide)
			need = image.Pt(max(need.X, pw), max(need.Y, ph))
		}
	}
	// The largest target decides how far all may be pre-shrunk.
	k := shrinkFactor(int(win.dx()), int(win.dy()), need.X, need.Y)
	base := src
	if k >= 2 {
		base, win = preShrink(src, k), win.scaled(k)
	}
	if h.icc != nil {
		// Once, on the pixels every box is resampled from (ours to change).
		n := toNRGBA(base)
		h.icc.apply(n)
		base = n
	}
	// The placeholder is drawn from the smallest preview's pixels: upright
	// already, and a resample from there costs a fraction of one from the
	// decode (docs/previews.md).
	var smallest *image.NRGBA

	out := make([]Image, len(boxes))
	ow, oh := orientedSize(h.width, h.height, h.orientation)
	for i, tg := range targets {
		// The original stands in only for a box it fits: a preview is
		// never larger than the box, even when scaling costs bytes. A
		// fitting original is compared with a preview at the configured
		// quality (not lowered to its own, which would only trade its
		// pixels for bytes); a scaled one keeps to the original's quality.
		fits := ow <= boxes[i].Width && oh <= boxes[i].Height
		q := t.cfg.JPEGQuality
		if !fits {
			q = t.quality(h)
		}
		img, res, err := renderBox(base, win, tg.w, tg.h, h.orientation, boxes[i], q, withPlaceholder, enc)
		if res != nil && (smallest == nil || res.Rect.Dx()*res.Rect.Dy() < smallest.Rect.Dx()*smallest.Rect.Dy()) {
			smallest = res
		}
		if err != nil {
			return nil, nil, fmt.Errorf("box %v: %w", boxes[i], err)
		}
		if fits && origSize > 0 && int64(len(img.Data)) >= origSize && originalServable(h) {
			img = Image{MimeType: mimeOf(h.format), Width: ow, Height: oh, UseOriginal: true}
		}
		out[i] = img
	}
	var placeholder []byte
	switch {
	case !withPlaceholder:
	case smallest != nil:
		placeholder = placeholderOf(smallest, window{0, 0, float64(smallest.Rect.Dx()), float64(smallest.Rect.Dy())}, 1)
	default:
		placeholder = placeholderOf(base, win, h.orientation)
	}
	return out, placeholder, nil
}

// renderBox resamples window win of base to w x h, orients and encodes it
// for box with enc (nil: the plain preview). A plain preview of a YCbCr
// base that is scaled and needs no turning stays in YCbCr throughout
// (resample_ycbcr.go), unless wantPixels asks for the RGB pixels, which
// are returned when they were made. An unscaled one goes
// through RGB as before: it is an original that fits the box, compared
// in bytes with its re-encode, and that decision should not move with
// the rounding of a colour conversion.
func renderBox(base image.Image, win window, w, h, orientation int, box Box, quality int, wantPixels bool, enc encoder) (Image, *image.NRGBA, error) {
	scaled := win != fullWindow(base) || base.Bounds().Dx() != w || base.Bounds().Dy() != h
	if ycc, ok := base.(*image.YCbCr); ok && enc == nil && scaled && orientation == 1 && !wantPixels {
		if out, ok := resampleYCbCr(ycc, win, w, h); ok {
			img, err := encodeYCbCr(out, quality)
			return img, nil, err
		}
	}
	res := orient(resample(base, win, w, h), orientation)
	if enc == nil {
		img, err := encode(res, quality)
		return img, res, err
	}
	img, err := enc(res, box, quality)
	return img, res, err
}

// quality is the JPEG quality for a preview of h: Config.JPEGQuality, or
// the original's own when that is lower, since encoding a quality-50 photo
// at 85 spends bytes on its artefacts (a small original scaled into a
// smaller box would otherwise often come out larger than it was).
func (t *Transformer) quality(h header) int {
	if h.quality > 0 && h.quality < t.cfg.JPEGQuality {
		return h.quality
	}
	return t.cfg.JPEGQuality
}

// originalServable: the original can stand in for a preview only if every
// small browser shows it correctly as is: a JPEG, PNG or GIF (not WebP)
// that needs no rotation (old browsers ignore EXIF orientation) and no
// colour conversion (they ignore ICC profiles and PNG gamma too).
func originalServable(h header) bool {
	return h.orientation == 1 && h.icc == nil && (h.format == formatJPEG || h.format == formatPNG || h.format == formatGIF)
}

// avatar is Avatar without the worker slot.
func (t *Transformer) avatar(r io.Reader) (Image, error) {
	rr := newReplayReader(r)
	h, err := readHeader(rr, t.cfg.MaxPixels, true)
	if err != nil {
		return Image{}, err
	}
	full := min(h.width, h.height)
	side := min(full, t.cfg.AvatarSide)
	src, win, err := t.decode(rr, &h, t.decodeNeed(image.Pt(side*h.width/full, side*h.height/full), h))
	if err != nil {
		return Image{}, err
	}
	sq := win.centreSquare()
	if k := shrinkFactor(int(sq.dx()), int(sq.dy()), side, side); k >= 2 {
		// Shrink only the pixels under the square (plus the block that
		// straddles each of its edges), keeping the window in step.
		b := src.Bounds()
		x0, y0 := int(sq.x0)/k*k, int(sq.y0)/k*k
		x1 := min(x0+(int(math.Ceil(sq.x1))-x0+k-1)/k*k, b.Dx())
		y1 := min(y0+(int(math.Ceil(sq.y1))-y0+k-1)/k*k, b.Dy())
		cut := cropTo(src, image.Rect(x0, y0, x1, y1).Add(b.Min))
		sq = window{sq.x0 - float64(x0), sq.y0 - float64(y0), sq.x1 - float64(x0), sq.y1 - float64(y0)}
		src, sq = preShrink(cut, k), sq.scaled(k)
	}
	if h.icc != nil {
		n := toNRGBA(src)
		h.icc.apply(n)
		src = n
	}
	res := orient(resample(src, sq, side, side), h.orientation)
	img, err := encode(res, t.quality(h))
	if err != nil {
		return Image{}, err
	}
	return img, nil
}

// decode is decode, one at a time for the WebAssembly decoders.
func (t *Transformer) decode(rr *replayReader, h *header, need image.Point) (image.Image, window, error) {
	if h.format == formatHEIC || h.format == formatAVIF {
		t.heif <- struct{}{}
		defer func() { <-t.heif }()
	}
	return decode(rr, h, need)
}

// decodeNeed is the output size the decoder is asked for: the real need, or
// the full size when scaled decoding is switched off.
func (t *Transformer) decodeNeed(need image.Point, h header) image.Point {
	if t.cfg.FullJPEGDecode {
		return image.Pt(h.width, h.height)
	}
	return need
}
