// Package jpegscale decodes baseline and progressive Huffman JPEG files
// directly at a fraction of their size, working in the DCT domain: at 1/8
// each 8x8 block becomes one pixel from its DC coefficient alone (so the AC
// scans of a progressive file are skipped without being decoded), and at
// 1/4 and 1/2 an inverse DCT of the 2x2 or 4x4 lowest frequencies gives the
// block's pixels (a progressive file keeps only those coefficients plus one
// "non-zero" bit for each of the others, which its refinement scans need).
// A 12 MP photo then costs the entropy decoding and a few MB, instead of a
// full decode and ~18-90 MB.
//
// Anything outside that subset (arithmetic coding, 12-bit samples, CMYK,
// RGB-coded files, unusual sampling) is reported as ErrUnsupported by
// NewDecoder, before any pixel data is read, so the caller can fall back to
// image/jpeg.
package jpegscale

import (
	"errors"
	"fmt"
	"image"
	"io"
	"math"

	"github.com/xmppmedia/mediaserver/transform/internal/jpegtables"
)

// ErrUnsupported: a valid JPEG this decoder does not handle; use a full decoder.
var ErrUnsupported = errors.New("jpegscale: unsupported JPEG variant")

// FormatError reports invalid JPEG data.
type FormatError string

func (e FormatError) Error() string { return "jpegscale: invalid JPEG: " + string(e) }

// maxScans bounds the scans of one file. Real progressive files have about
// ten; each scan walks every block of its components, so thousands of tiny
// scans would make a small file cost seconds of CPU.
const maxScans = 1000

// Marker codes (ITU T.81 Table B.1).
const (
	mSOF0  = 0xC0 // baseline
	mSOF1  = 0xC1 // extended sequential, Huffman
	mSOF2  = 0xC2 // progressive, Huffman
	mDHT   = 0xC4
	mRST0  = 0xD0
	mRST7  = 0xD7
	mSOI   = 0xD8
	mEOI   = 0xD9
	mSOS   = 0xDA
	mDQT   = 0xDB
	mDNL   = 0xDC
	mDRI   = 0xDD
	mAPP0  = 0xE0
	mAPP14 = 0xEE
	mCOM   = 0xFE
)

type component struct {
	id     uint8
	h, v   int // sampling factors
	tq     uint8
	cw, ch int // blocks that hold image data (non-interleaved scan extent)
	bw, bh int // blocks including MCU padding (interleaved scan extent)
	pred   int32
	dcTab  uint8
	acTab  uint8
	plane  []uint8 // output pixels, (bw*n) x (bh*n)
	stride int
	dcs    []int32 // progressive: DC coefficient per block (bw*bh)
	// Progressive at 1/4 and 1/2: the AC coefficients that reach the output
	// (zig-zag 1..maxK, maxK per block) and, for refinement scans, which
	// of all 63 AC coefficients are already non-zero (one bit each), so the
	// other 63-maxK need no storage.
	acs []int16
	nz  []uint64
}

// Decoder holds a JPEG whose header (everything before the first scan) has
// been read.
type Decoder struct {
	rd            *reader
	width, height int
	progressive   bool
	comps         []component
	hmax, vmax    int
	mcusX, mcusY  int
	quant         [4][64]uint16 // zig-zag order; an undefined table is all zeros, as in image/jpeg
	dc, ac        [4]huffman
	restart       int
	adobe         bool
	adobeXform    uint8
	jfif          bool
	n             int           // output pixels per block side (8/shrink)
	eobrun        int           // progressive AC: blocks left in an end-of-band run
	idct          [4][4]float32 // T[x][u] for the reduced IDCT, n x n used
}

// Width and Height are the full image size from the frame header.
func (d *Decoder) Width() int  { return d.width }
func (d *Decoder) Height() int { return d.height }

// Sampling is how many luma samples there are per chroma sample across and
// down (2, 2 for 4:2:0; 1, 1 for 4:4:4 and for grayscale).
func (d *Decoder) Sampling() (h, v int) { return d.hmax, d.vmax }

// Quality estimates the libjpeg quality (1..100) the file was written at,
// from its luma quantization table against the Annex K table that libjpeg,
// Go's image/jpeg and most cameras scale: 5000/q percent below 50, 200-2q
// above. It returns 0 when the table is missing.
func (d *Decoder) Quality() int {
	q := &d.quant[d.comps[0].tq]
	// Entries that libjpeg clamped to 1 or 255 say nothing about the scale.
	var sum, std float64
	ones := 0
	for k := range 64 {
		switch v := q[k]; {
		case v == 0:
			return 0
		case v == 1:
			ones++
		case v < 255:
			sum += float64(v)
			std += float64(jpegtables.QuantLuma[jpegtables.Unzig[k]])
		}
	}
	if std == 0 {
		if ones > 0 {
			return 100
		}
		return 1
	}
	scale := 100 * sum / std
	var quality float64
	if scale <= 100 {
		quality = (200 - scale) / 2
	} else {
		quality = 5000 / scale
	}
	return min(100, max(1, int(math.Round(quality))))
}

// Progressive reports whether the file is progressive.
func (d *Decoder) Progressive() bool { return d.progressive }

// NewDecoder reads the header of the JPEG in r up to its first scan and
// checks that this decoder handles it. On ErrUnsupported nothing past the
// header has been read.
func NewDecoder(r io.Reader) (*Decoder, error) {
	d := &Decoder{rd: newReader(r)}
	var soi [2]byte
	if err := d.rd.readFull(soi[:]); err != nil {
		return nil, d.ioErr(err)
	}
	if soi[0] != 0xFF || soi[1] != mSOI {
		return nil, FormatError("missing SOI marker")
	}
	for {
		m, err := d.readMarker()
		if err != nil {
			return nil, err
		}
		switch {
		case m == mSOS:
			if d.comps == nil {
				return nil, FormatError("scan before frame header")
			}
			if len(d.comps) == 3 && d.isRGB() {
				return nil, fmt.Errorf("%w: RGB-coded colour", ErrUnsupported)
			}
			return d, nil
		case m == mSOF0 || m == mSOF1 || m == mSOF2:
			if d.comps != nil {
				return nil, FormatError("more than one frame")
			}
			if err := d.readSOF(m == mSOF2); err != nil {
				return nil, err
			}
		case m >= 0xC3 && m <= 0xCF && m != mDHT && m != 0xC8 && m != 0xCC:
			return nil, fmt.Errorf("%w: frame type %#x (lossless, hierarchical or arithmetic)", ErrUnsupported, m)
		case m == 0xCC: // DAC: arithmetic coding conditioning
			return nil, fmt.Errorf("%w: arithmetic coding", ErrUnsupported)
		default:
			if err := d.segment(m); err != nil {
				return nil, err
			}
		}
	}
}

func (d *Decoder) isRGB() bool {
	if d.adobe {
		return d.adobeXform == 0
	}
	if d.jfif {
		return false
	}
	return d.comps[0].id == 'R' && d.comps[1].id == 'G' && d.comps[2].id == 'B'
}

// ioErr turns an early end of input into a FormatError and keeps read
// failures of the source as they are.
func (d *Decoder) ioErr(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, errTruncated) {
		return FormatError("unexpected end of data")
	}
	return err
}

// readMarker reads the next marker, tolerating junk bytes before it.
func (d *Decoder) readMarker() (byte, error) {
	for {
		b, err := d.rd.readByte()
		if err != nil {
			return 0, d.ioErr(err)
		}
		if b != 0xFF {
			continue
		}
		m, err := d.rd.peekAfterFF()
		if err != nil {
			return 0, d.ioErr(err)
		}
		d.rd.pos++
		if m != 0x00 {
			return m, nil
		}
	}
}

func (d *Decoder) segmentBody() ([]byte, error) {
	var l [2]byte
	if err := d.rd.readFull(l[:]); err != nil {
		return nil, d.ioErr(err)
	}
	n := int(l[0])<<8 | int(l[1])
	if n < 2 {
		return nil, FormatError("segment length under 2")
	}
	body := make([]byte, n-2)
	if err := d.rd.readFull(body); err != nil {
		return nil, d.ioErr(err)
	}
	return body, nil
}

// segment handles a marker segment other than SOF and SOS.
func (d *Decoder) segment(m byte) error {
	switch {
	case m >= mRST0 && m <= mRST7, m == 0x01: // stray, no length
		return nil
	case m == mEOI:
		return FormatError("EOI before the first scan")
	case m == mDHT:
		body, err := d.segmentBody()
		if err != nil {
			return err
		}
		return d.readDHT(body)
	case m == mDQT:
		body, err := d.segmentBody()
		if err != nil {
			return err
		}
		return d.readDQT(body)
	case m == mDRI:
		body, err := d.segmentBody()
		if err != nil {
			return err
		}
		if len(body) != 2 {
			return FormatError("DRI length")
		}
		d.restart = int(body[0])<<8 | int(body[1])
		return nil
	case m == mDNL:
		return fmt.Errorf("%w: DNL marker", ErrUnsupported)
	case m == mAPP0 || m == mAPP14:
		body, err := d.segmentBody()
		if err != nil {
			return err
		}
		if m == mAPP0 && len(body) >= 5 && string(body[:5]) == "JFIF\x00" {
			d.jfif = true
		}
		if m == mAPP14 && len(body) >= 12 && string(body[:5]) == "Adobe" {
			d.adobe, d.adobeXform = true, body[11]
		}
		return nil
	}
	// APPn, COM and anything else with a length: skip without keeping it.
	var l [2]byte
	if err := d.rd.readFull(l[:]); err != nil {
		return d.ioErr(err)
	}
	n := int(l[0])<<8 | int(l[1])
	if n < 2 {
		return FormatError("segment length under 2")
	}
	return d.ioErr(d.rd.skip(n - 2))
}

func (d *Decoder) readSOF(progressive bool) error {
	b, err := d.segmentBody()
	if err != nil {
		return err
	}
	if len(b) < 6 {
		return FormatError("short SOF")
	}
	if b[0] != 8 {
		return fmt.Errorf("%w: %d-bit samples", ErrUnsupported, b[0])
	}
	d.height = int(b[1])<<8 | int(b[2])
	d.width = int(b[3])<<8 | int(b[4])
	nc := int(b[5])
	if d.height == 0 {
		return fmt.Errorf("%w: height given by DNL", ErrUnsupported)
	}
	if d.width == 0 {
		return FormatError("zero width")
	}
	if len(b) != 6+3*nc {
		return FormatError("SOF length")
	}
	if nc != 1 && nc != 3 {
		return fmt.Errorf("%w: %d components", ErrUnsupported, nc)
	}
	d.progressive = progressive
	d.comps = make([]component, nc)
	for i := range d.comps {
		c := &d.comps[i]
		c.id = b[6+3*i]
		c.h, c.v = int(b[7+3*i]>>4), int(b[7+3*i]&15)
		c.tq = b[8+3*i]
		if c.h < 1 || c.h > 4 || c.v < 1 || c.v > 4 || c.tq > 3 {
			return FormatError("bad component parameters")
		}
		for j := 0; j < i; j++ {
			if d.comps[j].id == c.id {
				return FormatError("repeated component id")
			}
		}
	}
	if nc == 1 {
		// A lone component's sampling factors do not matter (T.81 A.2.2).
		d.comps[0].h, d.comps[0].v = 1, 1
	} else {
		if d.comps[1].h != 1 || d.comps[1].v != 1 || d.comps[2].h != 1 || d.comps[2].v != 1 {
			return fmt.Errorf("%w: chroma sampling %dx%d", ErrUnsupported, d.comps[1].h, d.comps[1].v)
		}
		if _, ok := subsampleRatio(d.comps[0].h, d.comps[0].v); !ok {
			return fmt.Errorf("%w: luma sampling %dx%d", ErrUnsupported, d.comps[0].h, d.comps[0].v)
		}
	}
	d.hmax, d.vmax = d.comps[0].h, d.comps[0].v
	d.mcusX = (d.width + 8*d.hmax - 1) / (8 * d.hmax)
	d.mcusY = (d.height + 8*d.vmax - 1) / (8 * d.vmax)
	for i := range d.comps {
		c := &d.comps[i]
		compW := (d.width*c.h + d.hmax - 1) / d.hmax
		compH := (d.height*c.v + d.vmax - 1) / d.vmax
		c.cw, c.ch = (compW+7)/8, (compH+7)/8
		c.bw, c.bh = d.mcusX*c.h, d.mcusY*c.v
	}
	return nil
}

func subsampleRatio(h, v int) (image.YCbCrSubsampleRatio, bool) {
	switch {
	case h == 1 && v == 1:
		return image.YCbCrSubsampleRatio444, true
	case h == 2 && v == 1:
		return image.YCbCrSubsampleRatio422, true
	case h == 2 && v == 2:
		return image.YCbCrSubsampleRatio420, true
	case h == 1 && v == 2:
		return image.YCbCrSubsampleRatio440, true
	case h == 4 && v == 1:
		return image.YCbCrSubsampleRatio411, true
	case h == 4 && v == 2:
		return image.YCbCrSubsampleRatio410, true
	}
	return 0, false
}

func (d *Decoder) readDHT(b []byte) error {
	for len(b) > 0 {
		if len(b) < 17 {
			return FormatError("short DHT")
		}
		class, id := b[0]>>4, b[0]&15
		if class > 1 || id > 3 {
			return FormatError("bad DHT class or id")
		}
		var counts [16]uint8
		copy(counts[:], b[1:17])
		total := 0
		for _, c := range counts {
			total += int(c)
		}
		if len(b) < 17+total {
			return FormatError("short DHT values")
		}
		t := &d.dc[id]
		if class == 1 {
			t = &d.ac[id]
		}
		if err := t.build(counts, b[17:17+total]); err != nil {
			return FormatError(err.Error())
		}
		b = b[17+total:]
	}
	return nil
}

func (d *Decoder) readDQT(b []byte) error {
	for len(b) > 0 {
		pq, tq := b[0]>>4, b[0]&15
		if tq > 3 || pq > 1 {
			return FormatError("bad DQT")
		}
		b = b[1:]
		if pq == 0 {
			if len(b) < 64 {
				return FormatError("short DQT")
			}
			for i := 0; i < 64; i++ {
				d.quant[tq][i] = uint16(b[i])
			}
			b = b[64:]
		} else {
			if len(b) < 128 {
				return FormatError("short DQT")
			}
			for i := 0; i < 64; i++ {
				d.quant[tq][i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
			}
			b = b[128:]
		}
	}
	return nil
}

// Decode decodes the image at 1/shrink of its size in each direction
// (shrink 2, 4 or 8), rounding the size up. The
// result is an *image.YCbCr (colour) or *image.Gray.
func (d *Decoder) Decode(shrink int) (image.Image, error) {
	switch shrink {
	case 8:
	case 2, 4:
	default:
		return nil, fmt.Errorf("jpegscale: shrink %d, want 2, 4 or 8", shrink)
	}
	d.n = 8 / shrink
	if d.n > 1 {
		d.idct = idctTable(d.n)
	}
	for i := range d.comps {
		c := &d.comps[i]
		c.stride = c.bw * d.n
		c.plane = make([]uint8, c.stride*c.bh*d.n)
		if d.progressive {
			c.dcs = make([]int32, c.bw*c.bh)
			if d.n > 1 {
				c.acs = make([]int16, c.bw*c.bh*d.maxK())
				c.nz = make([]uint64, c.bw*c.bh)
			}
		}
	}
	m := byte(mSOS)
	scans := 0
	for {
		var err error
		switch {
		case m == mSOS:
			if scans++; scans > maxScans {
				return nil, FormatError(fmt.Sprintf("more than %d scans", maxScans))
			}
			m, err = d.scan()
		case m == mEOI:
			return d.finish(shrink)
		case m >= 0xC0 && m <= 0xCF && m != mDHT && m != 0xC8 && m != 0xCC:
			return nil, FormatError("second frame header")
		default:
			if err = d.segment(m); err == nil {
				m, err = d.readMarker()
			}
		}
		if err != nil {
			return nil, err
		}
	}
}

// finish turns progressive DC coefficients into pixels and wraps the planes.
func (d *Decoder) finish(shrink int) (image.Image, error) {
	if d.progressive {
		for i := range d.comps {
			c := &d.comps[i]
			q := &d.quant[c.tq]
			mk := d.maxK()
			for by := 0; by < c.bh; by++ {
				for bx := 0; bx < c.bw; bx++ {
					bi := by*c.bw + bx
					var coef [16]float32
					coef[0] = float32(c.dcs[bi] * int32(q[0]))
					for k := 1; k <= mk; k++ {
						if v := c.acs[bi*mk+k-1]; v != 0 {
							d.put(&coef, k, int32(v)*int32(q[k]))
						}
					}
					d.output(c, bx, by, &coef)
				}
			}
		}
	}
	sw := (d.width + shrink - 1) / shrink
	sh := (d.height + shrink - 1) / shrink
	r := image.Rect(0, 0, sw, sh)
	if len(d.comps) == 1 {
		return &image.Gray{Pix: d.comps[0].plane, Stride: d.comps[0].stride, Rect: r}, nil
	}
	ratio, _ := subsampleRatio(d.comps[0].h, d.comps[0].v)
	return &image.YCbCr{
		Y: d.comps[0].plane, Cb: d.comps[1].plane, Cr: d.comps[2].plane,
		YStride: d.comps[0].stride, CStride: d.comps[1].stride,
		SubsampleRatio: ratio, Rect: r,
	}, nil
}

// maxK is the last zig-zag index that can hold a coefficient with both
// frequencies below n: 0 at 1/8, 4 (of 2x2) at 1/4, 24 (of 4x4) at 1/2.
func (d *Decoder) maxK() int { return [5]int{0, 0, 4, 0, 24}[d.n] }

// put stores the dequantized coefficient of zig-zag index k into the n x n
// low-frequency block if it falls inside it.
func (d *Decoder) put(coef *[16]float32, k int, v int32) {
	nat := jpegtables.Unzig[k]
	row, col := int(nat>>3), int(nat&7)
	if row < d.n && col < d.n {
		coef[row*d.n+col] = float32(v)
	}
}

// output writes a block's n x n pixels from its low-frequency coefficients.
func (d *Decoder) output(c *component, bx, by int, coef *[16]float32) {
	out := c.plane[by*d.n*c.stride+bx*d.n:]
	if d.n == 1 {
		out[0] = dcPixel(int32(coef[0]))
		return
	}
	d.reducedIDCT(coef, out, c.stride)
}

// dcPixel is the value of every pixel of a block whose only coefficient is
// the dequantized DC: DC/8 + 128 (T.81 A.3.3 with u = v = 0), clamped.
func dcPixel(dcq int32) uint8 {
	v := (dcq+4)>>3 + 128
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// idctTable returns T[x][u] = C(u)/2 * cos((2x+1)u*pi/(2n)) for an n-point
// reduced inverse DCT. The 8-point JPEG basis sampled at the centres of
// n-pixel groups is exactly the n-point basis, and with this scaling
// (C(0) = 1/sqrt2) the block mean is preserved: T[x][0]^2 * F00 = F00/8.
func idctTable(n int) [4][4]float32 {
	var t [4][4]float32
	for x := 0; x < n; x++ {
		for u := 0; u < n; u++ {
			c := 1.0
			if u == 0 {
				c = 1 / math.Sqrt2
			}
			t[x][u] = float32(c / 2 * math.Cos(float64(2*x+1)*float64(u)*math.Pi/float64(2*n)))
		}
	}
	return t
}
