package quality

import (
	"image"
	"math"
	"testing"
)

func TestSSIMAndPSNR(t *testing.T) {
	a := image.NewGray(image.Rect(0, 0, 64, 64))
	for i := range a.Pix {
		a.Pix[i] = uint8(i * 37 % 251)
	}
	same := image.NewGray(a.Rect)
	copy(same.Pix, a.Pix)
	slightly := image.NewGray(a.Rect)
	for i := range a.Pix {
		slightly.Pix[i] = a.Pix[i] ^ uint8(i%3)
	}
	flatImg := image.NewGray(a.Rect)
	for i := range flatImg.Pix {
		flatImg.Pix[i] = 128
	}

	if s, _ := SSIM(a, same); math.Abs(s-1) > 1e-9 {
		t.Errorf("SSIM(identical) = %v, want 1", s)
	}
	s1, _ := SSIM(a, slightly)
	s2, _ := SSIM(a, flatImg)
	if !(s1 < 1 && s1 > 0.9 && s2 < 0.2) {
		t.Errorf("SSIM slightly changed = %v (want just below 1), flat = %v (want near 0)", s1, s2)
	}
	if p, _ := PSNR(a, same); !math.IsInf(p, 1) {
		t.Errorf("PSNR(identical) = %v, want +Inf", p)
	}
	if p, _ := PSNR(a, slightly); p < 40 || p > 60 {
		t.Errorf("PSNR(slightly) = %v, want about 48", p)
	}
	if _, err := SSIM(a, image.NewGray(image.Rect(0, 0, 3, 3))); err == nil {
		t.Error("SSIM of different sizes: want an error")
	}
}

func TestPSNRRGBSeesChroma(t *testing.T) {
	// Same luma (BT.601), different colour: PSNR cannot tell, PSNRRGB can.
	a := image.NewRGBA(image.Rect(0, 0, 8, 8))
	b := image.NewRGBA(a.Rect)
	for i := 0; i < len(a.Pix); i += 4 {
		copy(a.Pix[i:], []uint8{150, 100, 100, 255})
		copy(b.Pix[i:], []uint8{100, 124, 111, 255})
	}
	if p, _ := PSNR(a, b); p < 40 {
		t.Fatalf("test colours should share their luma: PSNR %v", p)
	}
	if p, _ := PSNRRGB(a, b); p > 25 {
		t.Errorf("PSNRRGB of different colours = %v dB, want low", p)
	}
	if p, _ := PSNRRGB(a, a); !math.IsInf(p, 1) {
		t.Errorf("PSNRRGB(identical) = %v, want +Inf", p)
	}
}
