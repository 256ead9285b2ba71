package transform

import (
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/webp"
)

// header is what the cheap steps learn before any pixel is decoded.
type header struct {
	format string
	// width, height as stored (before orientation).
	width, height int
	orientation   int
	// quality is a JPEG's estimated encoder quality, 0 when unknown; set
	// by decode.
	quality int
	// icc converts the pixels to sRGB; nil when the file has no profile,
	// an sRGB one, or one we do not convert (see icc.go), and no PNG gamma
	// to apply (pnggamma.go).
	icc *iccTransform
}

func (h header) info() Info {
	w, h2 := orientedSize(h.width, h.height, h.orientation)
	return Info{Format: h.format, MimeType: mimeOf(h.format), Width: w, Height: h2, Orientation: h.orientation}
}

// readHeader sniffs the format, reads the dimensions with DecodeConfig and
// enforces maxPixels, so a decompression bomb costs a header read. For
// JPEG and PNG it also finds the EXIF orientation (in the header segments);
// for WebP the EXIF chunk follows the pixel data, so it is found here only
// when wantDecode is false (Inspect walks the chunks without keeping them),
// and otherwise by decode, which holds the whole WebP file anyway.
//
// On return with wantDecode the reader is rewound to byte 0, still recording.
func readHeader(rr *replayReader, maxPixels int64, wantDecode bool) (header, error) {
	head := make([]byte, sniffLen)
	n, err := io.ReadFull(rr, head)
	if rr.srcErr != nil {
		return header{}, fmt.Errorf("read image header: %w", rr.srcErr)
	}
	format, ok := sniff(head[:n])
	if !ok {
		if err != nil && n == 0 {
			return header{}, fmt.Errorf("%w: empty input", ErrUnsupported)
		}
		return header{}, ErrUnsupported
	}
	h := header{format: format, orientation: 1}

	rr.rewind()
	var cfg image.Config
	switch format {
	case formatJPEG:
		cfg, err = jpeg.DecodeConfig(rr)
	case formatPNG:
		cfg, err = png.DecodeConfig(rr)
	case formatGIF:
		cfg, err = gif.DecodeConfig(rr)
	case formatWebP:
		cfg, err = webp.DecodeConfig(rr)
	case formatHEIC, formatAVIF:
		var hi heifInfo
		hi, err = heifHeader(rr)
		cfg.Width, cfg.Height, h.orientation = hi.width, hi.height, hi.orientation
		if wantDecode && hi.icc != nil {
			h.icc, _ = newICCTransform(hi.icc)
		}
	}
	if rr.srcErr != nil {
		return header{}, fmt.Errorf("read %s header: %w", format, rr.srcErr)
	}
	if err != nil {
		return header{}, decoderError(format+" header", err)
	}
	if err := checkPixels(cfg.Width, cfg.Height, maxPixels); err != nil {
		return header{}, err
	}
	h.width, h.height = cfg.Width, cfg.Height

	rr.rewind()
	switch format {
	case formatJPEG:
		h.orientation = jpegOrientation(rr)
		if wantDecode {
			rr.rewind()
			h.icc, _ = newICCTransform(jpegICC(rr))
		}
	case formatPNG:
		h.orientation = pngOrientation(rr)
		if wantDecode {
			rr.rewind()
			profile, gamma := pngColour(rr)
			h.icc, _ = newICCTransform(profile)
			if h.icc == nil {
				h.icc = newGammaTransform(gamma)
			}
		}
	case formatWebP:
		if !wantDecode {
			rr.stopRecording()
			h.orientation = webpOrientation(rr)
		}
	}
	if rr.srcErr != nil {
		return header{}, fmt.Errorf("read %s metadata: %w", format, rr.srcErr)
	}
	rr.rewind()
	return h, nil
}

// decoderError gives a decoder's error its kind: a well-formed file in a
// variant the decoder does not implement (arithmetic-coded or 12-bit JPEG,
// which libjpeg writes but image/jpeg refuses) is ErrUnsupported, answered
// 415 like any format we do not read; anything else is ErrCorrupt (422).
func decoderError(what string, err error) error {
	var ju jpeg.UnsupportedError
	var pu png.UnsupportedError
	if errors.As(err, &ju) || errors.As(err, &pu) {
		return fmt.Errorf("%w: %s: %v", ErrUnsupported, what, err)
	}
	return fmt.Errorf("%w: %s: %v", ErrCorrupt, what, err)
}

// checkPixels refuses empty and oversized images. It works in int64 so that
// a header claiming 65535x65535 cannot overflow on 32-bit platforms.
func checkPixels(w, h int, maxPixels int64) error {
	if w <= 0 || h <= 0 {
		return fmt.Errorf("%w: dimensions %dx%d", ErrCorrupt, w, h)
	}
	if int64(w)*int64(h) > maxPixels {
		return fmt.Errorf("%w: %dx%d is over %d pixels", ErrTooManyPixels, w, h, maxPixels)
	}
	return nil
}
