package transform

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
)

// Variant is a preview other than the plain one (baseline JPEG, PNG with
// transparency): another format, a byte budget, or both. The HTTP layer
// picks it from the request (Accept, Save-Data, maxbytes); this package
// only renders it.
type Variant struct {
	// WebP: lossy WebP at the plain JPEG's quality (webpQuality),
	// transparency kept, unless the plain encoding of the same pixels is
	// no larger.
	WebP bool
	// MaxBytes, when positive, is a byte budget. With WebP, the WebP at
	// the plain quality when it fits (one encode: a WebP budget search
	// would cost some 20 JPEG searches, docs/previews.md); else, and
	// without WebP, FitBudget's baseline JPEG within it.
	MaxBytes int
	// BestEffort: when no preview within the budget's floors fits
	// MaxBytes, answer the smallest acceptable one (floor quality at the
	// floor scale), which is over the budget, instead of ErrOverBudget.
	BestEffort bool
}

// Plain: the variant is the plain preview.
func (v Variant) Plain() bool { return !v.WebP && v.MaxBytes <= 0 }

// VariantContext decodes r and renders v's preview for box, holding a
// worker slot for the decode and the encoding (a WebP encode costs some
// 20 JPEG encodes, a budget search 60-160 ms: BenchmarkPreviewEncoders,
// BenchmarkFitBudget), giving up with ErrBusy when ctx ends first. As for
// Previews, UseOriginal is set when the original fits the box, can stand
// in for a preview, and is no larger than the answer; origSize is its
// size.
func (t *Transformer) VariantContext(ctx context.Context, r io.Reader, origSize int64, box Box, v Variant) (Image, error) {
	if err := box.Validate(); err != nil {
		return Image{}, fmt.Errorf("variant: %w", err)
	}
	if v.MaxBytes < 0 {
		return Image{}, fmt.Errorf("variant: max bytes %d", v.MaxBytes)
	}
	release, err := t.acquire(ctx)
	if err != nil {
		return Image{}, fmt.Errorf("variant: %w", err)
	}
	defer release()
	out, _, err := t.render(r, origSize, []Box{box}, false, v.encoder)
	if err != nil {
		return Image{}, fmt.Errorf("variant: %w", err)
	}
	return out[0], nil
}

// encoder is the pipeline's last step for v.
func (v Variant) encoder(res *image.NRGBA, box Box, q int) (Image, error) {
	switch {
	case v.MaxBytes > 0:
		if v.WebP {
			webp, err := encodeWebP(res, webpQuality(q))
			if err != nil {
				return Image{}, err
			}
			if len(webp.Data) <= v.MaxBytes {
				return webp, nil
			}
		}
		b := DefaultBudget(v.MaxBytes)
		// The pipeline's quality: an original written at a lower one is
		// not re-encoded above it.
		b.MaxQuality, b.MinQuality = q, min(b.MinQuality, q)
		got, err := FitBudget(res, box, b)
		if errors.Is(err, ErrOverBudget) && v.BestEffort {
			return smallestAcceptable(res, b)
		}
		if err != nil {
			return Image{}, err
		}
		return got.Image, nil
	case v.WebP:
		webp, err := encodeWebP(res, webpQuality(q))
		if err != nil {
			return Image{}, err
		}
		// A WebP only where it saves bytes: flat or synthetic pictures
		// with transparency can be smaller as PNG. The plain encoding
		// costs a fraction of the WebP's (BenchmarkPreviewEncoders).
		plain, err := encode(res, q)
		if err != nil || len(plain.Data) <= len(webp.Data) {
			return plain, err
		}
		return webp, nil
	}
	return encode(res, q)
}

// smallestAcceptable is the smallest preview within b's floors: fit at
// b.MinScale, on white, as a JPEG at b.MinQuality.
func smallestAcceptable(fit *image.NRGBA, b Budget) (Image, error) {
	w := max(1, int(float64(fit.Rect.Dx())*b.MinScale+0.5))
	h := max(1, int(float64(fit.Rect.Dy())*b.MinScale+0.5))
	img := resample(fit, fullWindow(fit), w, h)
	if img == fit {
		img = cloneNRGBA(fit) // flattened below: never the caller's pixels
	}
	flattenOnWhite(img)
	data, err := encodeJPEGQuality(img, b.MinQuality)
	if err != nil {
		return Image{}, err
	}
	return Image{MimeType: "image/jpeg", Width: w, Height: h, Data: data}, nil
}
