// Package jpegenc writes baseline JPEG files from 4:2:0 YCbCr planes, the
// last step of a derived preview. image/jpeg takes any image.Image and
// converts and subsamples it block by block through generic paths, divides
// every coefficient by its quantizer with an integer division and writes
// its bits a byte at a time through a bufio.Writer; for a 67x100 preview
// that was a quarter of a derive's CPU time. Here the planes go in as they
// are, the forward DCT is the float AAN one (libjpeg's most accurate) with
// the quantizers folded into its output scaling, and the bits go through
// a 64-bit accumulator into one byte slice.
//
// The output is the kind of file image/jpeg writes for the same planes and
// quality (its coefficients differ only by the two FDCTs' rounding):
// baseline, 4:2:0, the Annex K quantization tables scaled by quality as
// libjpeg does and the Annex K Huffman tables, no metadata (no JFIF or
// EXIF segment), so a reader's quality estimate and every old browser see
// the same kind of file.
package jpegenc

import (
	"errors"
	"image"
	"math"
	"math/bits"

	"github.com/xmppmedia/mediaserver/transform/internal/jpegtables"
)

// Options for Encode.
type Options struct {
	// Quality 1..100, as libjpeg and image/jpeg scale the Annex K tables.
	Quality int
}

var errNot420 = errors.New("jpegenc: want a 4:2:0 YCbCr image")

// Encode appends img, a 4:2:0 *image.YCbCr, as a baseline JPEG to dst.
func Encode(dst []byte, img *image.YCbCr, o Options) ([]byte, error) {
	if img.SubsampleRatio != image.YCbCrSubsampleRatio420 {
		return dst, errNot420
	}
	b := img.Rect
	w, h := b.Dx(), b.Dy()
	if w <= 0 || h <= 0 || w > 65535 || h > 65535 {
		return dst, errors.New("jpegenc: image size out of range")
	}
	e := newEncoder(o.Quality)
	dst = e.header(dst, w, h)

	y := plane{pix: img.Y[img.YOffset(b.Min.X, b.Min.Y):], stride: img.YStride, w: w, h: h}
	cx0, cy0 := b.Min.X/2, b.Min.Y/2
	cw, ch := (b.Max.X+1)/2-cx0, (b.Max.Y+1)/2-cy0
	off := img.COffset(b.Min.X, b.Min.Y)
	cb := plane{pix: img.Cb[off:], stride: img.CStride, w: cw, h: ch}
	cr := plane{pix: img.Cr[off:], stride: img.CStride, w: cw, h: ch}

	bw := bitWriter{buf: dst}
	var blk [64]float32
	var predY, predCb, predCr int32
	for my := 0; my < (h+15)/16; my++ {
		for mx := 0; mx < (w+15)/16; mx++ {
			for i := range 4 {
				y.load(&blk, 16*mx+8*(i&1), 16*my+8*(i>>1))
				predY = e.block(&bw, &blk, &e.qLuma, e.dcLuma, e.acLuma, predY)
			}
			cb.load(&blk, 8*mx, 8*my)
			predCb = e.block(&bw, &blk, &e.qChroma, e.dcChroma, e.acChroma, predCb)
			cr.load(&blk, 8*mx, 8*my)
			predCr = e.block(&bw, &blk, &e.qChroma, e.dcChroma, e.acChroma, predCr)
		}
	}
	dst = bw.finish()
	return append(dst, 0xFF, 0xD9), nil // EOI
}

// plane is one component's samples.
type plane struct {
	pix    []uint8
	stride int
	w, h   int
}

// load fills blk with the 8x8 samples at (x0, y0), level-shifted by 128;
// past the right and bottom edges the last column and row repeat, as
// image/jpeg and libjpeg pad.
func (p plane) load(blk *[64]float32, x0, y0 int) {
	for j := range 8 {
		row := p.pix[min(y0+j, p.h-1)*p.stride:]
		out := blk[8*j : 8*j+8 : 8*j+8]
		if x0+8 <= p.w {
			src := row[x0 : x0+8 : x0+8]
			for i := range 8 {
				out[i] = float32(src[i]) - 128
			}
			continue
		}
		for i := range 8 {
			out[i] = float32(row[min(x0+i, p.w-1)]) - 128
		}
	}
}

// encoder holds the tables for one quality.
type encoder struct {
	quantLuma, quantChroma [64]uint8   // as written in DQT, zig-zag order
	qLuma, qChroma         [64]float32 // natural order: 1 / (quantizer x AAN output scale)
	dcLuma, acLuma         *huffmanCode
	dcChroma, acChroma     *huffmanCode
}

// aanScale[k] is the AAN FDCT's output scale for frequency k: cos(k pi/16) x sqrt 2, 1 for k = 0.
func aanScale(k int) float64 {
	if k == 0 {
		return 1
	}
	return math.Cos(float64(k)*math.Pi/16) * math.Sqrt2
}

func newEncoder(quality int) *encoder {
	quality = min(100, max(1, quality))
	scale := 200 - 2*quality
	if quality < 50 {
		scale = 5000 / quality
	}
	e := &encoder{dcLuma: &dcLumaCode, acLuma: &acLumaCode, dcChroma: &dcChromaCode, acChroma: &acChromaCode}
	for zz, n := range jpegtables.Unzig {
		ql := min(255, max(1, (int(jpegtables.QuantLuma[n])*scale+50)/100))
		qc := min(255, max(1, (int(jpegtables.QuantChroma[n])*scale+50)/100))
		e.quantLuma[zz], e.quantChroma[zz] = uint8(ql), uint8(qc)
		s := 8 * aanScale(int(n/8)) * aanScale(int(n%8))
		e.qLuma[n] = float32(1 / (float64(ql) * s))
		e.qChroma[n] = float32(1 / (float64(qc) * s))
	}
	return e
}

// header appends SOI, DQT, SOF0, DHT and SOS.
func (e *encoder) header(dst []byte, w, h int) []byte {
	dst = append(dst, 0xFF, 0xD8)
	dst = append(dst, 0xFF, 0xDB, 0, 2+2*65, 0)
	dst = append(dst, e.quantLuma[:]...)
	dst = append(dst, 1)
	dst = append(dst, e.quantChroma[:]...)
	dst = append(dst, 0xFF, 0xC0, 0, 17, 8, byte(h>>8), byte(h), byte(w>>8), byte(w), 3,
		1, 0x22, 0, // Y: 2x2, table 0
		2, 0x11, 1, // Cb
		3, 0x11, 1) // Cr
	specs := [4]struct {
		class byte
		s     huffmanSpec
	}{{0x00, dcLumaSpec}, {0x10, acLumaSpec}, {0x01, dcChromaSpec}, {0x11, acChromaSpec}}
	n := 2
	for _, t := range specs {
		n += 17 + len(t.s.values)
	}
	dst = append(dst, 0xFF, 0xC4, byte(n>>8), byte(n))
	for _, t := range specs {
		dst = append(dst, t.class)
		dst = append(dst, t.s.counts[:]...)
		dst = append(dst, t.s.values...)
	}
	return append(dst, 0xFF, 0xDA, 0, 12, 3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 63, 0)
}

// block transforms, quantizes and entropy-codes one block; it returns the
// block's DC for the next block's prediction.
func (e *encoder) block(bw *bitWriter, blk *[64]float32, q *[64]float32, dc, ac *huffmanCode, pred int32) int32 {
	fdct(blk)
	dcv := round(blk[0] * q[0])
	s, bits := category(dcv - pred)
	bw.put(uint32(dc.code[s])<<s|bits, uint(dc.size[s])+s)
	run := uint(0)
	for zz := 1; zz < 64; zz++ {
		n := jpegtables.Unzig[zz]
		v := round(blk[n] * q[n])
		if v == 0 {
			run++
			continue
		}
		for run > 15 {
			bw.put(uint32(ac.code[0xF0]), uint(ac.size[0xF0]))
			run -= 16
		}
		s, bits := category(v)
		sym := uint8(run<<4 | s)
		bw.put(uint32(ac.code[sym])<<s|bits, uint(ac.size[sym])+s)
		run = 0
	}
	if run > 0 {
		bw.put(uint32(ac.code[0x00]), uint(ac.size[0x00])) // EOB
	}
	return dcv
}

// round rounds to the nearest integer (half to even) without a branch:
// adding 1.5 x 2^23 leaves no fraction bits in a float32 below 2^22 in
// magnitude, which every quantized coefficient is.
func round(v float32) int32 {
	const magic = 0x1.8p23
	return int32(v+magic) - int32(magic)
}

// category is the magnitude category of v (its bit length) and the bits
// that code it: v itself, or v-1 for a negative v (T.81 F.1.2.1).
func category(v int32) (uint, uint32) {
	a := v
	if a < 0 {
		a = -a
		v--
	}
	s := uint(bits.Len32(uint32(a)))
	return s, uint32(v) & (1<<s - 1)
}

// fdct is the AAN forward DCT (Arai, Agui and Nakajima, as in libjpeg's
// jfdctflt.c) in place, rows then columns; its outputs are the DCT
// coefficients times 8 x aanScale(u) x aanScale(v), which the quantizer
// table of newEncoder divides out.
func fdct(b *[64]float32) {
	for i := range 8 {
		fdct8(b[8*i:8*i+8:8*i+8], 1)
	}
	for i := range 8 {
		fdct8(b[i:], 8)
	}
}

// fdct8 transforms the 8 values d[0], d[s], ... d[7s].
func fdct8(d []float32, s int) {
	_ = d[7*s]
	tmp0, tmp7 := d[0]+d[7*s], d[0]-d[7*s]
	tmp1, tmp6 := d[s]+d[6*s], d[s]-d[6*s]
	tmp2, tmp5 := d[2*s]+d[5*s], d[2*s]-d[5*s]
	tmp3, tmp4 := d[3*s]+d[4*s], d[3*s]-d[4*s]

	// Even part.
	tmp10, tmp13 := tmp0+tmp3, tmp0-tmp3
	tmp11, tmp12 := tmp1+tmp2, tmp1-tmp2
	d[0] = tmp10 + tmp11
	d[4*s] = tmp10 - tmp11
	z1 := (tmp12 + tmp13) * 0.707106781
	d[2*s] = tmp13 + z1
	d[6*s] = tmp13 - z1

	// Odd part.
	tmp10 = tmp4 + tmp5
	tmp11 = tmp5 + tmp6
	tmp12 = tmp6 + tmp7
	z5 := (tmp10 - tmp12) * 0.382683433
	z2 := 0.541196100*tmp10 + z5
	z4 := 1.306562965*tmp12 + z5
	z3 := tmp11 * 0.707106781
	z11, z13 := tmp7+z3, tmp7-z3
	d[5*s] = z13 + z2
	d[3*s] = z13 - z2
	d[s] = z11 + z4
	d[7*s] = z11 - z4
}

// bitWriter packs codes MSB first into buf, stuffing a 0 after every 0xFF.
type bitWriter struct {
	buf  []byte
	acc  uint64
	bits uint
}

func (w *bitWriter) put(code uint32, n uint) {
	w.acc = w.acc<<n | uint64(code)
	w.bits += n
	if w.bits >= 32 {
		w.flush()
	}
}

// flush writes the whole bytes of the accumulator.
func (w *bitWriter) flush() {
	for w.bits >= 8 {
		c := byte(w.acc >> (w.bits - 8))
		w.buf = append(w.buf, c)
		if c == 0xFF {
			w.buf = append(w.buf, 0)
		}
		w.bits -= 8
	}
}

// finish pads the last byte with 1 bits (T.81 F.1.2.3) and returns buf.
func (w *bitWriter) finish() []byte {
	if r := w.bits % 8; r != 0 {
		w.put(1<<(8-r)-1, 8-r)
	}
	w.flush()
	return w.buf
}
