package transform

import (
	"image"
	"testing"
)

func TestCentreSquare(t *testing.T) {
	tests := []struct{ in, want image.Rectangle }{
		{image.Rect(0, 0, 400, 300), image.Rect(50, 0, 350, 300)},
		{image.Rect(0, 0, 300, 400), image.Rect(0, 50, 300, 350)},
		{image.Rect(0, 0, 7, 7), image.Rect(0, 0, 7, 7)},
		{image.Rect(10, 10, 15, 12), image.Rect(11, 10, 13, 12)},
	}
	for _, tt := range tests {
		if got := centreSquare(tt.in); got != tt.want {
			t.Errorf("centreSquare(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestCropToKeepsPixels(t *testing.T) {
	q := quadrants(40, 20)
	for _, img := range []image.Image{q, ycbcrOf(image.NewGray(q.Rect))} {
		c := cropTo(img, centreSquare(img.Bounds()))
		if c.Bounds() != image.Rect(10, 0, 30, 20) {
			t.Fatalf("%T: cropped bounds %v", img, c.Bounds())
		}
	}
	checkQuadrants(t, cropTo(q, centreSquare(q.Rect)))
}
