package jpegscale

import (
	"encoding/binary"
	"errors"
	"io"
)

// errTruncated: the entropy-coded data ended before the scan did.
var errTruncated = FormatError("unexpected end of data")

// maxPadBytes is how many zero bytes past the end of input the bit reader
// supplies (to let the last codes of a file missing its EOI drain from the
// lookahead) before calling the file truncated.
const maxPadBytes = 8

// reader is the byte and bit source: a private buffer over the io.Reader
// (fewer calls than bufio per byte) and a 64-bit bit accumulator that
// removes 0xFF00 stuffing and stops at markers.
type reader struct {
	r      io.Reader
	buf    []byte
	pos, n int
	err    error // sticky read error from r (io.EOF at the end)
	acc    uint64
	nbits  uint
	marker byte // marker met inside entropy-coded data, 0 if none
	padded int  // zero bytes supplied after the end of input
	srcErr error
}

func newReader(r io.Reader) *reader {
	return &reader{r: r, buf: make([]byte, 32<<10)}
}

// fillBuf reads more input; false at the end of input.
func (d *reader) fillBuf() bool {
	if d.err != nil {
		return false
	}
	n, err := d.r.Read(d.buf)
	for n == 0 && err == nil {
		n, err = d.r.Read(d.buf)
	}
	d.pos, d.n = 0, n
	if err != nil {
		d.err = err
		if !errors.Is(err, io.EOF) {
			d.srcErr = err
		}
	}
	return n > 0
}

func (d *reader) readByte() (byte, error) {
	if d.pos >= d.n && !d.fillBuf() {
		if d.srcErr != nil {
			return 0, d.srcErr
		}
		return 0, io.ErrUnexpectedEOF
	}
	b := d.buf[d.pos]
	d.pos++
	return b, nil
}

func (d *reader) readFull(p []byte) error {
	for len(p) > 0 {
		if d.pos >= d.n && !d.fillBuf() {
			if d.srcErr != nil {
				return d.srcErr
			}
			return io.ErrUnexpectedEOF
		}
		c := copy(p, d.buf[d.pos:d.n])
		d.pos += c
		p = p[c:]
	}
	return nil
}

func (d *reader) skip(n int) error {
	for n > 0 {
		if d.pos >= d.n && !d.fillBuf() {
			if d.srcErr != nil {
				return d.srcErr
			}
			return io.ErrUnexpectedEOF
		}
		c := min(n, d.n-d.pos)
		d.pos += c
		n -= c
	}
	return nil
}

// fill tops the accumulator up to at least 57 bits. At a marker or at the
// end of input it supplies zero bits, as decoders conventionally do, so a
// scan that ends exactly at a marker decodes; past maxPadBytes at the end of
// input it reports truncation.
func (d *reader) fill() error {
	if d.marker == 0 && d.pos+8 <= d.n {
		// Fast path: the next 8 bytes hold no 0xFF (no stuffing, no
		// marker), so as many whole bytes as fit go in at once.
		w := binary.BigEndian.Uint64(d.buf[d.pos:])
		if x := ^w; (x-0x0101010101010101)&^x&0x8080808080808080 == 0 {
			n := (64 - d.nbits) / 8 // 1..8 bytes, as nbits <= 56
			d.acc |= w >> (64 - 8*n) << (64 - d.nbits - 8*n)
			d.nbits += 8 * n
			d.pos += int(n)
			return nil
		}
	}
	for d.nbits <= 56 {
		var b byte
		if d.marker != 0 {
			b = 0
		} else {
			if d.pos >= d.n && !d.fillBuf() {
				if d.srcErr != nil {
					return d.srcErr
				}
				d.padded++
				if d.padded > maxPadBytes {
					return errTruncated
				}
				d.nbits += 8 // a zero byte
				continue
			}
			b = d.buf[d.pos]
			d.pos++
			if b == 0xFF {
				nb, err := d.peekAfterFF()
				if err != nil {
					return err
				}
				if nb == 0x00 {
					d.pos++ // stuffed zero
				} else {
					d.marker = nb // from here on, zero bits
					d.pos++
					b = 0
				}
			}
		}
		d.acc |= uint64(b) << (56 - d.nbits)
		d.nbits += 8
	}
	return nil
}

// peekAfterFF returns the byte after a 0xFF, skipping fill 0xFF bytes, and
// leaves d.pos on it.
func (d *reader) peekAfterFF() (byte, error) {
	for {
		if d.pos >= d.n && !d.fillBuf() {
			if d.srcErr != nil {
				return 0, d.srcErr
			}
			return 0, errTruncated
		}
		b := d.buf[d.pos]
		if b != 0xFF {
			return b, nil
		}
		d.pos++
	}
}

// bits returns the next n (1..16) bits as an unsigned value.
func (d *reader) bits(n uint) (uint32, error) {
	if d.nbits < n {
		if err := d.fill(); err != nil {
			return 0, err
		}
	}
	v := uint32(d.acc >> (64 - n))
	d.acc <<= n
	d.nbits -= n
	return v, nil
}

// receiveExtend reads an n-bit magnitude category value and sign-extends it
// (JPEG F.2.2.1 EXTEND).
func (d *reader) receiveExtend(n uint) (int32, error) {
	if n == 0 {
		return 0, nil
	}
	if n > 16 {
		return 0, FormatError("coefficient size over 16 bits")
	}
	v, err := d.bits(n)
	if err != nil {
		return 0, err
	}
	if v < 1<<(n-1) {
		return int32(v) - (1 << n) + 1, nil
	}
	return int32(v), nil
}

// resetBits drops buffered bits at a restart marker or the end of a scan.
// Bytes already pulled into the accumulator past the marker cannot exist:
// fill stops at markers.
func (d *reader) resetBits() {
	d.acc, d.nbits = 0, 0
}

// nextMarker finds the marker that ends the current entropy-coded segment,
// skipping any remaining data (used to skip whole scans, and after a scan to
// find what follows). RSTn markers inside skipped data are skipped too when
// skipRST is set.
func (d *reader) nextMarker(skipRST bool) (byte, error) {
	if d.marker != 0 {
		m := d.marker
		d.marker = 0
		d.resetBits()
		if !(skipRST && m >= 0xD0 && m <= 0xD7) {
			return m, nil
		}
	}
	d.resetBits()
	for {
		b, err := d.readByte()
		if err != nil {
			return 0, err
		}
		if b != 0xFF {
			continue
		}
		m, err := d.peekAfterFF()
		if err != nil {
			return 0, err
		}
		d.pos++
		if m == 0x00 || (skipRST && m >= 0xD0 && m <= 0xD7) {
			continue
		}
		return m, nil
	}
}
