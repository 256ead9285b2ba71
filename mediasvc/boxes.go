package mediasvc

import (
	"sort"

	"github.com/xmppmedia/mediaserver/transform"
)

// ladder is the fixed set of square boxes offered besides the device
// sizes. Any requested box is answered by the smallest box of the set that
// covers it, so however many distinct sizes clients ask for, at most
// len(ladder)+2*len(sizes) previews exist per item.
var ladder = []int{64, 128, 256, 512, 1024, transform.MaxBoxSide}

// uploadBoxes is the configured device sizes in both orientations.
func uploadBoxes(sizes []transform.Box) []transform.Box {
	var out []transform.Box
	seen := map[transform.Box]bool{}
	for _, b := range sizes {
		for _, o := range []transform.Box{b, {Width: b.Height, Height: b.Width}} {
			if !seen[o] {
				seen[o] = true
				out = append(out, o)
			}
		}
	}
	return out
}

// previewLadder is the bounded set of boxes: device sizes and the ladder,
// smallest area first.
func previewLadder(device []transform.Box) []transform.Box {
	out := append([]transform.Box(nil), device...)
	for _, side := range ladder {
		out = append(out, transform.Box{Width: side, Height: side})
	}
	sort.SliceStable(out, func(i, j int) bool {
		return out[i].Width*out[i].Height < out[j].Width*out[j].Height
	})
	return out
}

// coveringBox is the smallest box of the set that contains w x h; requests
// beyond the largest get the largest.
func (s *Server) coveringBox(w, h int) transform.Box {
	for _, b := range s.boxes {
		if b.Width >= w && b.Height >= h {
			return b
		}
	}
	best := s.boxes[0]
	for _, b := range s.boxes {
		if b.Width*b.Height > best.Width*best.Height {
			best = b
		}
	}
	return best
}
