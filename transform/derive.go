package transform

import (
	"bytes"
	"fmt"
)

// maxDerivePixels bounds what Derive decodes. Derive takes no worker slot
// (a 100x100 answer must not queue behind 12 MP uploads), so its memory is
// bounded here instead: stored previews and avatars are at most 512x512.
const maxDerivePixels = 1 << 20

// Derive renders a preview that fits box from a stored preview (a JPEG or
// PNG this package made earlier): the HTTP layer's fast path for a box
// that is not stored, e.g. 100x100 from the stored 320x480 one. The answer
// fits the box, aspect kept; when stored already fits the box and a
// re-encode would not be smaller, UseOriginal is set (serve stored as is).
//
// It takes no worker slot and refuses sources over maxDerivePixels with
// ErrTooManyPixels. BenchmarkDerive prints its CPU time (about half a
// millisecond for 100x100 from the stored 240x320 or 320x480 preview on a
// loaded 2-vCPU machine, docs/previews.md): the DCT-scaled decode of the
// stored file, the Lanczos pass in YCbCr and the JPEG encode.
func (t *Transformer) Derive(stored []byte, box Box) (Image, error) {
	if err := box.Validate(); err != nil {
		return Image{}, fmt.Errorf("derive: %w", err)
	}
	d := *t
	d.cfg.MaxPixels = t.deriveLimit()
	d.cfg.FullJPEGDecode = false
	out, err := d.previews(bytes.NewReader(stored), int64(len(stored)), []Box{box})
	if err != nil {
		return Image{}, fmt.Errorf("derive %v: %w", box, err)
	}
	return out[0], nil
}

// deriveLimit is the most pixels Derive decodes.
func (t *Transformer) deriveLimit() int64 { return min(t.cfg.MaxPixels, maxDerivePixels) }

// Derives reports whether Derive takes a stored preview of w x h pixels;
// a larger one needs the full pipeline and a worker slot (Previews), which
// the HTTP layer budgets per client.
func (t *Transformer) Derives(w, h int) bool {
	return w > 0 && h > 0 && int64(w)*int64(h) <= t.deriveLimit()
}
