package jpegenc

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/xmppmedia/mediaserver/transform/internal/testimage"
)

// ycbcr420 is a generated photo as 4:2:0 planes (color.RGBToYCbCr, chroma
// from the top-left pixel of each pair: nothing of this package's).
func ycbcr420(w, h int, seed uint64) *image.YCbCr {
	src := testimage.Photo(w, h, seed)
	dst := image.NewYCbCr(src.Rect, image.YCbCrSubsampleRatio420)
	for y := range h {
		for x := range w {
			p := src.Pix[src.PixOffset(x, y):]
			yy, cb, cr := color.RGBToYCbCr(p[0], p[1], p[2])
			dst.Y[dst.YOffset(x, y)] = yy
			if x%2 == 0 && y%2 == 0 {
				dst.Cb[dst.COffset(x, y)], dst.Cr[dst.COffset(x, y)] = cb, cr
			}
		}
	}
	return dst
}

// lumaPSNR compares the Y planes of two same-sized images.
func lumaPSNR(t *testing.T, a, b *image.YCbCr) float64 {
	t.Helper()
	if a.Rect.Size() != b.Rect.Size() {
		t.Fatalf("sizes %v and %v", a.Rect.Size(), b.Rect.Size())
	}
	var se float64
	for y := range a.Rect.Dy() {
		for x := range a.Rect.Dx() {
			d := float64(a.Y[a.YOffset(x, y)]) - float64(b.Y[b.YOffset(x, y)])
			se += d * d
		}
	}
	mse := se / float64(a.Rect.Dx()*a.Rect.Dy())
	if mse == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/mse)
}

func decodeYCbCr(t *testing.T, data []byte) *image.YCbCr {
	t.Helper()
	img, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("image/jpeg cannot read it: %v", err)
	}
	y, ok := img.(*image.YCbCr)
	if !ok {
		t.Fatalf("decoded %T", img)
	}
	return y
}

// TestMatchesImageJPEG: at every size (odd, one pixel, not a multiple of
// the 16-pixel MCU) and quality, our file decodes (with image/jpeg) to
// luma as close to the input as image/jpeg's own file of the same planes,
// and is about as large.
func TestMatchesImageJPEG(t *testing.T) {
	for _, size := range [][2]int{{1, 1}, {7, 9}, {17, 33}, {67, 100}, {320, 480}} {
		src := ycbcr420(size[0], size[1], uint64(size[0]))
		for _, q := range []int{20, 50, 85, 95, 100} {
			t.Run(fmt.Sprintf("%dx%d q%d", size[0], size[1], q), func(t *testing.T) {
				ours, err := Encode(nil, src, Options{Quality: q})
				if err != nil {
					t.Fatal(err)
				}
				var theirs bytes.Buffer
				if err := jpeg.Encode(&theirs, src, &jpeg.Options{Quality: q}); err != nil {
					t.Fatal(err)
				}
				po := lumaPSNR(t, src, decodeYCbCr(t, ours))
				pt := lumaPSNR(t, src, decodeYCbCr(t, theirs.Bytes()))
				if po < pt-0.1 {
					t.Errorf("luma %.2f dB, image/jpeg %.2f dB", po, pt)
				}
				if n, m := len(ours), theirs.Len(); math.Abs(float64(n-m)) > 0.03*float64(m)+16 {
					t.Errorf("%d bytes, image/jpeg %d", n, m)
				}
			})
		}
	}
}

// segments returns the marker segments of a JPEG before its scan data,
// by marker.
func segments(t *testing.T, data []byte) map[byte][]byte {
	t.Helper()
	out := map[byte][]byte{}
	for i := 2; i+4 <= len(data) && data[i] == 0xFF; {
		m, n := data[i+1], int(data[i+2])<<8|int(data[i+3])
		out[m] = append(out[m], data[i+4:i+2+n]...)
		if m == 0xDA {
			break
		}
		i += 2 + n
	}
	return out
}

// TestTablesAreImageJPEGs: quantization tables (scaled by quality) and
// Huffman tables byte for byte as image/jpeg writes them, so readers that
// estimate quality from DQT (ours, jpegscale.Quality) see the same.
func TestTablesAreImageJPEGs(t *testing.T) {
	src := ycbcr420(33, 17, 1)
	for _, q := range []int{1, 20, 50, 85, 100} {
		ours, err := Encode(nil, src, Options{Quality: q})
		if err != nil {
			t.Fatal(err)
		}
		var theirs bytes.Buffer
		jpeg.Encode(&theirs, src, &jpeg.Options{Quality: q})
		so, st := segments(t, ours), segments(t, theirs.Bytes())
		for _, m := range []byte{0xDB, 0xC0, 0xC4, 0xDA} {
			if !bytes.Equal(so[m], st[m]) {
				t.Errorf("q%d: segment %#x differs:\n ours   %x\n theirs %x", q, m, so[m], st[m])
			}
		}
	}
}

// TestLibjpegReadsIt: libjpeg-turbo's djpeg, an independent decoder,
// reads our files without a warning, and its luma matches image/jpeg's
// decode of the same file (two IDCTs: within rounding).
func TestLibjpegReadsIt(t *testing.T) {
	djpeg, err := exec.LookPath("djpeg")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("djpeg (Debian libjpeg-turbo-progs) is not installed; scripts/test installs it")
		}
		t.Skip("djpeg not installed (Debian libjpeg-turbo-progs)")
	}
	dir := t.TempDir()
	for _, size := range [][2]int{{1, 1}, {17, 33}, {67, 100}, {320, 480}} {
		src := ycbcr420(size[0], size[1], 3)
		data, err := Encode(nil, src, Options{Quality: 85})
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "in.jpg")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(djpeg, "-grayscale", "-pnm", path)
		var out, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &stderr
		if err := cmd.Run(); err != nil || stderr.Len() > 0 {
			t.Fatalf("%v: djpeg: %v %s", size, err, stderr.String())
		}
		var magic string
		var w, h, maxv int
		hdr := out.Bytes()
		n, err := fmt.Sscan(string(hdr), &magic, &w, &h, &maxv)
		if n != 4 || err != nil || magic != "P5" || w != size[0] || h != size[1] {
			t.Fatalf("%v: djpeg wrote %q...", size, hdr[:min(20, len(hdr))])
		}
		pix := hdr[len(hdr)-w*h:]
		ref := decodeYCbCr(t, data)
		var sum, worst float64
		for y := range h {
			for x := range w {
				d := math.Abs(float64(pix[y*w+x]) - float64(ref.Y[ref.YOffset(x, y)]))
				sum += d
				worst = max(worst, d)
			}
		}
		if mean := sum / float64(w*h); mean > 0.5 || worst > 3 {
			t.Errorf("%v: djpeg and image/jpeg differ by %.2f on average, %v at most", size, mean, worst)
		}
	}
}

// BenchmarkEncode: a 67x100 derived preview (the 100x100 box of a 2:3
// picture), ours and image/jpeg's, with CPU time per encode and the ratio.
//
//	go test ./transform/jpegenc -run '^$' -bench Encode -benchtime 3000x -cpu 1
func BenchmarkEncode(b *testing.B) {
	src := ycbcr420(67, 100, 5)
	var ours, theirs time.Duration
	b.Run("jpegenc", func(b *testing.B) {
		before := cpuTime()
		var buf []byte
		for range b.N {
			var err error
			if buf, err = Encode(buf[:0], src, Options{Quality: 85}); err != nil {
				b.Fatal(err)
			}
		}
		ours = (cpuTime() - before) / time.Duration(b.N)
		b.ReportMetric(float64(ours.Nanoseconds())/1e3, "cpu-µs/op")
	})
	b.Run("image-jpeg", func(b *testing.B) {
		before := cpuTime()
		var buf bytes.Buffer
		for range b.N {
			buf.Reset()
			if err := jpeg.Encode(&buf, src, &jpeg.Options{Quality: 85}); err != nil {
				b.Fatal(err)
			}
		}
		theirs = (cpuTime() - before) / time.Duration(b.N)
		b.ReportMetric(float64(theirs.Nanoseconds())/1e3, "cpu-µs/op")
		if ours > 0 {
			b.ReportMetric(float64(theirs)/float64(ours), "x-jpegenc")
		}
	})
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
