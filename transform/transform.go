// Package transform turns uploaded images into small previews and square
// avatars for very low-end phones. It knows nothing about HTTP: callers map
// the sentinel errors (ErrUnsupported, ErrTooManyPixels, ErrCorrupt, ErrBusy)
// to status codes in one place.
//
// The pipeline is a chain of small steps, each in its own file:
//
//	source.go     replayable reader: look at the header, then decode from the start
//	sniff.go      format detection by magic bytes (HEIC/AVIF by ftyp brands)
//	header.go     dimensions (DecodeConfig) and the pixel limit, before any decoding
//	heif.go       HEIC/AVIF size and irot/imir from the ISO boxes
//	orient.go     EXIF orientation (JPEG APP1 in any position, PNG eXIf, WebP EXIF)
//	decode.go     first frame: jpegscale, image/jpeg, PNG, GIF, WebP, HEIC, AVIF
//	ycbcrrange.go lossy WebP's studio-range YCbCr made full range
//	icc.go        matrix/TRC ICC profiles converted to sRGB
//	pnggamma.go   PNG gAMA converted to sRGB, through the same tables
//	resize.go     fitting, cheap box pre-shrink to ~2x the target
//	resample.go   Lanczos over the picture's true window
//	resample_ycbcr.go the same, plane by plane, for a JPEG that stays YCbCr
//	crop.go       crop without copying, for avatars
//	encode.go     baseline JPEG (jpegenc for YCbCr planes), or PNG when the result has transparency
//	encode_webp.go lossy WebP (alpha kept) for browsers that ask for it
//	placeholder.go a ThumbHash of the decoded picture, for pages to show first
//	budget.go     the best JPEG within a byte budget: joint search over quality and size
//	variant.go    a preview in another format or within a budget, under a worker slot
//	derive.go     a preview for any box from a stored preview
package transform

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
)

// Sentinel errors; wrap-checked with errors.Is.
var (
	// ErrUnsupported: the data is not an image format this package decodes (HTTP 415).
	ErrUnsupported = errors.New("transform: unsupported image format")
	// ErrTooManyPixels: the header claims more pixels than Config.MaxPixels (HTTP 413).
	ErrTooManyPixels = errors.New("transform: image has too many pixels")
	// ErrCorrupt: the data looks like a supported format but cannot be decoded (HTTP 422).
	ErrCorrupt = errors.New("transform: corrupt image")
	// ErrBusy: no worker slot became free before the context ended (HTTP 503).
	ErrBusy = errors.New("transform: all workers busy")
)

// Config tunes the pipeline. The zero value is not valid; start from DefaultConfig.
type Config struct {
	// MaxPixels refuses images whose header claims more than width*height
	// pixels, before any pixel memory is allocated (limits.max_image_pixels).
	MaxPixels int64
	// JPEGQuality for previews and avatars, 1..100 (a JPEG original
	// written at a lower quality is previewed at its own). 85 keeps a 320x480-box
	// preview of a 12 MP photo well under 30 KB at SSIM >= 0.97 (docs/previews.md).
	JPEGQuality int
	// Workers bounds how many decodes run at once (each 12 MP decode holds
	// tens of MB); 0 means runtime.NumCPU().
	Workers int
	// AvatarSide is the largest side of a stored avatar; larger square crops
	// are scaled down to it.
	AvatarSide int
	// FullJPEGDecode turns off DCT-domain scaled decoding (package
	// jpegscale) and decodes every JPEG in full with image/jpeg: slower and
	// far more memory (docs/previews.md), kept as an escape hatch and as the
	// baseline the benchmarks compare against.
	FullJPEGDecode bool
}

// DefaultConfig returns the configuration matching CONFIG.md defaults.
func DefaultConfig() Config {
	return Config{
		MaxPixels:   50_000_000,
		JPEGQuality: 85,
		Workers:     0,
		AvatarSide:  512,
	}
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	switch {
	case c.MaxPixels <= 0:
		return fmt.Errorf("transform config: max pixels %d must be positive", c.MaxPixels)
	case c.JPEGQuality < 1 || c.JPEGQuality > 100:
		return fmt.Errorf("transform config: jpeg quality %d must be in 1..100", c.JPEGQuality)
	case c.Workers < 0:
		return fmt.Errorf("transform config: workers %d must not be negative", c.Workers)
	case c.AvatarSide < 16:
		return fmt.Errorf("transform config: avatar side %d must be at least 16", c.AvatarSide)
	}
	return nil
}

// Info describes an image from its header alone.
type Info struct {
	Format   string // "jpeg", "png", "gif", "webp", "heic", "avif"
	MimeType string
	// Width and Height as displayed, i.e. after EXIF orientation.
	Width, Height int
	// Orientation is the EXIF orientation 1..8 (1 when absent).
	Orientation int
}

// Image is an encoded result.
type Image struct {
	MimeType      string
	Width, Height int
	Data          []byte
	// UseOriginal is set (and Data is nil) when re-encoding would not make
	// the preview smaller in bytes than the original and the original is
	// itself fine to show as the preview: a JPEG, PNG or GIF that is
	// already upright (orientation 1) and already fits the box. The caller
	// then serves the original file. Width/Height/MimeType describe it.
	UseOriginal bool
}

// IsImageType reports whether mime is a type this package decodes.
func IsImageType(mime string) bool {
	mime, _, _ = strings.Cut(mime, ";")
	switch strings.ToLower(strings.TrimSpace(mime)) {
	case "image/jpeg", "image/jpg", "image/pjpeg", "image/png", "image/gif", "image/webp",
		"image/heic", "image/heif", "image/avif":
		return true
	}
	return false
}

// Transformer runs the pipeline. It is safe for concurrent use: Previews and
// Avatar each take one of Config.Workers slots (default runtime.NumCPU())
// for the whole decode-resize-encode, so at most that many images are in
// memory at once however many uploads arrive; others wait (or give up with
// ErrBusy when their context ends, for the *Context variants). Inspect only
// reads a header and takes no slot.
type Transformer struct {
	cfg   Config
	slots chan struct{}
	// heif admits one HEIC or AVIF decode at a time: the WebAssembly
	// decoders hold the whole file, their own heap and the picture
	// (docs/previews.md has the figures), more than a JPEG decode.
	heif chan struct{}
}

// New returns a Transformer for cfg.
func New(cfg Config) (*Transformer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := cfg.Workers
	if n == 0 {
		n = runtime.NumCPU()
	}
	return &Transformer{cfg: cfg, slots: make(chan struct{}, n), heif: make(chan struct{}, 1)}, nil
}

// acquire waits for a worker slot; the returned func releases it.
func (t *Transformer) acquire(ctx context.Context) (func(), error) {
	select {
	case t.slots <- struct{}{}:
		return func() { <-t.slots }, nil
	default:
	}
	select {
	case t.slots <- struct{}{}:
		return func() { <-t.slots }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", ErrBusy, ctx.Err())
	}
}

// Acquire takes one of the worker slots for CPU-heavy work done outside
// this package (a video's poster frame, made by ffmpeg), so that it counts
// against the same bound as image work. It waits like PreviewsContext
// (ErrBusy when ctx ends); call release exactly once when done.
func (t *Transformer) Acquire(ctx context.Context) (release func(), err error) {
	return t.acquire(ctx)
}

// Inspect reads only the header (format, dimensions, EXIF orientation): cheap,
// for use at upload time. It returns ErrTooManyPixels for a decompression
// bomb without decoding it.
func (t *Transformer) Inspect(r io.Reader) (Info, error) {
	h, err := readHeader(newReplayReader(r), t.cfg.MaxPixels, false)
	if err != nil {
		return Info{}, fmt.Errorf("inspect image: %w", err)
	}
	return h.info(), nil
}

// Previews decodes r once and renders one preview per box, in the order of
// boxes: fitted inside the box (aspect kept, never enlarged), oriented
// upright, without metadata, as baseline JPEG or as PNG when the result has
// transparency. origSize is the byte size of the original; when a preview
// would not be smaller and the original can stand in for it, that entry has
// UseOriginal set instead of Data (see Image). It blocks for a worker slot.
func (t *Transformer) Previews(r io.Reader, origSize int64, boxes []Box) ([]Image, error) {
	return t.PreviewsContext(context.Background(), r, origSize, boxes)
}

// PreviewsContext is Previews that gives up waiting for a worker slot with
// ErrBusy when ctx ends (use a short deadline to answer 503 under load).
func (t *Transformer) PreviewsContext(ctx context.Context, r io.Reader, origSize int64, boxes []Box) ([]Image, error) {
	if len(boxes) == 0 {
		return nil, nil
	}
	for _, b := range boxes {
		if err := b.Validate(); err != nil {
			return nil, fmt.Errorf("previews: %w", err)
		}
	}
	release, err := t.acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("previews: %w", err)
	}
	defer release()
	out, err := t.previews(r, origSize, boxes)
	if err != nil {
		return nil, fmt.Errorf("previews: %w", err)
	}
	return out, nil
}

// PreviewsAndPlaceholder is PreviewsContext that also returns the image's
// placeholder, from the same decode: a ThumbHash (placeholder.go) of the
// upright picture, a few dozen bytes a page draws as a blur while the
// previews load. With no boxes it still decodes, for the placeholder.
func (t *Transformer) PreviewsAndPlaceholder(ctx context.Context, r io.Reader, origSize int64, boxes []Box) ([]Image, []byte, error) {
	for _, b := range boxes {
		if err := b.Validate(); err != nil {
			return nil, nil, fmt.Errorf("previews: %w", err)
		}
	}
	release, err := t.acquire(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("previews: %w", err)
	}
	defer release()
	out, placeholder, err := t.render(r, origSize, boxes, true, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("previews: %w", err)
	}
	return out, placeholder, nil
}

// Avatar decodes r, orients it, centre-crops it to a square, scales it down
// to at most Config.AvatarSide and re-encodes it (JPEG, or PNG with
// transparency). It blocks for a worker slot.
func (t *Transformer) Avatar(r io.Reader) (Image, error) {
	return t.AvatarContext(context.Background(), r)
}

// AvatarContext is Avatar that gives up waiting for a worker slot with
// ErrBusy when ctx ends.
func (t *Transformer) AvatarContext(ctx context.Context, r io.Reader) (Image, error) {
	release, err := t.acquire(ctx)
	if err != nil {
		return Image{}, fmt.Errorf("avatar: %w", err)
	}
	defer release()
	img, err := t.avatar(r)
	if err != nil {
		return Image{}, fmt.Errorf("avatar: %w", err)
	}
	return img, nil
}
