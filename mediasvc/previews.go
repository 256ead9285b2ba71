package mediasvc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/xmppmedia/mediaserver/auth"
	"github.com/xmppmedia/mediaserver/storage"
	"github.com/xmppmedia/mediaserver/transform"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

const maxRequestedSide = 100000

// requestedBox reads maxwidth/maxheight; one given alone applies to both.
func requestedBox(ws, hs string) (transform.Box, error) {
	parse := func(v string) (int, error) {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxRequestedSide {
			return 0, errorf(invalidRequest, "maxwidth and maxheight must be positive whole numbers")
		}
		return n, nil
	}
	if ws == "" {
		ws = hs
	}
	if hs == "" {
		hs = ws
	}
	w, err := parse(ws)
	if err != nil {
		return transform.Box{}, err
	}
	h, err := parse(hs)
	if err != nil {
		return transform.Box{}, err
	}
	return transform.Box{Width: w, Height: h}, nil
}

// servePreview answers with a preview that fits want. A box of the
// bounded set is a stored file, served like any other; any other box is
// answered by the smallest recorded preview that covers it when that one
// already fits (it often does: a 4:3 photo's 320x480 preview is 320x240),
// else by a preview derived from it and kept in the bounded derived cache.
// The caller has authorized the request for this item.
//
// Every answer varies with Accept and Save-Data (previewVary), whatever
// its format: a shared cache must never hand one client's WebP to a
// browser that cannot show it. A request for a variant (WebP, a byte
// budget: previewVariant) is answered by serveVariant, unless it asks
// only for a budget (a JPEG-only client) that the plain answer, a stored
// file, already fits.
func (s *Server) servePreview(w http.ResponseWriter, r *http.Request, it cachedItem, dec auth.Decision, want transform.Box) error {
	w.Header().Add("Vary", s.previewVary())
	m := it.m
	if !hasPreviews(m) {
		return errorf(noPreviews, "this media type has no previews")
	}
	// Nothing is made beyond MaxBoxSide: what fits the capped box fits the
	// asked one.
	want = transform.Box{Width: min(want.Width, transform.MaxBoxSide), Height: min(want.Height, transform.MaxBoxSide)}
	v, err := s.previewVariant(r, want)
	if err != nil {
		return err
	}
	box, stored := want, s.isStoredBox(want)
	if !stored {
		if box, err = s.coveringStored(r.Context(), m, want); err != nil {
			return err
		}
	}
	p, err := s.preview(r.Context(), m, box)
	if err != nil {
		return err
	}
	plainIsStored := stored || fitsBox(m, box, want)
	if !v.Plain() && !(plainIsStored && !v.WebP && v.MaxBytes > 0 && p.Size <= int64(v.MaxBytes)) {
		return s.serveVariant(w, r, it, dec, p, stored, want, v)
	}
	if !plainIsStored {
		return s.serveDerived(w, r, it, dec, p, want)
	}
	return s.serveStoredPreview(w, r, it, dec, p, box)
}

// serveStoredPreview sends the stored preview p of box.
func (s *Server) serveStoredPreview(w http.ResponseWriter, r *http.Request, it cachedItem, dec auth.Decision, p storage.Preview, box transform.Box) error {
	m := it.m
	return s.serveBlob(w, r, blobResponse{
		entity: m.Entity, key: p.BlobKey, size: p.Size,
		etag:     previewETag(m, box),
		modified: m.Updated, lastModified: it.lastModified, mimeType: p.MimeType, public: dec.Public, maxAge: dec.MaxAge,
	})
}

// previewETag names the preview of m for box: a new version of the item
// (a replaced avatar) has a new SHA-1, so a new tag.
func previewETag(m storage.Media, box transform.Box) string {
	return `"` + m.SHA1 + "-" + strconv.Itoa(box.Width) + "x" + strconv.Itoa(box.Height) + `"`
}

// isStoredBox: the bounded set of boxes whose previews are stored files.
func (s *Server) isStoredBox(b transform.Box) bool {
	for _, sb := range s.boxes {
		if sb == b {
			return true
		}
	}
	return false
}

// coveringStored is the box to derive want from: the smallest recorded
// preview of m covering it (the upload-time 240x320 covers most small
// boxes, so a derived answer rarely needs a full decode of the original),
// else the smallest box of the set that covers it, made on first use.
func (s *Server) coveringStored(ctx context.Context, m storage.Media, want transform.Box) (transform.Box, error) {
	ps, err := s.meta.previews(ctx, m.Entity, m.ID)
	if err != nil {
		return transform.Box{}, fmt.Errorf("previews of %s: %w", m.ID, err)
	}
	// Smallest by the pixels the preview has, when m's size is known: a
	// 4:3 photo's 240x320 preview (240x180) is smaller than its 320x240
	// one, though the boxes' areas tie.
	pixels := func(b transform.Box) int {
		if m.Width > 0 && m.Height > 0 {
			w, h := b.Fit(m.Width, m.Height)
			return w * h
		}
		return b.Width * b.Height
	}
	var best transform.Box
	for _, p := range ps {
		b := transform.Box{Width: p.Width, Height: p.Height}
		if b.Width >= want.Width && b.Height >= want.Height && (best.Width == 0 || pixels(b) < pixels(best)) {
			best = b
		}
	}
	if best.Width == 0 {
		best = s.coveringBox(want.Width, want.Height)
	}
	return best, nil
}

// fitsBox: m's preview for box, whose size follows from m's dimensions,
// fits want as well, so it is the answer for want too. Unknown dimensions
// never fit: the derivation finds out.
func fitsBox(m storage.Media, box, want transform.Box) bool {
	if m.Width <= 0 || m.Height <= 0 {
		return false
	}
	w, h := box.Fit(m.Width, m.Height)
	return w <= want.Width && h <= want.Height
}

// serveDerived answers want from the derived cache, deriving it from the
// stored preview p on a miss. Concurrent misses share one rendering. The
// response carries the same validators' kind and the same Cache-Control
// as a stored preview of the item (dec decides both).
func (s *Server) serveDerived(w http.ResponseWriter, r *http.Request, it cachedItem, dec auth.Decision, p storage.Preview, want transform.Box) error {
	m := it.m
	key := derivedKey{entity: m.Entity, id: m.ID, sha1: m.SHA1, updated: m.Updated.UnixNano(), box: want}
	d, err := s.derivedOnce(r, key, s.derivesInWorker(m, p), func(ctx context.Context) (derived, error) { return s.derive(ctx, m, p, want) })
	if err != nil {
		return err
	}
	if d.source == fromStored {
		return s.serveStoredPreview(w, r, it, dec, p, transform.Box{Width: p.Width, Height: p.Height})
	}
	return s.serveBlob(w, r, blobResponse{
		entity: m.Entity, data: d.data, size: int64(len(d.data)), etag: previewETag(m, want),
		modified: m.Updated, lastModified: it.lastModified, mimeType: d.mimeType, public: dec.Public, maxAge: dec.MaxAge,
	})
}

// derivedOnce is the answer of key from the derived cache, made by
// render on a miss and kept. A miss of a charged rendering (one the
// client shaped, that takes a worker slot: derivebudget.go) first spends
// one of r's source's tokens, or is refused with 429. Concurrent misses
// share one rendering, which is detached from the first client's
// cancellation (others may be waiting) and bounded in time.
func (s *Server) derivedOnce(r *http.Request, key derivedKey, charged bool, render func(context.Context) (derived, error)) (derived, error) {
	if d, ok := s.derived.get(key); ok {
		return d, nil
	}
	if charged {
		if err := s.chargeWorkerDerive(r); err != nil {
			return derived{}, err
		}
	}
	v, err, _ := s.previews.Do(key.flight(), func() (any, error) {
		if d, ok := s.derived.get(key); ok {
			return d, nil
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), s.cfg.PreviewWait+time.Minute)
		defer cancel()
		d, err := render(ctx)
		if err != nil {
			return derived{}, err
		}
		s.derived.put(key, d)
		return d, nil
	})
	if err != nil {
		return derived{}, err
	}
	return v.(derived), nil
}

// maxDeriveSource bounds the stored preview read into memory to derive
// from; larger ones go through the worker pool instead (below).
const maxDeriveSource = 4 << 20

// derive renders the answer for want from the stored preview p of m: the
// cheap Derive on p's bytes, or, when p is over Derive's 1 MP (the 2048
// box, an original standing in as a preview), the full pipeline on p with
// a worker slot. Never from the original: p is smaller, and a stream of
// distinct large boxes must not cost a 12 MP decode each.
func (s *Server) derive(ctx context.Context, m storage.Media, p storage.Preview, want transform.Box) (derived, error) {
	start := time.Now()
	if p.Size <= maxDeriveSource {
		data, err := s.storedBytes(ctx, m.Entity, p.BlobKey, p.Size)
		if err != nil {
			return derived{}, err
		}
		img, err := s.images.Derive(data, want)
		if err == nil {
			s.metrics.ObservePreview("derived", time.Since(start), nil)
			return derivedOf(img), nil
		}
		if !errors.Is(err, transform.ErrTooManyPixels) {
			s.metrics.ObservePreview("derived", time.Since(start), err)
			return derived{}, fmt.Errorf("derive %s %v: %w", m.ID, want, err)
		}
	}
	rc, _, err := s.blobs.Fetch(ctx, p.BlobKey)
	if err != nil {
		return derived{}, fmt.Errorf("read %s: %w", p.BlobKey, err)
	}
	defer rc.Close()
	wait, cancelWait := context.WithTimeout(ctx, s.cfg.PreviewWait)
	defer cancelWait()
	imgs, err := s.images.PreviewsContext(wait, rc, p.Size, []transform.Box{want})
	s.metrics.ObservePreview("derived", time.Since(start), err)
	if err != nil {
		return derived{}, fmt.Errorf("preview %s %v: %w", m.ID, want, err)
	}
	return derivedOf(imgs[0]), nil
}

// derivedOf is the answer a rendering from a stored preview gave:
// UseOriginal there means the stored preview itself.
func derivedOf(img transform.Image) derived {
	if img.UseOriginal {
		return derived{source: fromStored}
	}
	return derived{source: fromData, data: img.Data, mimeType: img.MimeType}
}

// storedBytes reads a stored file whole, through the small-file cache when
// it is small enough for it.
func (s *Server) storedBytes(ctx context.Context, entity, key string, size int64) ([]byte, error) {
	b := blobResponse{entity: entity, key: key, size: size}
	if size <= maxCachedFile {
		data, err := s.meta.file(entity, key, size, func() ([]byte, error) { return s.readSmall(ctx, b) })
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", key, err)
		}
		return data, nil
	}
	rc, _, err := s.blobs.Fetch(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxDeriveSource+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	return data, nil
}

// preview finds or makes the preview of m for box. Concurrent requests for
// the same one share a single rendering.
func (s *Server) preview(ctx context.Context, m storage.Media, box transform.Box) (storage.Preview, error) {
	p, found, err := s.meta.preview(ctx, m.Entity, m.ID, box)
	if err != nil {
		return storage.Preview{}, fmt.Errorf("previews of %s: %w", m.ID, err)
	}
	if found {
		return p, nil
	}
	key := previewKey(m.Entity, m.ID, box)
	v, err, _ := s.previews.Do(key, func() (any, error) {
		// Detached from one client's cancellation: others may be waiting.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.PreviewWait+time.Minute)
		defer cancel()
		src, srcSize := previewSource(m)
		rc, _, err := s.blobs.Fetch(ctx, src)
		if err != nil {
			return storage.Preview{}, fmt.Errorf("read %s: %w", m.ID, err)
		}
		defer rc.Close()
		wait, cancelWait := context.WithTimeout(ctx, s.cfg.PreviewWait)
		defer cancelWait()
		start := time.Now()
		imgs, err := s.images.PreviewsContext(wait, rc, srcSize, []transform.Box{box})
		s.metrics.ObservePreview("on_demand", time.Since(start), err)
		if err != nil {
			return storage.Preview{}, fmt.Errorf("preview %s %v: %w", m.ID, box, err)
		}
		p, err := s.storePreview(ctx, m, box, imgs[0])
		if err != nil {
			return storage.Preview{}, err
		}
		if err := s.meta.PutPreview(ctx, p); err != nil {
			return storage.Preview{}, fmt.Errorf("record preview %s %v: %w", m.ID, box, err)
		}
		return p, nil
	})
	if err != nil {
		return storage.Preview{}, err
	}
	return v.(storage.Preview), nil
}

// hasPreviews: images, and videos whose poster frame was made at upload
// (their dimensions are known only then).
func hasPreviews(m storage.Media) bool {
	return transform.IsImageType(m.MimeType) || isVideo(m.MimeType) && m.Width > 0
}

func isVideo(mimeType string) bool { return strings.HasPrefix(mimeType, "video/") }

// previewSource is the blob previews are made from and the size a preview
// must beat to be worth storing: the original of an image, the poster
// frame of a video (which never stands in for the video itself).
func previewSource(m storage.Media) (key string, size int64) {
	if isVideo(m.MimeType) {
		return posterKey(m.Entity, m.ID), math.MaxInt64
	}
	return m.BlobKey, m.Size
}

// storePreview writes a rendered preview (or points at the original when
// that is the better preview) and returns its record.
func (s *Server) storePreview(ctx context.Context, m storage.Media, box transform.Box, img transform.Image) (storage.Preview, error) {
	p := storage.Preview{
		MediaID: m.ID, Entity: m.Entity, Width: box.Width, Height: box.Height,
		MimeType: img.MimeType, Created: s.now(),
	}
	if img.UseOriginal {
		p.BlobKey, p.Size, p.MimeType = m.BlobKey, m.Size, m.MimeType
		return p, nil
	}
	p.BlobKey = previewKey(m.Entity, m.ID, box)
	n, err := s.blobs.Put(ctx, p.BlobKey, bytes.NewReader(img.Data))
	if err != nil {
		return p, fmt.Errorf("store preview %s %v: %w", m.ID, box, err)
	}
	p.Size = n
	return p, nil
}
