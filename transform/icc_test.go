package transform

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/xmppmedia/mediaserver/transform/internal/testimage"
)

// Profiles from Debian's colord-data; Display P3 is not packaged, so the
// test writes one (Apple's primaries, D50-adapted, and the sRGB curve).
const (
	colordSRGB  = "/usr/share/color/icc/colord/sRGB.icc"
	colordAdobe = "/usr/share/color/icc/colord/AdobeRGB1998.icc"
)

func needProfile(t *testing.T, path string) []byte {
	t.Helper()
	p, err := os.ReadFile(path)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s missing (Debian colord-data): %v", path, err)
		}
		t.Skipf("%s missing (Debian colord-data)", path)
	}
	return p
}

// displayP3Profile writes a version 2 matrix/TRC profile for Display P3.
func displayP3Profile() []byte {
	fixed := func(v float64) []byte {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(int32(math.Round(v*65536))))
		return b[:]
	}
	xyz := func(x, y, z float64) []byte {
		return append(append(append([]byte("XYZ \x00\x00\x00\x00"), fixed(x)...), fixed(y)...), fixed(z)...)
	}
	// parametric type 3: the sRGB curve.
	para := []byte("para\x00\x00\x00\x00\x00\x03\x00\x00")
	for _, v := range []float64{2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045} {
		para = append(para, fixed(v)...)
	}
	desc := []byte("desc\x00\x00\x00\x00")
	desc = binary.BigEndian.AppendUint32(desc, 11)
	desc = append(desc, "Display P3\x00"...)
	desc = append(desc, make([]byte, 4+4+2+1+67)...)
	tags := []struct {
		sig  string
		data []byte
	}{
		{"desc", desc},
		{"wtpt", xyz(0.9642, 1, 0.8249)},
		{"rXYZ", xyz(0.515121, 0.241182, -0.001050)},
		{"gXYZ", xyz(0.291977, 0.692245, 0.041881)},
		{"bXYZ", xyz(0.157104, 0.066574, 0.784378)},
		{"rTRC", para}, {"gTRC", para}, {"bTRC", para},
	}
	header := make([]byte, 128)
	table := binary.BigEndian.AppendUint32(nil, uint32(len(tags)))
	var data []byte
	off := 128 + 4 + 12*len(tags)
	for _, tg := range tags {
		for len(data)%4 != 0 {
			data = append(data, 0)
		}
		table = append(table, tg.sig...)
		table = binary.BigEndian.AppendUint32(table, uint32(off+len(data)))
		table = binary.BigEndian.AppendUint32(table, uint32(len(tg.data)))
		data = append(data, tg.data...)
	}
	p := append(append(header, table...), data...)
	binary.BigEndian.PutUint32(p[0:], uint32(len(p)))
	binary.BigEndian.PutUint32(p[8:], 0x02100000)
	copy(p[12:], "mntrRGB XYZ ")
	copy(p[36:], "acsp")
	copy(p[68:], append(append(fixed(0.9642), fixed(1)...), fixed(0.8249)...))
	return p
}

func TestICCRecognisesSRGB(t *testing.T) {
	x, err := newICCTransform(needProfile(t, colordSRGB))
	if err != nil || x != nil {
		t.Fatalf("sRGB profile: got %v, %v; want no conversion", x, err)
	}
	if x, err := newICCTransform(needProfile(t, colordAdobe)); err != nil || x == nil {
		t.Fatalf("Adobe RGB profile: got %v, %v; want a conversion", x, err)
	}
	if _, err := newICCTransform([]byte("not a profile")); err == nil {
		t.Fatal("garbage: want an error")
	}
	m := [3][3]float64{{2, 1, 0}, {0, 1, 3}, {1, 0, 1}}
	inv, _ := invert3(m)
	for i := range 3 {
		for j := range 3 {
			var s float64
			for k := range 3 {
				s += m[i][k] * inv[k][j]
			}
			if want := map[bool]float64{true: 1, false: 0}[i == j]; math.Abs(s-want) > 1e-9 {
				t.Fatalf("m * invert3(m) [%d][%d] = %v", i, j, s)
			}
		}
	}
}

// TestICCMatchesLittleCMS: a photo converted by ImageMagick (LittleCMS)
// from sRGB into Adobe RGB and into Display P3, profile embedded, is
// converted back by us and by ImageMagick; the two must agree within one
// level.
func TestICCMatchesLittleCMS(t *testing.T) {
	convert := tool(t, "convert", "imagemagick")
	dir := t.TempDir()
	srgb := filepath.Join(dir, "srgb.icc")
	if err := os.WriteFile(srgb, needProfile(t, colordSRGB), 0o644); err != nil {
		t.Fatal(err)
	}
	p3 := filepath.Join(dir, "p3.icc")
	if err := os.WriteFile(p3, displayP3Profile(), 0o644); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "photo.png")
	if err := os.WriteFile(src, encodePNG(t, testimage.Photo(192, 128, 8)), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, profile := range map[string]string{"Adobe RGB": colordAdobe, "Display P3": p3} {
		t.Run(name, func(t *testing.T) {
			wide := filepath.Join(dir, "wide.png")
			run(t, convert, src, "-profile", srgb, "-profile", profile, wide)
			ref := filepath.Join(dir, "back.png")
			run(t, convert, wide, "-profile", srgb, "-depth", "8", ref)
			data, err := os.ReadFile(wide)
			if err != nil {
				t.Fatal(err)
			}
			profile, _ := pngColour(bytes.NewReader(data))
			x, err := newICCTransform(profile)
			if err != nil || x == nil {
				t.Fatalf("profile of %s: %v, %v", name, x, err)
			}
			img, err := png.Decode(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			ours := toNRGBA(img)
			before := toNRGBA(image.Image(ours))
			before = &image.NRGBA{Pix: append([]byte(nil), before.Pix...), Stride: before.Stride, Rect: before.Rect}
			x.apply(ours)
			want := toNRGBA(loadImage(t, ref))
			worst, over1, unconverted := 0, 0, 0
			for i := range ours.Pix {
				if i%4 == 3 {
					continue
				}
				d := abs(int(ours.Pix[i]) - int(want.Pix[i]))
				worst = max(worst, d)
				if d > 1 {
					over1++
				}
				unconverted = max(unconverted, abs(int(before.Pix[i])-int(want.Pix[i])))
			}
			n := len(ours.Pix) / 4 * 3
			t.Logf("%s: largest difference from LittleCMS %d levels, %d of %d samples over 1 (unconverted: up to %d levels off)", name, worst, over1, n, unconverted)
			if over1 > n/200 || worst > 2 {
				t.Errorf("%s: %d samples more than 1 level from LittleCMS, largest %d", name, over1, worst)
			}
		})
	}
}

// TestICCPreviews: a Display P3 photo (profile in JPEG APP2, PNG iCCP,
// WebP ICCP, HEIC and AVIF colr) previews like the sRGB picture it was made from, and
// far better than its pixels read as sRGB.
func TestICCPreviews(t *testing.T) {
	convert := tool(t, "convert", "imagemagick")
	dir := t.TempDir()
	srgb := filepath.Join(dir, "srgb.icc")
	if err := os.WriteFile(srgb, needProfile(t, colordSRGB), 0o644); err != nil {
		t.Fatal(err)
	}
	p3 := filepath.Join(dir, "p3.icc")
	if err := os.WriteFile(p3, displayP3Profile(), 0o644); err != nil {
		t.Fatal(err)
	}
	// Smooth saturated gradients, where the gamuts differ most and
	// resampling and compression noise least.
	photo := image.NewNRGBA(image.Rect(0, 0, 640, 480))
	for y := range 480 {
		for x := range 640 {
			i := photo.PixOffset(x, y)
			copy(photo.Pix[i:], []byte{uint8(x * 255 / 639), uint8(y * 255 / 479), uint8(255 - x*255/639), 255})
		}
	}
	src := filepath.Join(dir, "photo.png")
	if err := os.WriteFile(src, encodePNG(t, photo), 0o644); err != nil {
		t.Fatal(err)
	}
	widePNG := filepath.Join(dir, "p3.png")
	run(t, convert, src, "-profile", srgb, "-profile", p3, widePNG)
	files := map[string]func() string{
		"jpeg": func() string {
			out := filepath.Join(dir, "p3.jpg")
			run(t, convert, src, "-profile", srgb, "-profile", p3, "-quality", "95", out)
			return out
		},
		"png": func() string { return widePNG },
		"webp": func() string {
			out := filepath.Join(dir, "p3.webp")
			run(t, convert, widePNG, "-quality", "95", "-define", "webp:lossless=true", out)
			return out
		},
		"heic": func() string {
			out := filepath.Join(dir, "p3.heic")
			run(t, tool(t, "heif-enc", "libheif-examples"), "-q", "95", "-p", "chroma=444", "-o", out, widePNG)
			return out
		},
		"avif": func() string {
			out := filepath.Join(dir, "p3.avif")
			run(t, tool(t, "avifenc", "libavif-bin"), "--min", "0", "--max", "4", "-y", "444", "-s", "8", widePNG, out)
			return out
		},
	}
	tr := newTestTransformer(t)
	for _, name := range []string{"jpeg", "png", "webp", "heic", "avif"} {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(files[name]())
			if err != nil {
				t.Fatal(err)
			}
			imgs, err := tr.Previews(bytes.NewReader(data), int64(len(data)), []Box{{240, 320}})
			if err != nil {
				t.Fatal(err)
			}
			got := decodeBytes(t, imgs[0].Data)
			want := resample(photo, fullWindow(photo), imgs[0].Width, imgs[0].Height)
			raw := loadImage(t, widePNG)
			unconverted := resample(raw, fullWindow(raw), imgs[0].Width, imgs[0].Height)
			p, s := similarity(t, got, want)
			pu, _ := similarity(t, unconverted, want)
			t.Logf("Display P3 %s preview against the sRGB original: %.1f dB SSIM %.4f (pixels read as sRGB: %.1f dB)", name, p, s, pu)
			if p < 38 || p < pu+5 {
				t.Errorf("preview %.1f dB from the sRGB original, unconverted %.1f dB", p, pu)
			}
		})
	}
}
