package transform

import (
	"bytes"
	"fmt"
	"image"

	"github.com/gen2brain/webp"
	xwebp "golang.org/x/image/webp"
)

// webpQuality is the libwebp quality of the WebP preview whose JPEG
// preview has quality jpegQuality (Config.JPEGQuality, or an original's
// own when lower), chosen for about the JPEG's SSIM on the 320x480 box
// (TestWebPAgainstJPEG, docs/previews.md): from 85 up the same number (at
// 85 the WebP's SSIM matches or beats the JPEG's on 6 of 8 photos and
// trails by at most 0.006 on the others); below it halfway to 85, since
// libwebp's scale loses SSIM faster there (at 75, WebP 75 trails the JPEG
// by 0.004 on average and up to 0.017; WebP 80 matches it).
func webpQuality(jpegQuality int) int {
	if jpegQuality >= 85 {
		return jpegQuality
	}
	return (jpegQuality + 85 + 1) / 2
}

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
