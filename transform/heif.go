package transform

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// HEIF (HEIC, iPhone photos) and AVIF are ISO base media files: boxes, with
// the picture as the "primary item" of the meta box. Its size is the ispe
// property and its display transform the irot (rotation) and imir (mirror)
// properties, in the order the item lists them. These are read here, in Go,
// so that Inspect and the pixel limit need no decoder (the decoders are
// libheif and libavif compiled to WebAssembly, slow to start), and because
// libavif, unlike libheif, leaves irot/imir to its caller. An EXIF
// orientation in the file is ignored: the HEIF specification makes irot and
// imir the authority (iPhones write both, consistently).

// maxHEIFMeta bounds the meta box this parser reads into memory.
const maxHEIFMeta = 1 << 20

var errNoPrimary = errors.New("no primary item size (ispe)")

// heifHeader reads the boxes up to and including meta (which comes first
// in every HEIC and AVIF file we know of) and returns the primary item's
// stored size and the EXIF orientation equivalent to its irot/imir.
func heifHeader(r io.Reader) (heifInfo, error) {
	for {
		typ, body, err := nextBox(r, maxHEIFMeta)
		if err != nil {
			return heifInfo{}, err
		}
		if typ == "meta" {
			return parseMeta(body)
		}
		if typ == "mdat" {
			return heifInfo{}, errors.New("media data before the meta box")
		}
	}
}

// heifInfo is what the meta box says about the primary item.
type heifInfo struct {
	width, height, orientation int
	// icc is the ICC profile of a colr box of type prof or rICC, if any
	// (iPhones write Display P3 this way).
	icc []byte
}

// nextBox reads one box header and, for meta, its body (at most limit
// bytes); other boxes are skipped.
func nextBox(r io.Reader, limit int64) (string, []byte, error) {
	var hdr [8]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return "", nil, err
	}
	size := int64(binary.BigEndian.Uint32(hdr[:4]))
	typ := string(hdr[4:8])
	hl := int64(8)
	if size == 1 {
		var ext [8]byte
		if _, err := io.ReadFull(r, ext[:]); err != nil {
			return "", nil, err
		}
		size, hl = int64(binary.BigEndian.Uint64(ext[:])), 16
	}
	if size == 0 || size < hl {
		return typ, nil, fmt.Errorf("box %q: size %d", typ, size)
	}
	n := size - hl
	if typ != "meta" {
		_, err := io.CopyN(io.Discard, r, n)
		return typ, nil, err
	}
	if n > limit {
		return typ, nil, fmt.Errorf("meta box of %d bytes", n)
	}
	body := make([]byte, n)
	_, err := io.ReadFull(r, body)
	return typ, body, err
}

// boxes splits b into (type, body) pairs.
func boxes(b []byte) ([][2]string, error) {
	var out [][2]string
	for len(b) > 0 {
		if len(b) < 8 {
			return nil, errors.New("truncated box")
		}
		size := uint64(binary.BigEndian.Uint32(b[:4]))
		hl := uint64(8)
		if size == 1 {
			if len(b) < 16 {
				return nil, errors.New("truncated box")
			}
			size, hl = binary.BigEndian.Uint64(b[8:16]), 16
		} else if size == 0 {
			size = uint64(len(b))
		}
		if size < hl || size > uint64(len(b)) {
			return nil, fmt.Errorf("box %q: size %d", b[4:8], size)
		}
		out = append(out, [2]string{string(b[4:8]), string(b[hl:size])})
		b = b[size:]
	}
	return out, nil
}

// parseMeta finds the primary item's ispe, irot, imir and colr.
func parseMeta(meta []byte) (heifInfo, error) {
	if len(meta) < 4 {
		return heifInfo{}, errors.New("short meta box")
	}
	children, err := boxes(meta[4:]) // meta is a full box
	if err != nil {
		return heifInfo{}, err
	}
	primary := uint32(0)
	var iprp string
	for _, c := range children {
		switch c[0] {
		case "pitm":
			b := []byte(c[1])
			switch {
			case len(b) >= 6 && b[0] == 0:
				primary = uint32(binary.BigEndian.Uint16(b[4:6]))
			case len(b) >= 8:
				primary = binary.BigEndian.Uint32(b[4:8])
			default:
				return heifInfo{}, errors.New("short pitm box")
			}
		case "iprp":
			iprp = c[1]
		}
	}
	props, err := boxes([]byte(iprp))
	if err != nil {
		return heifInfo{}, err
	}
	var ipco [][2]string
	var assoc []int // property indices (1-based) of the primary item, in order
	for _, p := range props {
		switch p[0] {
		case "ipco":
			if ipco, err = boxes([]byte(p[1])); err != nil {
				return heifInfo{}, err
			}
		case "ipma":
			if assoc, err = ipmaFor([]byte(p[1]), primary); err != nil {
				return heifInfo{}, err
			}
		}
	}
	var t heifTransform
	var info heifInfo
	for _, i := range assoc {
		if i < 1 || i > len(ipco) {
			continue
		}
		body := []byte(ipco[i-1][1])
		switch ipco[i-1][0] {
		case "ispe":
			if len(body) >= 12 {
				info.width, info.height = int(binary.BigEndian.Uint32(body[4:8])), int(binary.BigEndian.Uint32(body[8:12]))
			}
		case "colr":
			if len(body) > 4 && (string(body[:4]) == "prof" || string(body[:4]) == "rICC") {
				info.icc = body[4:]
			}
		case "irot":
			if len(body) >= 1 {
				t = t.rotateCCW(int(body[0] & 3))
			}
		case "imir":
			if len(body) >= 1 {
				// Bit 0: 0 mirrors top to bottom, 1 left to right, as
				// libheif and libavif read it (the "mode" of the
				// amended specification).
				t = t.mirror(body[0]&1 == 0)
			}
		}
	}
	if info.width <= 0 || info.height <= 0 {
		return heifInfo{}, errNoPrimary
	}
	info.orientation = t.exif()
	return info, nil
}

// ipmaFor returns the property indices associated with item id.
func ipmaFor(b []byte, id uint32) ([]int, error) {
	if len(b) < 8 {
		return nil, errors.New("short ipma box")
	}
	version, flags := b[0], b[3]
	n := binary.BigEndian.Uint32(b[4:8])
	b = b[8:]
	for range n {
		var item uint32
		if version < 1 {
			if len(b) < 2 {
				return nil, errors.New("short ipma entry")
			}
			item, b = uint32(binary.BigEndian.Uint16(b)), b[2:]
		} else {
			if len(b) < 4 {
				return nil, errors.New("short ipma entry")
			}
			item, b = binary.BigEndian.Uint32(b), b[4:]
		}
		if len(b) < 1 {
			return nil, errors.New("short ipma entry")
		}
		count := int(b[0])
		b = b[1:]
		var idx []int
		for range count {
			if flags&1 == 1 {
				if len(b) < 2 {
					return nil, errors.New("short ipma entry")
				}
				idx, b = append(idx, int(binary.BigEndian.Uint16(b)&0x7FFF)), b[2:]
			} else {
				if len(b) < 1 {
					return nil, errors.New("short ipma entry")
				}
				idx, b = append(idx, int(b[0]&0x7F)), b[1:]
			}
		}
		if item == id {
			return idx, nil
		}
	}
	return nil, nil
}

// heifTransform is a display transform written as "mirror left-right if
// flip, then rotate anticlockwise by quarters", the form in which the
// eight EXIF orientations are easy to name.
type heifTransform struct {
	flip     bool
	quarters int
}

func (t heifTransform) rotateCCW(q int) heifTransform {
	t.quarters = (t.quarters + q) % 4
	return t
}

// mirror applies an imir after t: left to right (topBottom false) or top
// to bottom. A left-right mirror after a
// rotation by q equals the mirror first and a rotation by -q; top-bottom
// is left-right followed by a half turn.
func (t heifTransform) mirror(topBottom bool) heifTransform {
	t.flip = !t.flip
	t.quarters = (4 - t.quarters) % 4
	if topBottom {
		t.quarters = (t.quarters + 2) % 4
	}
	return t
}

// exif is the EXIF orientation (1..8) that means the same transform.
func (t heifTransform) exif() int {
	if t.flip {
		return [4]int{2, 5, 4, 7}[t.quarters]
	}
	return [4]int{1, 8, 3, 6}[t.quarters]
}
