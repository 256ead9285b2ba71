package transform

import (
	"math"
)

// PNG gamma. A PNG's gAMA chunk says how its samples encode light:
// gamma 1.0 (the PNG suite's basic files, scientific and rendered images)
// means the samples are linear, and shown as sRGB they look dark.
// Browsers and ImageMagick apply it; our previews carry no colour
// information, so the pixels are converted to sRGB here, like an ICC
// profile (icc.go): each sample to linear light by the file's gamma, then
// sRGB's curve. As the PNG specification orders it, an sRGB or iCCP chunk
// takes precedence over gAMA (the ICC step handles iCCP; pngColour reads
// all three in one pass). A gamma within
// 5% of 1/2.2 counts as sRGB, as libpng judges a gamma "significant", so
// the many files written with gAMA 0.45455 beside sRGB colours keep their
// pixels (and can be served as they are). cHRM is not applied: the
// primaries are taken to be sRGB's; writers that add cHRM nearly always
// write sRGB's values, and the PNG suite's files carry none.

// newGammaTransform converts samples encoded with gamma g (sample =
// light^g) to sRGB; nil when g is 0 or within 5% of 1/2.2.
func newGammaTransform(g float64) *iccTransform {
	if g <= 0 || math.Abs(g*2.2-1) < 0.05 {
		return nil
	}
	var x iccTransform
	for c := range 3 {
		for v := range 256 {
			x.lin[c][v] = float32(math.Pow(float64(v)/255, 1/g))
		}
		x.m[c][c] = 1 // sRGB primaries
	}
	x.enc = srgbEncodeTable()
	return &x
}
