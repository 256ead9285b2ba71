package transform

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// withPNGChunks inserts chunks (type, body pairs) after a PNG's IHDR.
func withPNGChunks(t *testing.T, data []byte, chunks ...[2]string) []byte {
	t.Helper()
	const ihdrEnd = 8 + 8 + 13 + 4
	if string(data[12:16]) != "IHDR" {
		t.Fatal("not a PNG starting with IHDR")
	}
	out := append([]byte{}, data[:ihdrEnd]...)
	for _, c := range chunks {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(c[1])))
		out = append(out, n[:]...)
		body := append([]byte(c[0]), c[1]...)
		out = append(out, body...)
		binary.BigEndian.PutUint32(n[:], crc32.ChecksumIEEE(body))
		out = append(out, n[:]...)
	}
	return append(out, data[ihdrEnd:]...)
}

func gamaBody(gamma float64) string {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(gamma*100000+0.5))
	return string(b[:])
}

// TestPNGGammaIsApplied: a grey ramp stored with gAMA 1.0 (linear samples,
// as in the PNG suite) previews as ImageMagick renders it, in sRGB: its
// mid-grey sample 128 shows as about 188. Without the gamma step it scored
// 13-16 dB here and in the conformance table. sRGB and iCCP chunks take
// precedence, and a gamma near 1/2.2 is sRGB: those keep their pixels.
func TestPNGGammaIsApplied(t *testing.T) {
	tr := newTestTransformer(t)
	ramp := image.NewGray(image.Rect(0, 0, 128, 32))
	for y := range 32 {
		for x := range 128 {
			ramp.Pix[y*ramp.Stride+x] = uint8(x * 2)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, ramp); err != nil {
		t.Fatal(err)
	}
	plain := buf.Bytes()
	box := Box{128, 128}
	midGrey := func(t *testing.T, data []byte) (uint8, bool) {
		t.Helper()
		imgs, err := tr.Previews(bytes.NewReader(data), int64(len(data)), []Box{box})
		if err != nil {
			t.Fatal(err)
		}
		if imgs[0].UseOriginal {
			return 128, true
		}
		got := toNRGBA(decodeBytes(t, imgs[0].Data))
		return got.Pix[got.PixOffset(64, 16)+1], false
	}

	linear := withPNGChunks(t, plain, [2]string{"gAMA", gamaBody(1.0)})
	path := filepath.Join(t.TempDir(), "linear.png")
	if err := os.WriteFile(path, linear, 0o644); err != nil {
		t.Fatal(err)
	}
	imgs, err := tr.Previews(bytes.NewReader(linear), int64(len(linear)), []Box{box})
	if err != nil {
		t.Fatal(err)
	}
	if imgs[0].UseOriginal {
		t.Fatal("the original stands in, though old browsers ignore its gamma")
	}
	psnr, ssim := similarity(t, decodeBytes(t, imgs[0].Data), magickPreview(t, path, box))
	t.Logf("gAMA 1.0 ramp against ImageMagick: %.1f dB SSIM %.4f", psnr, ssim)
	if psnr < 35 || ssim < 0.98 {
		t.Errorf("gAMA 1.0 ramp against ImageMagick: %.1f dB SSIM %.4f, want >= 35 dB and >= 0.98", psnr, ssim)
	}
	if v, _ := midGrey(t, linear); v < 184 || v > 192 {
		t.Errorf("linear 128 shows as %d, want about 188 (sRGB of 50%% light)", v)
	}

	for name, data := range map[string][]byte{
		"no gAMA":          plain,
		"gAMA 0.45455":     withPNGChunks(t, plain, [2]string{"gAMA", gamaBody(0.45455)}),
		"sRGB before gAMA": withPNGChunks(t, plain, [2]string{"sRGB", "\x00"}, [2]string{"gAMA", gamaBody(1.0)}),
		"gAMA before sRGB": withPNGChunks(t, plain, [2]string{"gAMA", gamaBody(1.0)}, [2]string{"sRGB", "\x00"}),
	} {
		if v, _ := midGrey(t, data); v < 126 || v > 130 {
			t.Errorf("%s: 128 shows as %d, want it kept", name, v)
		}
	}
}
