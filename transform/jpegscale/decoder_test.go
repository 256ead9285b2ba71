package jpegscale

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/iotest"
	"time"

	"github.com/xmppmedia/mediaserver/transform/internal/testimage"
)

// planes returns the sample planes of a decoded image with their valid
// sizes in samples: Y only for Gray, Y, Cb, Cr for YCbCr.
type plane struct {
	pix    []uint8
	stride int
	w, h   int
}

func planesOf(t *testing.T, img image.Image) []plane {
	t.Helper()
	switch m := img.(type) {
	case *image.Gray:
		return []plane{{m.Pix, m.Stride, m.Rect.Dx(), m.Rect.Dy()}}
	case *image.YCbCr:
		cw, ch := chromaSize(m)
		return []plane{{m.Y, m.YStride, m.Rect.Dx(), m.Rect.Dy()}, {m.Cb, m.CStride, cw, ch}, {m.Cr, m.CStride, cw, ch}}
	}
	t.Fatalf("unexpected image type %T", img)
	return nil
}

func chromaSize(m *image.YCbCr) (int, int) {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio422:
		return (w + 1) / 2, h
	case image.YCbCrSubsampleRatio420:
		return (w + 1) / 2, (h + 1) / 2
	case image.YCbCrSubsampleRatio440:
		return w, (h + 1) / 2
	case image.YCbCrSubsampleRatio411:
		return (w + 3) / 4, h
	case image.YCbCrSubsampleRatio410:
		return (w + 3) / 4, (h + 1) / 2
	}
	return w, h
}

// compare checks the scaled planes against image/jpeg's full decode
// averaged over shrink x shrink groups of samples: the mean absolute error
// in every plane and the worst single sample.
func compare(t *testing.T, data []byte, shrink int, maxMean float64, maxAbs int) {
	t.Helper()
	full, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("image/jpeg: %v", err)
	}
	d, err := NewDecoder(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("NewDecoder: %v", err)
	}
	got, err := d.Decode(shrink)
	if err != nil {
		t.Fatalf("Decode(%d): %v", shrink, err)
	}
	fb := full.Bounds()
	wantW, wantH := (fb.Dx()+shrink-1)/shrink, (fb.Dy()+shrink-1)/shrink
	if b := got.Bounds(); b.Dx() != wantW || b.Dy() != wantH {
		t.Fatalf("size %v, want %dx%d", b.Size(), wantW, wantH)
	}
	fp, gp := planesOf(t, full), planesOf(t, got)
	if len(fp) != len(gp) {
		t.Fatalf("%d planes, image/jpeg has %d", len(gp), len(fp))
	}
	if fy, ok := full.(*image.YCbCr); ok && fy.SubsampleRatio != got.(*image.YCbCr).SubsampleRatio {
		t.Fatalf("subsampling %v, image/jpeg %v", got.(*image.YCbCr).SubsampleRatio, fy.SubsampleRatio)
	}
	for pi := range fp {
		f, g := fp[pi], gp[pi]
		sum, worst, n := 0.0, 0, 0
		for y := 0; y < g.h; y++ {
			for x := 0; x < g.w; x++ {
				// average the full-resolution samples this one stands for
				acc, cnt := 0, 0
				for yy := y * shrink; yy < min((y+1)*shrink, f.h); yy++ {
					for xx := x * shrink; xx < min((x+1)*shrink, f.w); xx++ {
						acc += int(f.pix[yy*f.stride+xx])
						cnt++
					}
				}
				if cnt < shrink*shrink {
					continue // an edge group: the block also covers padding
				}
				diff := int(g.pix[y*g.stride+x]) - (acc+cnt/2)/cnt
				if diff < 0 {
					diff = -diff
				}
				sum += float64(diff)
				worst = max(worst, diff)
				n++
			}
		}
		if n == 0 {
			continue // smaller than one group: only the size is checked
		}
		mean := sum / float64(n)
		if testing.Verbose() {
			t.Logf("plane %d at 1/%d: mean %.3f worst %d", pi, shrink, mean, worst)
		}
		if mean > maxMean || worst > maxAbs {
			t.Errorf("plane %d at 1/%d: mean abs error %.3f (max %.2f), worst %d (max %d)", pi, shrink, mean, maxMean, worst, maxAbs)
		}
	}
}

func fixtures(t *testing.T) map[string][]byte {
	t.Helper()
	names, err := filepath.Glob("testdata/*.jpg")
	if err != nil || len(names) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	out := map[string][]byte{}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(n)] = b
	}
	return out
}

// TestMatchesImageJPEG decodes files written by libjpeg (via vips: baseline,
// progressive, 4:2:0, 4:4:4, grey, restart intervals, optimized Huffman
// tables) and by Go's encoder at odd sizes, and compares every plane with
// image/jpeg's full decode averaged down to the same scale.
func TestMatchesImageJPEG(t *testing.T) {
	files := fixtures(t)
	for _, size := range [][2]int{{1, 1}, {7, 9}, {16, 16}, {17, 33}, {203, 151}, {320, 97}} {
		img := testimage.Photo(size[0], size[1], uint64(size[0]))
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
			t.Fatal(err)
		}
		files[fmt.Sprintf("go-%dx%d", size[0], size[1])] = bytes.Clone(buf.Bytes())
		g := image.NewGray(img.Rect)
		for i := range g.Pix {
			g.Pix[i] = img.Pix[4*i+1]
		}
		buf.Reset()
		jpeg.Encode(&buf, g, &jpeg.Options{Quality: 90})
		files[fmt.Sprintf("go-gray-%dx%d", size[0], size[1])] = bytes.Clone(buf.Bytes())
	}
	delete(files, "progressive-restart.jpg") // image/jpeg cannot read it; see TestProgressiveRestart
	for name, data := range files {
		t.Run(name, func(t *testing.T) {
			// At 1/8 the DC value is the exact block mean; only rounding and
			// clamping of the full decode differ.
			compare(t, data, 8, 0.6, 12)
			// At 1/4 and 1/2 the reduced IDCT is a low-pass of the block,
			// not a box average: close, not equal, and on a few blocks of
			// pure texture (the tiny generated images) not even close.
			if full, _ := jpeg.DecodeConfig(bytes.NewReader(data)); full.Width < 64 {
				return
			}
			compare(t, data, 4, 3, 60)
			compare(t, data, 2, 4, 90)
		})
	}
}

func TestUnsupportedVariantsAreReportedBeforePixels(t *testing.T) {
	base, _ := os.ReadFile("testdata/baseline420.jpg")
	sof := bytes.Index(base, []byte{0xFF, 0xC0})
	patch := func(f func(b []byte)) []byte {
		b := append([]byte{}, base...)
		f(b)
		return b
	}
	tests := map[string][]byte{
		"arithmetic SOF9": patch(func(b []byte) { b[sof+1] = 0xC9 }),
		"lossless SOF3":   patch(func(b []byte) { b[sof+1] = 0xC3 }),
		"12-bit":          patch(func(b []byte) { b[sof+4] = 12 }),
		"DNL height 0":    patch(func(b []byte) { b[sof+5], b[sof+6] = 0, 0 }),
		"chroma 2x2":      patch(func(b []byte) { b[sof+14] = 0x22 }),
		"adobe RGB":       withSegment(base, []byte{0xFF, 0xEE, 0, 14, 'A', 'd', 'o', 'b', 'e', 0, 100, 0, 0, 0, 0, 0}),
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := NewDecoder(bytes.NewReader(data))
			if !errors.Is(err, ErrUnsupported) {
				t.Fatalf("got %v, want ErrUnsupported", err)
			}
		})
	}
}

func withSegment(jpg, seg []byte) []byte {
	return append(append(append([]byte{}, jpg[:2]...), seg...), jpg[2:]...)
}

func TestCorruptInputIsAnError(t *testing.T) {
	for name, data := range fixtures(t) {
		sos := bytes.LastIndex(data, []byte{0xFF, 0xDA})
		cases := map[string][]byte{
			"truncated header": data[:sos/2],
			"truncated scan":   data[:sos+(len(data)-sos)/2],
			"no data":          data[:2],
		}
		for cname, c := range cases {
			t.Run(name+"/"+cname, func(t *testing.T) {
				d, err := NewDecoder(bytes.NewReader(c))
				if err == nil {
					_, err = d.Decode(8)
				}
				var fe FormatError
				if !errors.As(err, &fe) {
					t.Fatalf("got %v, want a FormatError", err)
				}
			})
		}
	}
}

func TestSourceErrorIsKept(t *testing.T) {
	data, _ := os.ReadFile("testdata/baseline420.jpg")
	boom := errors.New("connection reset")
	d, err := NewDecoder(io.MultiReader(bytes.NewReader(data[:len(data)/2]), iotest.ErrReader(boom)))
	if err == nil {
		_, err = d.Decode(8)
	}
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want the source error", err)
	}
}

func TestIDCTTablePreservesMean(t *testing.T) {
	for _, n := range []int{2, 4} {
		tab := idctTable(n)
		if got := float64(tab[0][0] * tab[0][0] * 8); math.Abs(got-1) > 1e-6 {
			t.Errorf("n=%d: DC gain %v, want 1/8 per unit", n, got/8)
		}
	}
}

// TestFlatColour: a flat image must decode to the same flat colour at every
// scale (no ringing from the reduced transform), at the scaled size.
func TestFlatColour(t *testing.T) {
	var buf bytes.Buffer
	src := &image.RGBA{Pix: bytes.Repeat([]byte{200, 60, 30, 255}, 40*24), Stride: 160, Rect: image.Rect(0, 0, 40, 24)}
	if err := jpeg.Encode(&buf, src, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	ref, err := jpeg.Decode(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	rr, rg, rb, _ := ref.At(20, 12).RGBA()
	for _, s := range []int{2, 4, 8} {
		d, err := NewDecoder(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		got, err := d.Decode(s)
		if err != nil {
			t.Fatal(err)
		}
		b := got.Bounds()
		if want := image.Pt((40+s-1)/s, (24+s-1)/s); b.Size() != want {
			t.Fatalf("1/%d: decoded %v, want %v", s, b.Size(), want)
		}
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				r, g, bl, _ := got.At(x, y).RGBA()
				if absDiff(r, rr) > 3*257 || absDiff(g, rg) > 3*257 || absDiff(bl, rb) > 3*257 {
					t.Fatalf("1/%d at (%d,%d): %d,%d,%d want %d,%d,%d", s, x, y, r>>8, g>>8, bl>>8, rr>>8, rg>>8, rb>>8)
				}
			}
		}
	}
}

func absDiff(a, b uint32) uint32 {
	if a > b {
		return a - b
	}
	return b - a
}

// TestProgressiveRestart: libjpeg writes the same coefficients with and
// without restart markers, so the decodes must be identical at every scale. (Go's
// image/jpeg rejects this file, so it is compared with its twin instead.)
func TestProgressiveRestart(t *testing.T) {
	decode := func(name string, shrink int) *image.YCbCr {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		d, err := NewDecoder(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		img, err := d.Decode(shrink)
		if err != nil {
			t.Fatal(err)
		}
		return img.(*image.YCbCr)
	}
	for _, s := range []int{2, 4, 8} {
		a, b := decode("testdata/progressive-restart.jpg", s), decode("testdata/progressive420.jpg", s)
		if !bytes.Equal(a.Y, b.Y) || !bytes.Equal(a.Cb, b.Cb) || !bytes.Equal(a.Cr, b.Cr) {
			t.Fatalf("1/%d: restart-marked progressive file decodes differently from its twin", s)
		}
	}
}

// TestProgressiveEqualsBaseline: libjpeg quantizes the same way whatever
// the entropy coding, so its baseline and progressive files of one image
// hold the same coefficients, and every scale must decode byte-identically.
// This checks the progressive AC first and refinement passes (EOB runs,
// correction bits) against the much simpler baseline path.
func TestProgressiveEqualsBaseline(t *testing.T) {
	pairs := [][2]string{
		{"baseline420.jpg", "progressive420.jpg"},
		{"baseline444.jpg", "progressive444.jpg"},
		{"gray.jpg", "progressive-gray.jpg"},
	}
	for _, p := range pairs {
		for _, s := range []int{2, 4, 8} {
			var planes [2][]plane
			for i, name := range p {
				data, err := os.ReadFile("testdata/" + name)
				if err != nil {
					t.Fatal(err)
				}
				d, err := NewDecoder(bytes.NewReader(data))
				if err != nil {
					t.Fatal(err)
				}
				img, err := d.Decode(s)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				planes[i] = planesOf(t, img)
			}
			for pi := range planes[0] {
				if !bytes.Equal(planes[0][pi].pix, planes[1][pi].pix) {
					t.Errorf("%s vs %s at 1/%d: plane %d differs", p[0], p[1], s, pi)
				}
			}
		}
	}
}

func TestTooManyScansIsRefused(t *testing.T) {
	data, err := os.ReadFile("testdata/progressive-gray.jpg")
	if err != nil {
		t.Fatal(err)
	}
	// Repeat the DC refinement scan (one bit per block, no Huffman
	// decoding, so it decodes the same way every time) until there are more
	// than maxScans.
	var scan []byte
	for i := 0; i+10 < len(data); i++ {
		if data[i] == 0xFF && data[i+1] == 0xDA && data[i+4] == 1 && data[i+7] == 0 && data[i+9]>>4 > 0 {
			end := i + 2
			for end+1 < len(data) && !(data[end] == 0xFF && data[end+1] != 0 && (data[end+1] < 0xD0 || data[end+1] > 0xD7)) {
				end++
			}
			scan = data[i:end]
			break
		}
	}
	if scan == nil {
		t.Fatal("fixture has no DC refinement scan")
	}
	eoi := len(data) - 2
	var b bytes.Buffer
	b.Write(data[:eoi])
	for i := 0; i < maxScans; i++ {
		b.Write(scan)
	}
	b.Write(data[eoi:])
	d, err := NewDecoder(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	var fe FormatError
	if _, err := d.Decode(4); !errors.As(err, &fe) || !strings.Contains(err.Error(), "scans") {
		t.Fatalf("got %v, want a FormatError for too many scans", err)
	}
}

func TestQualityEstimate(t *testing.T) {
	img := image.NewGray(image.Rect(0, 0, 16, 16))
	for _, q := range []int{5, 30, 50, 75, 85, 95, 100} {
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: q}); err != nil {
			t.Fatal(err)
		}
		d, err := NewDecoder(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if got := d.Quality(); got < q-2 || got > q+2 {
			t.Errorf("quality %d estimated as %d", q, got)
		}
	}
}

// BenchmarkDecodeStoredPreview: the decode Derive does most, a 320x480
// quality-85 4:2:0 baseline file (as the pipeline stores for the 320x480
// box) at 1/4 and 1/2.
//
//	go test ./transform/jpegscale -run '^$' -bench StoredPreview -benchtime 2000x -cpu 1
func BenchmarkDecodeStoredPreview(b *testing.B) {
	// A photo shrunk 5x by box averaging: as smooth as a real preview
	// (the generated photo at 320x480 has texture down to 3 pixels).
	const k = 5
	big := testimage.Photo(320*k, 480*k, 7)
	small := image.NewRGBA(image.Rect(0, 0, 320, 480))
	for y := range 480 {
		for x := range 320 {
			for c := range 4 {
				sum := 0
				for j := range k {
					for i := range k {
						sum += int(big.Pix[big.PixOffset(x*k+i, y*k+j)+c])
					}
				}
				small.Pix[small.PixOffset(x, y)+c] = uint8((sum + k*k/2) / (k * k))
			}
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, small, &jpeg.Options{Quality: 85}); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	for _, shrink := range []int{4, 2} {
		b.Run(fmt.Sprintf("1/%d", shrink), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			before := cpuTime()
			for range b.N {
				d, err := NewDecoder(bytes.NewReader(data))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := d.Decode(shrink); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((cpuTime()-before).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}

// cpuTime is the process's CPU time (user+system): on a shared machine it
// says what a decode costs better than the wall clock.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
