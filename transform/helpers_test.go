package transform

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"testing"

	"github.com/disintegration/imaging"
)

// Colours of the quadrant test image, upright: top-left, top-right,
// bottom-left, bottom-right.
var quadColours = [4]color.NRGBA{{255, 0, 0, 255}, {0, 255, 0, 255}, {0, 0, 255, 255}, {255, 255, 0, 255}}

// quadrants draws a w x h image with one colour per quadrant.
func quadrants(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := 0
			if x >= w/2 {
				i++
			}
			if y >= h/2 {
				i += 2
			}
			img.SetNRGBA(x, y, quadColours[i])
		}
	}
	return img
}

// storedFor returns the pixels a camera stores for upright image u when it
// tags the file with EXIF orientation o. It is written from the EXIF 2.32
// definition of the tag (where the stored 0th row and 0th column lie in the
// upright scene), not from orient, so a wrong case in orient cannot cancel
// itself out; TestStoredForAgreesWithImageMagick checks this table against
// ImageMagick's -auto-orient. imaging.Rotate90 turns counter-clockwise.
func storedFor(u image.Image, o int) *image.NRGBA {
	switch o {
	case 2: // 0th row top, 0th column right: mirrored left to right
		return imaging.FlipH(u)
	case 3: // 0th row bottom, 0th column right: upside down
		return imaging.Rotate180(u)
	case 4: // 0th row bottom, 0th column left: mirrored top to bottom
		return imaging.FlipV(u)
	case 5: // 0th row left, 0th column top: mirrored about the main diagonal
		return imaging.Transpose(u)
	case 6: // 0th row right, 0th column top: shown turned 90 degrees clockwise
		return imaging.Rotate90(u)
	case 7: // 0th row right, 0th column bottom: mirrored about the anti-diagonal
		return imaging.Transverse(u)
	case 8: // 0th row left, 0th column bottom: shown turned 90 degrees counter-clockwise
		return imaging.Rotate270(u)
	}
	return imaging.Clone(u)
}

// checkQuadrants asserts img shows quadColours in its four quadrants.
func checkQuadrants(t *testing.T, img image.Image) {
	t.Helper()
	b := img.Bounds()
	pts := [4]image.Point{
		{b.Min.X + b.Dx()/4, b.Min.Y + b.Dy()/4}, {b.Min.X + 3*b.Dx()/4, b.Min.Y + b.Dy()/4},
		{b.Min.X + b.Dx()/4, b.Min.Y + 3*b.Dy()/4}, {b.Min.X + 3*b.Dx()/4, b.Min.Y + 3*b.Dy()/4},
	}
	for i, p := range pts {
		got := color.NRGBAModel.Convert(img.At(p.X, p.Y)).(color.NRGBA)
		if !near(got, quadColours[i], 60) {
			t.Errorf("quadrant %d at %v: got %v, want about %v", i, p, got, quadColours[i])
		}
	}
}

func near(a, b color.NRGBA, tol int) bool {
	d := func(x, y uint8) bool { v := int(x) - int(y); return v <= tol && v >= -tol }
	return d(a.R, b.R) && d(a.G, b.G) && d(a.B, b.B) && d(a.A, b.A)
}

// noisy draws a photo-like w x h image: smooth gradients plus
// deterministic texture, so JPEG sizes resemble a camera's.
func noisy(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	seed := uint32(12345)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			seed = seed*1664525 + 1013904223
			n := int(seed>>24)/8 - 16
			i := img.PixOffset(x, y)
			img.Pix[i] = clamp8(x*255/w + n)
			img.Pix[i+1] = clamp8(y*255/h + n)
			img.Pix[i+2] = clamp8((x^y)&0xFF/2 + 64 + n)
			img.Pix[i+3] = 255
		}
	}
	return img
}

func clamp8(v int) uint8 { return uint8(max(0, min(255, v))) }

func encodeJPEG(t testing.TB, img image.Image, q int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodeGIF(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := gif.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// exifTIFF is a minimal big-endian TIFF block with IFD0 holding the
// orientation and a GPS IFD pointer (so tests can check it does not leak).
func exifTIFF(o int) []byte {
	var b bytes.Buffer
	b.WriteString("MM\x00\x2a")
	binary.Write(&b, binary.BigEndian, uint32(8))
	binary.Write(&b, binary.BigEndian, uint16(2))
	// Orientation, SHORT, count 1, value left-justified.
	binary.Write(&b, binary.BigEndian, [4]uint16{0x0112, 3, 0, 1})
	binary.Write(&b, binary.BigEndian, [2]uint16{uint16(o), 0})
	// GPSInfo IFD pointer, LONG, to an empty IFD right after this one.
	binary.Write(&b, binary.BigEndian, [4]uint16{0x8825, 4, 0, 1})
	binary.Write(&b, binary.BigEndian, uint32(8+2+2*12+4))
	binary.Write(&b, binary.BigEndian, uint32(0))
	binary.Write(&b, binary.BigEndian, uint16(0))
	binary.Write(&b, binary.BigEndian, uint32(0))
	return b.Bytes()
}

// xmpSegment is an APP1 XMP packet, which phones sometimes write before EXIF.
func xmpSegment() []byte {
	body := "http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF/></x:xmpmeta>"
	return appSegment(0xE1, []byte(body))
}

func appSegment(marker byte, body []byte) []byte {
	seg := []byte{0xFF, marker, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(body)+2))
	return append(seg, body...)
}

// withJPEGSegments inserts segments right after SOI.
func withJPEGSegments(jpg []byte, segs ...[]byte) []byte {
	out := append([]byte{}, jpg[:2]...)
	for _, s := range segs {
		out = append(out, s...)
	}
	return append(out, jpg[2:]...)
}

// jpegWithOrientation encodes img and tags it with EXIF orientation o; with
// xmpFirst an XMP APP1 precedes the EXIF APP1.
func jpegWithOrientation(t testing.TB, img image.Image, o int, xmpFirst bool) []byte {
	exif := appSegment(0xE1, append([]byte("Exif\x00\x00"), exifTIFF(o)...))
	if xmpFirst {
		return withJPEGSegments(encodeJPEG(t, img, 95), xmpSegment(), exif)
	}
	return withJPEGSegments(encodeJPEG(t, img, 95), exif)
}

// pngWithOrientation encodes img with an eXIf chunk before IDAT.
func pngWithOrientation(t testing.TB, img image.Image, o int) []byte {
	p := encodePNG(t, img)
	ihdrEnd := 8 + 8 + 13 + 4
	return append(append(append([]byte{}, p[:ihdrEnd]...), pngChunk("eXIf", exifTIFF(o))...), p[ihdrEnd:]...)
}

func pngChunk(typ string, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, uint32(len(data)))
	b.WriteString(typ)
	b.Write(data)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	return b.Bytes()
}

// riffChunks splits a WebP file into its chunks (fourcc, payload).
func riffChunks(t testing.TB, data []byte) [][2][]byte {
	t.Helper()
	var out [][2][]byte
	for p := 12; p+8 <= len(data); {
		n := int(binary.LittleEndian.Uint32(data[p+4:]))
		out = append(out, [2][]byte{data[p : p+4], data[p+8 : p+8+n]})
		p += 8 + n + n&1
	}
	return out
}

// webpFile builds a VP8X WebP of the given canvas from the image chunks of
// fixture (ALPH, VP8, VP8L), adding an EXIF chunk (after the pixels, where
// the spec puts it) when o > 0.
func webpFile(t testing.TB, fixture string, w, h, o int) []byte {
	t.Helper()
	src, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	var flags byte
	var body bytes.Buffer
	for _, c := range riffChunks(t, src) {
		switch string(c[0]) {
		case "ALPH", "VP8 ", "VP8L":
			if string(c[0]) == "ALPH" || string(c[0]) == "VP8L" {
				flags |= 0x10
			}
			body.Write(riffChunk(string(c[0]), c[1]))
		}
	}
	if o > 0 {
		flags |= 0x08
		body.Write(riffChunk("EXIF", exifTIFF(o)))
	}
	vp8x := []byte{flags, 0, 0, 0, byte(w - 1), byte((w - 1) >> 8), byte((w - 1) >> 16), byte(h - 1), byte((h - 1) >> 8), byte((h - 1) >> 16)}
	all := append(riffChunk("VP8X", vp8x), body.Bytes()...)
	out := []byte("RIFF\x00\x00\x00\x00WEBP")
	binary.LittleEndian.PutUint32(out[4:], uint32(4+len(all)))
	return append(out, all...)
}

func riffChunk(typ string, data []byte) []byte {
	out := append([]byte(typ), 0, 0, 0, 0)
	binary.LittleEndian.PutUint32(out[4:], uint32(len(data)))
	out = append(out, data...)
	if len(data)%2 == 1 {
		out = append(out, 0)
	}
	return out
}
