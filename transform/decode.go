package transform

import (
	"bytes"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/webp"
)

// decode decodes the first frame of the image whose header readHeader has
// already checked (so the pixel count is within the limit). rr must be
// rewound to byte 0. For WebP it also sets h.orientation, because the EXIF
// chunk follows the pixels. The decoded bounds are checked against the
// header, so a frame that claims more than the header cannot slip past the
// limit.
func decode(rr *replayReader, h *header) (img image.Image, err error) {
	defer func() {
		// The standard decoders return errors, but a panic on hostile input
		// in a third-party decoder must become a 422, not a dead server.
		if p := recover(); p != nil {
			img, err = nil, fmt.Errorf("%w: %s decoder panic: %v", ErrCorrupt, h.format, p)
		}
	}()
	rr.stopRecording()
	switch h.format {
	case formatJPEG:
		img, err = jpeg.Decode(rr)
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
