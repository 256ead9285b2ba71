package transform

import (
	"image"
	"testing"
)

func TestCentreSquare(t *testing.T) {
	tests := []struct{ in, want window }{
		{window{0, 0, 400, 300}, window{50, 0, 350, 300}},
		{window{0, 0, 300, 400}, window{0, 50, 300, 350}},
		{window{0, 0, 7, 7}, window{0, 0, 7, 7}},
		{window{10, 10, 15, 12}, window{11.5, 10, 13.5, 12}},
		// A 1/8 decode of 2001x1501: the square is centred on the picture,
		// not on the 251x188 padded pixels.
		{window{0, 0, 250.125, 187.625}, window{31.25, 0, 218.875, 187.625}},
	}
	for _, tt := range tests {
		if got := tt.in.centreSquare(); got != tt.want {
			t.Errorf("%v.centreSquare() = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestCropToKeepsPixels(t *testing.T) {
	q := quadrants(40, 20)
	sq := image.Rect(10, 0, 30, 20)
	for _, img := range []image.Image{q, ycbcrOf(image.NewGray(q.Rect))} {
		c := cropTo(img, sq)
		if c.Bounds() != sq {
			t.Fatalf("%T: cropped bounds %v", img, c.Bounds())
		}
	}
	checkQuadrants(t, cropTo(q, sq))
}
