package transform

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"

	"github.com/xmppmedia/mediaserver/transform/internal/quality"
)

// ErrOverBudget: no preview within the Budget's floors (quality and
// scale) is as small as its byte budget. The caller decides between
// refusing and sending the smallest acceptable preview.
var ErrOverBudget = errors.New("transform: no acceptable preview fits the byte budget")

// Budget bounds a preview in bytes: the best baseline JPEG of at most
// MaxBytes, found by a joint search over quality and size.
type Budget struct {
	// MaxBytes is the budget: the whole JPEG file, headers included.
	MaxBytes int
	// MaxQuality is the quality the search starts from: the plain
	// preview's (Config.JPEGQuality). A preview that fits at it is the
	// plain preview.
	MaxQuality int
	// MinQuality is the floor: below it the preview shrinks instead. 40
	// by default: lower, 8x8 blocks and smeared colour show at a phone's
	// pixel size, though SSIM (which weighs blur over blocks) may still
	// prefer them (docs/previews.md, Byte budgets).
	MinQuality int
	// MinScale bounds the shrinking, as a fraction of the box's fit:
	// below it the picture is too small to be the preview the page laid
	// out for (0.5: half the width and half the height).
	MinScale float64
}

// DefaultBudget is a budget of maxBytes from the plain preview's quality
// with the floors of docs/previews.md.
func DefaultBudget(maxBytes int) Budget {
	return Budget{MaxBytes: maxBytes, MaxQuality: DefaultConfig().JPEGQuality, MinQuality: 40, MinScale: 0.5}
}

// Validate reports a budget the search cannot use.
func (b Budget) Validate() error {
	switch {
	case b.MaxBytes < 1:
		return fmt.Errorf("budget: max bytes %d, want at least 1", b.MaxBytes)
	case b.MinQuality < 1 || b.MaxQuality > 100 || b.MinQuality > b.MaxQuality:
		return fmt.Errorf("budget: qualities %d..%d, want 1 <= min <= max <= 100", b.MinQuality, b.MaxQuality)
	case !(b.MinScale > 0 && b.MinScale <= 1):
		return fmt.Errorf("budget: min scale %v, want in (0, 1]", b.MinScale)
	}
	return nil
}

// Budgeted is the preview FitBudget chose.
type Budgeted struct {
	Image       // a baseline JPEG; Width and Height as encoded
	Quality int // its JPEG quality
	// SSIM is the luma SSIM of the preview, scaled back to the box's fit
	// as a page laid out for that size shows it, against the box's fit
	// rendered without loss: what the search maximised.
	SSIM float64
	// Encodes counts the JPEG encodes the search ran (its cost).
	Encodes int
}

// FitBudget renders src (decoded and upright, like the pipeline's
// pre-shrunk source: any size, ideally no more than about twice the box)
// into box within b.MaxBytes. Transparent pixels are laid over white: a
// budget is met with JPEG.
//
// The search is joint over quality and size. At each size, largest first,
// it finds by bisection the highest quality in [MinQuality, MaxQuality]
// that fits; of the candidates it keeps the one whose SSIM, shown at the
// box's fit, is highest. It stops at the first size where MaxQuality fits
// (smaller sizes only lose detail) or where SSIM falls below the best so
// far (it rises as size shrinks while quality is starved, then falls once
// size costs more than quality gains). A size whose floor quality does not
// fit is skipped, so dimensions shrink before quality drops below the
// floor. Nothing within the floors fitting is ErrOverBudget.
func FitBudget(src image.Image, box Box, b Budget) (Budgeted, error) {
	if err := box.Validate(); err != nil {
		return Budgeted{}, fmt.Errorf("budget: %w", err)
	}
	if err := b.Validate(); err != nil {
		return Budgeted{}, err
	}
	sb := src.Bounds()
	if sb.Empty() {
		return Budgeted{}, fmt.Errorf("budget: empty source: %w", ErrCorrupt)
	}
	fw, fh := fitSize(sb.Dx(), sb.Dy(), box.Width, box.Height)
	ref := resample(src, fullWindow(src), fw, fh)
	if n, ok := src.(*image.NRGBA); ok && n == ref {
		ref = cloneNRGBA(n) // flattened below: never the caller's pixels
	}
	flattenOnWhite(ref)

	// The sizes tried, as fractions of the box's fit, largest first: steps
	// of 10% of the width, each a visible change in detail and a 15-20%
	// change in bytes at equal quality.
	scales := [...]float64{1, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2}

	var best Budgeted
	found := false
	encodes := 0
	lo := b.MinQuality // a smaller picture fits at least the quality a larger one did
	prevW, prevH := 0, 0
	for _, s := range scales {
		if s < b.MinScale {
			break
		}
		w, h := max(1, int(float64(fw)*s+0.5)), max(1, int(float64(fh)*s+0.5))
		if w == prevW && h == prevH {
			continue // a tiny box: the step changed nothing
		}
		prevW, prevH = w, h
		img := ref
		if s < 1 {
			img = resample(ref, fullWindow(ref), w, h)
		}
		q, data, n, err := highestQualityWithin(img, lo, b.MaxQuality, b.MaxBytes, found)
		encodes += n
		if err != nil {
			return Budgeted{}, err
		}
		if data == nil {
			continue // not even the floor fits at this size: shrink
		}
		lo = q
		ssim, err := shownSSIM(data, ref)
		if err != nil {
			return Budgeted{}, err
		}
		if found && ssim < best.SSIM {
			break
		}
		best = Budgeted{
			Image:   Image{MimeType: "image/jpeg", Width: w, Height: h, Data: data},
			Quality: q, SSIM: ssim,
		}
		found = true
		if q == b.MaxQuality {
			break
		}
	}
	if !found {
		return Budgeted{}, fmt.Errorf("budget of %d bytes for %dx%d: %w", b.MaxBytes, box.Width, box.Height, ErrOverBudget)
	}
	best.Encodes = encodes
	return best, nil
}

// highestQualityWithin bisects [lo, hi] for the highest JPEG quality whose
// encoding of img is at most maxBytes, returning it, its bytes (nil when
// not even lo fits) and the number of encodes. JPEG size grows with
// quality (the quantisation tables shrink monotonically), so bisection
// finds it in about log2(hi-lo) encodes. With loFits (lo fitted a larger
// rendering of the same picture) the ends are not probed first.
func highestQualityWithin(img *image.NRGBA, lo, hi, maxBytes int, loFits bool) (int, []byte, int, error) {
	n := 0
	enc := func(q int) ([]byte, error) {
		n++
		return encodeJPEGQuality(img, q)
	}
	bestQ, bestData := lo, []byte(nil)
	if !loFits {
		// The top first: the plain preview often fits a generous budget.
		data, err := enc(hi)
		if err != nil || len(data) <= maxBytes {
			return hi, data, n, err
		}
		if data, err = enc(lo); err != nil || len(data) > maxBytes {
			return 0, nil, n, err
		}
		bestData, hi = data, hi-1
	}
	for lo := lo + 1; lo <= hi; {
		mid := (lo + hi) / 2
		d, err := enc(mid)
		if err != nil {
			return 0, nil, n, err
		}
		if len(d) <= maxBytes {
			bestQ, bestData, lo = mid, d, mid+1
		} else {
			hi = mid - 1
		}
	}
	if bestData == nil {
		d, err := enc(bestQ)
		if err != nil || len(d) > maxBytes {
			return 0, nil, n, err
		}
		bestData = d
	}
	return bestQ, bestData, n, nil
}

// encodeJPEGQuality encodes an opaque img as a baseline JPEG.
func encodeJPEGQuality(img *image.NRGBA, q int) ([]byte, error) {
	var buf bytes.Buffer
	// Opaque NRGBA is RGBA byte for byte; the encoder has a fast path for it.
	rgba := &image.RGBA{Pix: img.Pix, Stride: img.Stride, Rect: img.Rect}
	if err := jpeg.Encode(&buf, rgba, &jpeg.Options{Quality: q}); err != nil {
		return nil, fmt.Errorf("encode jpeg: %w", err)
	}
	return buf.Bytes(), nil
}

// shownSSIM is the SSIM of JPEG data scaled to ref's size (as a page that
// laid out ref's size shows it) against ref.
func shownSSIM(data []byte, ref *image.NRGBA) (float64, error) {
	dec, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		return 0, fmt.Errorf("decode own jpeg: %w", err)
	}
	shown := resample(dec, fullWindow(dec), ref.Rect.Dx(), ref.Rect.Dy())
	return quality.SSIM(shown, ref)
}

// cloneNRGBA copies n (whose Rect starts at the origin, as toNRGBA's do).
func cloneNRGBA(n *image.NRGBA) *image.NRGBA {
	c := image.NewNRGBA(n.Rect)
	for y := 0; y < n.Rect.Dy(); y++ {
		copy(c.Pix[y*c.Stride:y*c.Stride+4*c.Rect.Dx()], n.Pix[y*n.Stride:])
	}
	return c
}

// flattenOnWhite lays img over white in place, making it opaque.
func flattenOnWhite(img *image.NRGBA) {
	for y := 0; y < img.Rect.Dy(); y++ {
		row := img.Pix[y*img.Stride : y*img.Stride+4*img.Rect.Dx()]
		for i := 0; i < len(row); i += 4 {
			a := uint32(row[i+3])
			if a == 0xFF {
				continue
			}
			for c := 0; c < 3; c++ {
				row[i+c] = uint8((uint32(row[i+c])*a + 0xFF*(0xFF-a) + 0x7F) / 0xFF)
			}
			row[i+3] = 0xFF
		}
	}
}
