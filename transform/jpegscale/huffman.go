package jpegscale

import "errors"

var errBadHuffman = FormatError("bad Huffman code")

// lookBits is the width of the fast lookup table: most codes in real files
// are at most 10 bits long and decode with one table read, and most
// coefficients (code plus magnitude bits) fit in it too.
const lookBits = 10

// A lut entry describes what the next lookBits bits start with:
//
//	bits  0-4   code length, 0 when the code is longer than lookBits
//	bits  5-9   code length plus the magnitude bits that follow it, when
//	            they fit in lookBits too (0 otherwise)
//	            (the magnitude's size is the symbol's low four bits)
//	bits 10-17  the symbol (run<<4 | size for AC, size for DC)
//	bits 18-31  the coefficient those magnitude bits give, sign-extended
//	            (JPEG F.2.2.1 EXTEND), when bits 5-9 are set
//
// so a typical coefficient costs one table read and one shift, where the
// symbol and its magnitude were two reads of the bit buffer each.
type lutEntry int32

func (e lutEntry) codeLen() uint  { return uint(e & 31) }
func (e lutEntry) totalLen() uint { return uint(e>>5) & 31 }
func (e lutEntry) symbol() uint8  { return uint8(e >> 10) }
func (e lutEntry) value() int32   { return int32(e) >> 18 }

// huffman is one decoding table (JPEG Annex C canonical codes).
type huffman struct {
	lut [1 << lookBits]lutEntry
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
					h.fill(uint(l), code, vals[k])
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

// fill sets the entries of every lookBits-bit string that starts with the
// l-bit code for sym.
func (h *huffman) fill(l uint, code int32, sym uint8) {
	shift := lookBits - l
	base := code << shift
	s := uint(sym & 15)
	for j := int32(0); j < 1<<shift; j++ {
		e := lutEntry(l) | lutEntry(sym)<<10
		switch {
		case s == 0: // EOB, ZRL, or a DC difference of 0: nothing follows
			e |= lutEntry(l) << 5
		case l+s <= lookBits:
			v := int32(j) >> (shift - s) // the s magnitude bits after the code
			if v < 1<<(s-1) {
				v += -(1 << s) + 1
			}
			e |= lutEntry(l+s)<<5 | lutEntry(v)<<18
		}
		h.lut[base+j] = e
	}
}

// decode reads one Huffman-coded symbol.
func (d *reader) decode(h *huffman) (uint8, error) {
	if d.nbits < 16 {
		if err := d.fill(); err != nil {
			return 0, err
		}
	}
	if e := h.lut[d.acc>>(64-lookBits)]; e != 0 {
		l := e.codeLen()
		d.acc <<= l
		d.nbits -= l
		return e.symbol(), nil
	}
	return d.decodeLong(h)
}

// decodeLong reads a symbol whose code is longer than lookBits; the
// accumulator holds at least 16 bits.
func (d *reader) decodeLong(h *huffman) (uint8, error) {
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
