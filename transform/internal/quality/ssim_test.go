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
