package transform

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"image"
	"io"
	"math"
	"sync"
)

// Colour profiles. A photo from an iPhone (Display P3) or a camera set to
// Adobe RGB holds numbers meant for a wider gamut than sRGB; shown as sRGB,
// as our previews (which carry no profile) are, it looks dull. Matrix/TRC
// RGB profiles (every camera and phone profile we know of) are converted
// here: each channel through its tone curve to linear light, the 3x3 matrix
// to the profile connection space (XYZ, D50), the inverse of sRGB's matrix,
// and sRGB's curve, i.e. relative colorimetric with clipping, which is what
// a matrix/TRC profile offers. LUT-based profiles, CMYK and grey profiles
// are left alone. The conversion runs on the preview, after resizing, so it
// costs a few microseconds; resizing in the profile's encoding rather than
// sRGB's makes no visible difference at these scales.

// maxICC bounds the profile bytes collected from a file.
const maxICC = 1 << 20

// srgbD50 is sRGB's RGB->XYZ matrix adapted to D50 (Bradford), as in the
// sRGB ICC profiles: columns are the rXYZ, gXYZ, bXYZ tags.
var srgbD50 = [3][3]float64{
	{0.4360747, 0.3850649, 0.1430804},
	{0.2225045, 0.7168786, 0.0606169},
	{0.0139322, 0.0971045, 0.7141733},
}

// iccTransform converts 8-bit samples of one profile to sRGB.
type iccTransform struct {
	lin [3][256]float32 // per channel: sample -> linear light
	m   [3][3]float32   // linear profile RGB -> linear sRGB
	enc *[1 << 16]uint8 // linear sRGB (quantized) -> 8-bit sRGB: srgbEncodeTable
}

// srgbEncodeTable is sRGB's curve from linear light, quantized to 16 bits,
// to 8-bit samples: the same for every transform, so made once, on the
// first image that needs a colour conversion (64K math.Pow calls).
var srgbEncodeTable = sync.OnceValue(func() *[1 << 16]uint8 {
	var t [1 << 16]uint8
	for i := range t {
		t[i] = unit8(255 * srgbEncode(float64(i)/float64(len(t)-1)))
	}
	return &t
})

// newICCTransform parses a profile. It returns nil (and no error) when the
// profile is sRGB already, within rounding, so the common case costs
// nothing; an error when it is not a matrix/TRC RGB profile.
func newICCTransform(p []byte) (*iccTransform, error) {
	if len(p) < 132 || string(p[16:20]) != "RGB " || string(p[20:24]) != "XYZ " {
		return nil, errors.New("icc: not an RGB profile with an XYZ connection space")
	}
	n := int(binary.BigEndian.Uint32(p[128:132]))
	if n > 1000 || 132+12*n > len(p) {
		return nil, errors.New("icc: bad tag table")
	}
	tags := map[string][]byte{}
	for i := range n {
		e := p[132+12*i:]
		off, size := int(binary.BigEndian.Uint32(e[4:8])), int(binary.BigEndian.Uint32(e[8:12]))
		if off < 0 || size < 0 || off > len(p) || size > len(p)-off {
			return nil, errors.New("icc: tag outside the profile")
		}
		tags[string(e[:4])] = p[off : off+size]
	}
	var x iccTransform
	var prof [3][3]float64
	for c, names := range [3][2]string{{"rXYZ", "rTRC"}, {"gXYZ", "gTRC"}, {"bXYZ", "bTRC"}} {
		xyz := tags[names[0]]
		if len(xyz) < 20 || string(xyz[:4]) != "XYZ " {
			return nil, errors.New("icc: no colorant matrix (not a matrix/TRC profile)")
		}
		for r := range 3 {
			prof[r][c] = s15f16(xyz[8+4*r:])
		}
		curve, err := iccCurve(tags[names[1]])
		if err != nil {
			return nil, err
		}
		for v := range 256 {
			x.lin[c][v] = float32(curve(float64(v) / 255))
		}
	}
	if isSRGB(prof, &x) {
		return nil, nil
	}
	inv, ok := invert3(srgbD50)
	if !ok {
		return nil, errors.New("icc: singular sRGB matrix")
	}
	for r := range 3 {
		for c := range 3 {
			var s float64
			for k := range 3 {
				s += inv[r][k] * prof[k][c]
			}
			x.m[r][c] = float32(s)
		}
	}
	x.enc = srgbEncodeTable()
	return &x, nil
}

func s15f16(b []byte) float64 { return float64(int32(binary.BigEndian.Uint32(b))) / 65536 }

// iccCurve reads a curv or para tag into a function on 0..1.
func iccCurve(t []byte) (func(float64) float64, error) {
	if len(t) < 12 {
		return nil, errors.New("icc: missing tone curve")
	}
	switch string(t[:4]) {
	case "curv":
		n := int(binary.BigEndian.Uint32(t[8:12]))
		switch {
		case n == 0:
			return func(v float64) float64 { return v }, nil
		case n == 1 && len(t) >= 14:
			g := float64(binary.BigEndian.Uint16(t[12:14])) / 256
			return func(v float64) float64 { return math.Pow(v, g) }, nil
		case n >= 2 && len(t) >= 12+2*n:
			tab := make([]float64, n)
			for i := range tab {
				tab[i] = float64(binary.BigEndian.Uint16(t[12+2*i:])) / 65535
			}
			return func(v float64) float64 {
				f := v * float64(n-1)
				i := min(int(f), n-2)
				return tab[i] + (f-float64(i))*(tab[i+1]-tab[i])
			}, nil
		}
	case "para":
		fn := binary.BigEndian.Uint16(t[8:10])
		counts := [5]int{1, 3, 4, 5, 7}
		if fn > 4 || len(t) < 12+4*counts[fn] {
			break
		}
		var q [7]float64
		for i := range counts[fn] {
			q[i] = s15f16(t[12+4*i:])
		}
		g, a, b, c, d, e, f := q[0], q[1], q[2], q[3], q[4], q[5], q[6]
		pow := func(v float64) float64 { return math.Pow(max(v, 0), g) }
		switch fn {
		case 0:
			return func(v float64) float64 { return pow(v) }, nil
		case 1:
			return func(v float64) float64 {
				if a != 0 && v >= -b/a {
					return pow(a*v + b)
				}
				return 0
			}, nil
		case 2:
			return func(v float64) float64 {
				if a != 0 && v >= -b/a {
					return pow(a*v+b) + c
				}
				return c
			}, nil
		case 3:
			return func(v float64) float64 {
				if v >= d {
					return pow(a*v + b)
				}
				return c * v
			}, nil
		case 4:
			return func(v float64) float64 {
				if v >= d {
					return pow(a*v+b) + e
				}
				return c*v + f
			}, nil
		}
	}
	return nil, errors.New("icc: unsupported tone curve")
}

func srgbDecode(v float64) float64 {
	if v <= 0.04045 {
		return v / 12.92
	}
	return math.Pow((v+0.055)/1.055, 2.4)
}

func srgbEncode(v float64) float64 {
	if v <= 0.0031308 {
		return 12.92 * v
	}
	return 1.055*math.Pow(v, 1/2.4) - 0.055
}

// isSRGB: the matrix within 0.002 of sRGB's and every curve within half a
// level of sRGB's.
func isSRGB(prof [3][3]float64, x *iccTransform) bool {
	for r := range 3 {
		for c := range 3 {
			if math.Abs(prof[r][c]-srgbD50[r][c]) > 0.002 {
				return false
			}
		}
	}
	for c := range 3 {
		for v := range 256 {
			if math.Abs(float64(x.lin[c][v])-srgbDecode(float64(v)/255))*255 > 0.5 {
				return false
			}
		}
	}
	return true
}

func invert3(m [3][3]float64) ([3][3]float64, bool) {
	det := m[0][0]*(m[1][1]*m[2][2]-m[1][2]*m[2][1]) -
		m[0][1]*(m[1][0]*m[2][2]-m[1][2]*m[2][0]) +
		m[0][2]*(m[1][0]*m[2][1]-m[1][1]*m[2][0])
	if math.Abs(det) < 1e-12 {
		return m, false
	}
	var r [3][3]float64
	for i := range 3 {
		for j := range 3 {
			a, b := (j+1)%3, (j+2)%3
			c, d := (i+1)%3, (i+2)%3
			r[i][j] = (m[a][c]*m[b][d] - m[a][d]*m[b][c]) / det
		}
	}
	return r, true
}

// apply converts img's pixels in place (alpha untouched).
func (x *iccTransform) apply(img *image.NRGBA) {
	top := float32(len(x.enc) - 1)
	for y := 0; y < img.Rect.Dy(); y++ {
		row := img.Pix[y*img.Stride : y*img.Stride+4*img.Rect.Dx()]
		for i := 0; i < len(row); i += 4 {
			p := row[i : i+3 : i+3]
			r, g, b := x.lin[0][p[0]], x.lin[1][p[1]], x.lin[2][p[2]]
			for c := range 3 {
				v := x.m[c][0]*r + x.m[c][1]*g + x.m[c][2]*b
				v = min(max(v, 0), 1)
				p[c] = x.enc[int(v*top+0.5)]
			}
		}
	}
}

// jpegICC collects the ICC profile from a JPEG's APP2 "ICC_PROFILE" chunks
// (a profile may be split across several, numbered from 1), reading the
// marker segments up to the first scan. It returns nil when there is none
// or the chunks do not add up.
func jpegICC(r io.Reader) []byte {
	var b [4]byte
	if _, err := io.ReadFull(r, b[:2]); err != nil || b[0] != 0xFF || b[1] != 0xD8 {
		return nil
	}
	chunks := map[byte][]byte{}
	count, total := 0, 0
	for scanned := 0; scanned < maxHeaderScan; {
		if _, err := io.ReadFull(r, b[:2]); err != nil || b[0] != 0xFF {
			break
		}
		marker := b[1]
		for marker == 0xFF {
			if _, err := io.ReadFull(r, b[1:2]); err != nil {
				return nil
			}
			marker = b[1]
		}
		if marker == 0xDA || marker == 0xD9 {
			break
		}
		if marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7) {
			continue
		}
		if _, err := io.ReadFull(r, b[2:4]); err != nil {
			return nil
		}
		n := int(binary.BigEndian.Uint16(b[2:4])) - 2
		if n < 0 {
			return nil
		}
		scanned += n + 4
		const sig = "ICC_PROFILE\x00"
		if marker != 0xE2 || n < len(sig)+2 || total+n > maxICC {
			if _, err := io.CopyN(io.Discard, r, int64(n)); err != nil {
				return nil
			}
			continue
		}
		seg := make([]byte, n)
		if _, err := io.ReadFull(r, seg); err != nil {
			return nil
		}
		if !bytes.HasPrefix(seg, []byte(sig)) {
			continue
		}
		seq, cnt := seg[len(sig)], int(seg[len(sig)+1])
		chunks[seq] = seg[len(sig)+2:]
		count, total = cnt, total+n
	}
	if count == 0 || len(chunks) != count {
		return nil
	}
	var p []byte
	for i := 1; i <= count; i++ {
		c, ok := chunks[byte(i)]
		if !ok {
			return nil
		}
		p = append(p, c...)
	}
	return p
}

// pngColour reads a PNG's colour chunks before IDAT in one pass: the
// profile of its iCCP chunk, or nil; and the gamma of its gAMA chunk
// (pnggamma.go), 0 when it has none or has an sRGB or iCCP chunk, which
// take precedence.
func pngColour(r io.Reader) (profile []byte, gamma float64) {
	var sig [8]byte
	if _, err := io.ReadFull(r, sig[:]); err != nil {
		return nil, 0
	}
	overridden := false // an sRGB or iCCP chunk: gAMA does not apply
	result := func() ([]byte, float64) {
		if overridden {
			return profile, 0
		}
		return profile, gamma
	}
	for scanned := 0; scanned < maxHeaderScan; {
		var h [8]byte
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return result()
		}
		n := int(binary.BigEndian.Uint32(h[:4]))
		typ := string(h[4:8])
		if typ == "IDAT" || n < 0 || n > maxHeaderScan {
			return result()
		}
		scanned += n + 12
		var body []byte
		switch {
		case typ == "sRGB":
			overridden = true
		case typ == "iCCP" && n <= maxICC, typ == "gAMA" && n == 4:
			body = make([]byte, n)
			if _, err := io.ReadFull(r, body); err != nil {
				return result()
			}
			n = 0 // the body is read; its CRC follows
		}
		if _, err := io.CopyN(io.Discard, r, int64(n)+4); err != nil {
			return result()
		}
		switch typ {
		case "gAMA":
			if body != nil {
				gamma = float64(binary.BigEndian.Uint32(body)) / 100000
			}
		case "iCCP":
			overridden = true
			if body != nil && profile == nil {
				profile = inflateICCP(body)
			}
		}
	}
	return result()
}

// inflateICCP is the profile in an iCCP chunk's body (name, NUL,
// compression method 0, zlib data), or nil.
func inflateICCP(body []byte) []byte {
	name := bytes.IndexByte(body, 0)
	if name < 0 || name+2 > len(body) || body[name+1] != 0 {
		return nil
	}
	zr, err := zlib.NewReader(bytes.NewReader(body[name+2:]))
	if err != nil {
		return nil
	}
	p, err := io.ReadAll(io.LimitReader(zr, maxICC))
	if err != nil {
		return nil
	}
	return p
}

// webpICC returns the profile of a WebP's ICCP chunk (extended format), or
// nil.
func webpICC(data []byte) []byte {
	if len(data) < 12 || string(data[:4]) != "RIFF" || string(data[8:12]) != "WEBP" {
		return nil
	}
	for b := data[12:]; len(b) >= 8; {
		n := int(binary.LittleEndian.Uint32(b[4:8]))
		if n < 0 || n > len(b)-8 {
			return nil
		}
		if string(b[:4]) == "ICCP" {
			return b[8 : 8+n]
		}
		next := 8 + n + n%2 // chunks are padded to an even size
		if next > len(b) {
			return nil
		}
		b = b[next:]
	}
	return nil
}
