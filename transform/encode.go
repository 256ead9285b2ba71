package transform

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"

	"github.com/xmppmedia/mediaserver/transform/jpegenc"
)

// encode writes img as a baseline JPEG (image/jpeg only writes baseline,
// which every old browser shows) or, when any pixel is not fully opaque, as
// PNG. Nothing but pixels is written: no EXIF, no GPS, no ICC profile.
func encode(img *image.NRGBA, quality int) (Image, error) {
	var buf bytes.Buffer
	w, h := img.Rect.Dx(), img.Rect.Dy()
	if isOpaque(img) {
		// With alpha all 0xFF, NRGBA and RGBA bytes are identical; the JPEG
		// encoder has a fast path for *image.RGBA.
		rgba := &image.RGBA{Pix: img.Pix, Stride: img.Stride, Rect: img.Rect}
		if err := jpeg.Encode(&buf, rgba, &jpeg.Options{Quality: quality}); err != nil {
			return Image{}, fmt.Errorf("encode jpeg: %w", err)
		}
		return Image{MimeType: "image/jpeg", Width: w, Height: h, Data: buf.Bytes()}, nil
	}
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&buf, img); err != nil {
		return Image{}, fmt.Errorf("encode png: %w", err)
	}
	return Image{MimeType: "image/png", Width: w, Height: h, Data: buf.Bytes()}, nil
}

// encodeYCbCr writes a 4:2:0 image (resampleYCbCr's) as a baseline JPEG
// with jpegenc, which takes the planes as they are: image/jpeg's tables
// and headers, for half its CPU time (BenchmarkEncode in
// transform/jpegenc).
func encodeYCbCr(img *image.YCbCr, quality int) (Image, error) {
	data, err := jpegenc.Encode(nil, img, jpegenc.Options{Quality: quality})
	if err != nil {
		return Image{}, fmt.Errorf("encode jpeg: %w", err)
	}
	return Image{MimeType: "image/jpeg", Width: img.Rect.Dx(), Height: img.Rect.Dy(), Data: data}, nil
}

// isOpaque reports whether every pixel has full alpha.
func isOpaque(img *image.NRGBA) bool {
	for y := 0; y < img.Rect.Dy(); y++ {
		row := img.Pix[y*img.Stride : y*img.Stride+4*img.Rect.Dx()]
		for i := 3; i < len(row); i += 4 {
			if row[i] != 0xFF {
				return false
			}
		}
	}
	return true
}
