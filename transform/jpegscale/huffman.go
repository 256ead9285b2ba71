package jpegscale

import "errors"

var errBadHuffman = FormatError("bad Huffman code")

// lookBits is the width of the fast lookup table: most codes in real files
// are at most 9 bits long and decode with one table read.
const lookBits = 9

// huffman is one decoding table (JPEG Annex C canonical codes).
type huffman struct {
	// lut[next lookBits bits] = length<<8 | value, 0 when the code is longer.
	lut [1 << lookBits]uint16
	// Canonical decoding for long codes: maxCode[l] is the largest code of
	// length l (or -1), valPtr[l] the index in vals of the first code of
	// length l minus the smallest such code.
	maxCode [17]int32
	valPtr  [17]int32
	vals    [256]uint8
	defined bool
}

// build constructs the table from the DHT counts (codes per length 1..16)
// and symbol values.
func (h *huffman) build(counts [16]uint8, vals []uint8) error {
	total := 0
	for _, c := range counts {
		total += int(c)
	}
	if total == 0 || total > 256 || total != len(vals) {
		return errors.New("jpegscale: bad DHT table size")
	}
	*h = huffman{}
	copy(h.vals[:], vals)
	code, k := int32(0), int32(0)
	for l := 1; l <= 16; l++ {
		n := int32(counts[l-1])
		if code+n > 1<<l {
			return errors.New("jpegscale: DHT codes overflow their lengths")
		}
		if n == 0 {
			h.maxCode[l] = -1
		} else {
			h.valPtr[l] = k - code
			for i := int32(0); i < n; i++ {
				if l <= lookBits {
					// every lookBits-bit string that starts with this code
					shift := uint(lookBits - l)
					base := code << shift
					for j := int32(0); j < 1<<shift; j++ {
						h.lut[base+j] = uint16(l)<<8 | uint16(vals[k])
					}
				}
				code++
				k++
			}
			h.maxCode[l] = code - 1
		}
		code <<= 1
	}
	h.defined = true
	return nil
}

// decode reads one Huffman-coded symbol.
func (d *reader) decode(h *huffman) (uint8, error) {
	if d.nbits < 16 {
		if err := d.fill(); err != nil {
			return 0, err
		}
	}
	if e := h.lut[d.acc>>(64-lookBits)]; e != 0 {
		l := uint(e >> 8)
		d.acc <<= l
		d.nbits -= l
		return uint8(e), nil
	}
	for l := lookBits + 1; l <= 16; l++ {
		code := int32(d.acc >> (64 - uint(l)))
		if code <= h.maxCode[l] {
			d.acc <<= uint(l)
			d.nbits -= uint(l)
			return h.vals[(h.valPtr[l]+code)&0xFF], nil
		}
	}
	return 0, errBadHuffman
}
