package transform

import (
	"fmt"
	"strconv"
	"strings"
)

// Box is a rectangle a preview must fit inside (aspect kept, never enlarged).
type Box struct{ Width, Height int }

// MaxBoxSide is the largest preview side anything in the server makes or
// accepts: configured preview sizes, the on-demand ladder and the
// thumbnail command all stop here. 2048 covers every screen the previews
// are for many times over while bounding a preview's canvas (16 MiB of
// RGBA), so a crafted size cannot ask for a gigantic one.
const MaxBoxSide = 2048

// DefaultPreviewSizes are the device boxes made at upload for every image:
// the screens of the cheapest phones the previews are for.
func DefaultPreviewSizes() []Box {
	return []Box{{Width: 240, Height: 320}, {Width: 320, Height: 480}}
}

// ParseBox parses "WxH", e.g. "240x320", with sides of 1 to MaxBoxSide.
func ParseBox(s string) (Box, error) {
	ws, hs, ok := strings.Cut(strings.ToLower(strings.TrimSpace(s)), "x")
	if !ok {
		return Box{}, fmt.Errorf("parse box %q: want WIDTHxHEIGHT", s)
	}
	w, err1 := strconv.Atoi(ws)
	h, err2 := strconv.Atoi(hs)
	if err1 != nil || err2 != nil {
		return Box{}, fmt.Errorf("parse box %q: want WIDTHxHEIGHT with integer sides", s)
	}
	b := Box{Width: w, Height: h}
	if err := b.Validate(); err != nil {
		return Box{}, fmt.Errorf("parse box %q: %w", s, err)
	}
	return b, nil
}

// Validate reports a box with a side outside 1..MaxBoxSide.
func (b Box) Validate() error {
	if b.Width < 1 || b.Height < 1 || b.Width > MaxBoxSide || b.Height > MaxBoxSide {
		return fmt.Errorf("box %dx%d: sides must be in 1..%d", b.Width, b.Height, MaxBoxSide)
	}
	return nil
}

// String formats the box as "WxH".
func (b Box) String() string { return strconv.Itoa(b.Width) + "x" + strconv.Itoa(b.Height) }

// Fit is the size of a w x h image fitted into b: aspect kept, never
// enlarged, each side at least 1 pixel. It is the size every preview of
// this package has, so callers can tell what a stored preview measures
// without decoding it.
func (b Box) Fit(w, h int) (int, int) { return fitSize(w, h, b.Width, b.Height) }
