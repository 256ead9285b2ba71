package transform

import (
	"bytes"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"

	"github.com/xmppmedia/mediaserver/transform/jpegscale"
	"golang.org/x/image/webp"
)

// decode decodes the first frame of the image whose header readHeader has
// already checked (so the pixel count is within the limit). rr must be
// rewound to byte 0. For WebP it also sets h.orientation, because the EXIF
// chunk follows the pixels. The decoded bounds are checked against the
// header, so a frame that claims more than the header cannot slip past the
// limit.
//
// need is the largest output size (stored orientation) the caller will
// make from the result: a JPEG is then decoded in the DCT domain at the
// smallest scale that keeps at least minScaledRatio times that size (see
// jpegScale), and the result may be smaller than the header says. The
// returned window is the part of the result that holds the picture (see
// window): all of it, except after a DCT-domain decode.
func decode(rr *replayReader, h *header, need image.Point) (img image.Image, win window, err error) {
	defer func() {
		// The standard decoders return errors, but a panic on hostile input
		// in a third-party decoder must become a 422, not a dead server.
		if p := recover(); p != nil {
			img, err = nil, fmt.Errorf("%w: %s decoder panic: %v", ErrCorrupt, h.format, p)
		}
	}()
	if h.format == formatJPEG {
		return decodeJPEG(rr, h, need)
	}
	img, err = decodeOther(rr, h)
	if err != nil {
		return nil, window{}, err
	}
	return img, fullWindow(img), nil
}

// decodeOther decodes the formats other than JPEG in full.
func decodeOther(rr *replayReader, h *header) (img image.Image, err error) {
	rr.stopRecording()
	switch h.format {
	case formatPNG:
		img, err = png.Decode(rr)
	case formatGIF:
		img, err = gif.Decode(rr)
	case formatWebP:
		var data []byte
		data, err = io.ReadAll(rr)
		if err == nil {
			h.orientation = webpOrientation(bytes.NewReader(data))
			img, err = webp.Decode(bytes.NewReader(data))
			if err == nil {
				expandStudioRange(img)
			}
		}
	default:
		return nil, ErrUnsupported
	}
	if rr.srcErr != nil {
		return nil, fmt.Errorf("read %s: %w", h.format, rr.srcErr)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: decode %s: %v", ErrCorrupt, h.format, err)
	}
	b := img.Bounds()
	if b.Dx() <= 0 || b.Dy() <= 0 || b.Dx() > h.width || b.Dy() > h.height {
		return nil, fmt.Errorf("%w: decoded %s is %dx%d, header said %dx%d",
			ErrCorrupt, h.format, b.Dx(), b.Dy(), h.width, h.height)
	}
	return img, nil
}

// minScaledRatio: a DCT-domain decode must keep at least this many source
// pixels per output pixel for the Lanczos pass that follows. At 1/8 a block
// becomes its mean (a box filter aligned to the 8x8 grid). Measured on the
// 12 MP test photo, a 480x320 box (427x320, ratio 1.17 from the 500x375
// 1/8 decode) scores SSIM 0.9752 after encoding against 0.9757 from a 1/4
// decode, and even 480x360 (ratio 1.04) loses only 0.0009; but 1/4 of a
// progressive file costs 225 ms where 1/8 costs 22 ms, because 1/8 skips
// the AC scans. mediasvc makes the device boxes in both orientations at
// upload, so 480x320 is the box that decides.
const minScaledRatio = 1.1

// minChromaRatio: chroma samples per output pixel a DCT-domain decode must
// keep. The decode shrinks every component alike, so a subsampled file has
// chroma/factor samples: 4:2:0 at the 1/4 that a 480x320 box takes from
// 2001x1501 keeps 0.59 per output pixel and scores as the full decode
// (TestScaledJPEGGeometryMatchesFullDecode), while 4:1:1 at 1/4 keeps 0.29
// and loses 0.9 dB; at 1/2 it keeps 0.59 again.
const minChromaRatio = 0.5

// jpegScale picks the shrink (8, 4, 2, or 1 for a full decode) for a w x h
// JPEG from which an output of need is wanted; hs, vs are the luma sampling
// factors (how many luma samples per chroma sample, 1 for grayscale). It
// counts the picture, not the padded blocks: a 9-pixel side at 1/8 is
// 1.125 pixels of picture.
func jpegScale(w, h, hs, vs int, need image.Point) int {
	for _, s := range []int{8, 4, 2} {
		sw, sh := float64(w)/float64(s), float64(h)/float64(s)
		if sw >= minScaledRatio*float64(need.X) && sh >= minScaledRatio*float64(need.Y) &&
			sw/float64(hs) >= minChromaRatio*float64(need.X) && sh/float64(vs) >= minChromaRatio*float64(need.Y) {
			return s
		}
	}
	return 1
}

// decodeJPEG decodes in the DCT domain when the wanted size allows and the
// file is in the subset jpegscale handles, else in full with image/jpeg.
func decodeJPEG(rr *replayReader, h *header, need image.Point) (image.Image, window, error) {
	d, err := jpegscale.NewDecoder(rr)
	if err == nil {
		hs, vs := d.Sampling()
		if s := jpegScale(h.width, h.height, hs, vs, need); s > 1 {
			rr.stopRecording()
			img, err := d.Decode(s)
			if rr.srcErr != nil {
				return nil, window{}, fmt.Errorf("read jpeg: %w", rr.srcErr)
			}
			if err != nil {
				return nil, window{}, fmt.Errorf("%w: decode jpeg at 1/%d: %v", ErrCorrupt, s, err)
			}
			return img, window{0, 0, float64(h.width) / float64(s), float64(h.height) / float64(s)}, nil
		}
	} else if rr.srcErr != nil {
		return nil, window{}, fmt.Errorf("read jpeg: %w", rr.srcErr)
	}
	// Full decode: image/jpeg is the reference for everything else
	// (including files whose header jpegscale rejects as corrupt).
	rr.rewind()
	rr.stopRecording()
	img, err := jpeg.Decode(rr)
	if rr.srcErr != nil {
		return nil, window{}, fmt.Errorf("read jpeg: %w", rr.srcErr)
	}
	if err != nil {
		return nil, window{}, fmt.Errorf("%w: decode jpeg: %v", ErrCorrupt, err)
	}
	b := img.Bounds()
	if b.Dx() != h.width || b.Dy() != h.height {
		return nil, window{}, fmt.Errorf("%w: decoded jpeg is %dx%d, header said %dx%d", ErrCorrupt, b.Dx(), b.Dy(), h.width, h.height)
	}
	return img, fullWindow(img), nil
}
