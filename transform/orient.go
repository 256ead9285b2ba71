package transform

import (
	"bytes"
	"encoding/binary"
	"image"
	"io"

	"github.com/disintegration/imaging"
)

// maxHeaderScan bounds how many bytes of metadata segments are read while
// looking for the orientation, so a file made of endless APPn segments costs
// a bounded read; past it the image counts as upright.
const maxHeaderScan = 4 << 20

// jpegOrientation walks the JPEG marker segments up to the first SOS and
// returns the orientation from the first APP1 segment that holds EXIF. Other
// APP1 segments (XMP often comes first) are skipped, not mistaken for EXIF.
// Anything malformed yields 1: orientation is a hint, and corruption of the
// image itself is the decoder's to report.
func jpegOrientation(r io.Reader) int {
	var b [4]byte
	if _, err := io.ReadFull(r, b[:2]); err != nil || b[0] != 0xFF || b[1] != 0xD8 {
		return 1
	}
	scanned := 0
	for scanned < maxHeaderScan {
		if _, err := io.ReadFull(r, b[:2]); err != nil || b[0] != 0xFF {
			return 1
		}
		marker := b[1]
		for marker == 0xFF { // fill bytes
			if _, err := io.ReadFull(r, b[1:2]); err != nil {
				return 1
			}
			marker = b[1]
		}
		switch {
		case marker == 0xDA || marker == 0xD9: // SOS, EOI: no EXIF before the pixels
			return 1
		case marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7): // no length
			continue
		}
		if _, err := io.ReadFull(r, b[2:4]); err != nil {
			return 1
		}
		n := int(binary.BigEndian.Uint16(b[2:4])) - 2
		if n < 0 {
			return 1
		}
		scanned += n + 4
		if marker == 0xE1 && n >= 6 {
			seg := make([]byte, n)
			if _, err := io.ReadFull(r, seg); err != nil {
				return 1
			}
			if bytes.HasPrefix(seg, []byte("Exif\x00\x00")) {
				return tiffOrientation(seg[6:])
			}
			continue
		}
		if _, err := io.CopyN(io.Discard, r, int64(n)); err != nil {
			return 1
		}
	}
	return 1
}

// pngOrientation looks for an eXIf chunk before the first IDAT.
func pngOrientation(r io.Reader) int {
	var b [8]byte
	if _, err := io.ReadFull(r, b[:8]); err != nil {
		return 1
	}
	scanned := 0
	for scanned < maxHeaderScan {
		if _, err := io.ReadFull(r, b[:8]); err != nil {
			return 1
		}
		n := int64(binary.BigEndian.Uint32(b[:4]))
		typ := string(b[4:8])
		if typ == "IDAT" || typ == "IEND" || n > maxHeaderScan {
			return 1
		}
		scanned += int(n) + 12
		if typ == "eXIf" {
			data := make([]byte, n)
			if _, err := io.ReadFull(r, data); err != nil {
				return 1
			}
			return tiffOrientation(data)
		}
		if _, err := io.CopyN(io.Discard, r, n+4); err != nil { // data + CRC
			return 1
		}
	}
	return 1
}

// webpOrientation walks the RIFF chunks for an EXIF chunk. The chunks are
// skipped by reading, not kept, so a large file costs time but not memory.
func webpOrientation(r io.Reader) int {
	var b [12]byte
	if _, err := io.ReadFull(r, b[:12]); err != nil {
		return 1
	}
	for {
		if _, err := io.ReadFull(r, b[:8]); err != nil {
			return 1
		}
		n := int64(binary.LittleEndian.Uint32(b[4:8]))
		typ := string(b[:4])
		if typ == "EXIF" {
			if n > maxHeaderScan {
				return 1
			}
			data := make([]byte, n)
			if _, err := io.ReadFull(r, data); err != nil {
				return 1
			}
			// Some writers keep the JPEG-style "Exif\0\0" prefix.
			data = bytes.TrimPrefix(data, []byte("Exif\x00\x00"))
			return tiffOrientation(data)
		}
		if _, err := io.CopyN(io.Discard, r, n+n&1); err != nil { // chunks are padded to even size
			return 1
		}
	}
}

// tiffOrientation reads tag 0x0112 from IFD0 of a TIFF structure (the body of
// an EXIF block). It returns 1 unless it finds a valid value 1..8.
func tiffOrientation(t []byte) int {
	if len(t) < 8 {
		return 1
	}
	var bo binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 1
	}
	if bo.Uint16(t[2:4]) != 42 {
		return 1
	}
	ifd := int64(bo.Uint32(t[4:8]))
	if ifd < 8 || ifd+2 > int64(len(t)) {
		return 1
	}
	count := int64(bo.Uint16(t[ifd : ifd+2]))
	for i := int64(0); i < count; i++ {
		e := ifd + 2 + i*12
		if e+12 > int64(len(t)) {
			return 1
		}
		if bo.Uint16(t[e:e+2]) != 0x0112 {
			continue
		}
		var v int
		switch bo.Uint16(t[e+2 : e+4]) { // field type
		case 3: // SHORT
			v = int(bo.Uint16(t[e+8 : e+10]))
		case 4: // LONG, seen from some writers
			v = int(bo.Uint32(t[e+8 : e+12]))
		default:
			return 1
		}
		if v < 1 || v > 8 {
			return 1
		}
		return v
	}
	return 1
}

// swapsAxes reports whether orientation o turns the image by 90 degrees.
func swapsAxes(o int) bool { return o >= 5 && o <= 8 }

// orientedSize is the displayed size of a w x h stored image.
func orientedSize(w, h, o int) (int, int) {
	if swapsAxes(o) {
		return h, w
	}
	return w, h
}

// orient turns a stored image upright per EXIF orientation o. It is applied
// to the small result, after resizing, where it costs almost nothing.
func orient(img image.Image, o int) *image.NRGBA {
	switch o {
	case 2:
		return imaging.FlipH(img)
	case 3:
		return imaging.Rotate180(img)
	case 4:
		return imaging.FlipV(img)
	case 5:
		return imaging.Transpose(img)
	case 6:
		return imaging.Rotate270(img) // 90 degrees clockwise
	case 7:
		return imaging.Transverse(img)
	case 8:
		return imaging.Rotate90(img) // 90 degrees counter-clockwise
	}
	return toNRGBA(img)
}
