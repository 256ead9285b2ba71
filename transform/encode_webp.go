package transform

import (
	"bytes"
	"fmt"
	"image"

	"github.com/gen2brain/webp"
	xwebp "golang.org/x/image/webp"
)

// WebPQuality is the libwebp quality of WebP previews: the lowest whose
// SSIM, on the 320x480 box of every photo TestWebPAgainstJPEG measures,
// is at least the quality-85 JPEG's, so a browser that takes WebP gets
// the same picture for fewer bytes (docs/previews.md, Formats and byte
// budgets, has the table).
const WebPQuality = 85

// webpMethod is libwebp's effort, 0 (fast) to 6: 4 is its default and
// cwebp's, 5 and 6 gain a percent or two for a third more time.
const webpMethod = 4

// encodeWebP writes img as a lossy WebP at quality (libwebp's 0..100
// scale), transparency included (VP8 with an ALPH chunk, which every
// browser that shows WebP shows), without metadata. libwebp runs as
// WebAssembly in wazero (github.com/gen2brain/webp), so the build stays
// pure Go; every call instantiates the module afresh, a few MB for the
// call's duration (BenchmarkWebPEncode).
func encodeWebP(img *image.NRGBA, quality int) (Image, error) {
	var buf bytes.Buffer
	if err := webp.Encode(&buf, img, webp.Options{Quality: quality, Method: webpMethod}); err != nil {
		return Image{}, fmt.Errorf("encode webp: %w", err)
	}
	return Image{MimeType: "image/webp", Width: img.Rect.Dx(), Height: img.Rect.Dy(), Data: buf.Bytes()}, nil
}

// decodeWebP decodes a lossy WebP with x/image's decoder (independent of
// the libwebp that encoded it), in full-range colour like the pipeline's
// WebP decode.
func decodeWebP(data []byte) (image.Image, error) {
	img, err := xwebp.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("decode webp: %w", err)
	}
	expandStudioRange(img)
	return img, nil
}
