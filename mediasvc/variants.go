package mediasvc

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/xmppmedia/mediaserver/auth"
	"github.com/xmppmedia/mediaserver/storage"
	"github.com/xmppmedia/mediaserver/transform"
)

// The bounds of ?maxbytes. Below the minimum no photo preview is
// recognisable (a JPEG's headers alone are some 600 bytes); above the
// maximum a budget bounds nothing a preview of at most 2048x2048 needs.
const (
	minMaxBytes = 1024
	maxMaxBytes = 16 << 20
)

// saveDataBox is the box Config.SaveDataBytes is the budget of; other
// boxes scale by area, down to saveDataFloor.
var saveDataBox = transform.Box{Width: 320, Height: 480}

// saveDataFloor is the least Save-Data budget of any box: about a 64x64
// photo's preview at the budget's floor quality, below which the search
// would shrink small previews into thumbnails of thumbnails.
const saveDataFloor = 2048

// previewVary is the Vary of every preview answer: the answer depends on
// Accept (WebP) and, when Save-Data budgets are on, on Save-Data, so a
// shared cache must key on them. maxbytes is in the URL and needs none.
func (s *Server) previewVary() string {
	if s.cfg.SaveDataBytes > 0 {
		return "Accept, Save-Data"
	}
	return "Accept"
}

// previewVariant reads what a preview request asks beyond its box: WebP
// when Accept lists it, a byte budget from ?maxbytes (a hard limit:
// nothing fitting is refused) or else from Save-Data: on (a wish: nothing
// fitting gets the smallest acceptable preview). With both, the answer is
// the WebP when it fits the budget, else a JPEG (transform.Variant).
func (s *Server) previewVariant(r *http.Request, want transform.Box) (transform.Variant, error) {
	v := transform.Variant{WebP: acceptsWebP(r.Header.Values("Accept"))}
	q := r.URL.Query()
	switch {
	case q.Has("maxbytes"):
		n, err := strconv.Atoi(q.Get("maxbytes"))
		if err != nil || n < minMaxBytes || n > maxMaxBytes {
			return transform.Variant{}, errorf(invalidRequest,
				fmt.Sprintf("maxbytes must be a whole number of bytes from %d to %d", minMaxBytes, maxMaxBytes))
		}
		v.MaxBytes = budgetStep(n)
	case s.cfg.SaveDataBytes > 0 && saveData(r.Header.Values("Save-Data")):
		v.MaxBytes, v.BestEffort = budgetStep(saveDataBudget(s.cfg.SaveDataBytes, want)), true
	}
	return v, nil
}

// budgetStep rounds a budget down to one of 8 steps per doubling (at most
// 12.5% less): every answer still fits the number asked for, and a client
// cannot make one item cost thousands of searches and cache entries by
// counting maxbytes up one at a time.
func budgetStep(n int) int {
	k := bits.Len(uint(n)) - 1
	if k < 3 {
		return n
	}
	step := 1 << (k - 3)
	return n / step * step
}

// saveDataBudget is Save-Data's budget for box: perBox (the 320x480
// box's) scaled by the box's area, at least saveDataFloor.
func saveDataBudget(perBox int, box transform.Box) int {
	area := int64(box.Width) * int64(box.Height)
	ref := int64(saveDataBox.Width) * int64(saveDataBox.Height)
	return int(min(max(int64(perBox)*area/ref, saveDataFloor), maxMaxBytes))
}

// acceptsWebP: the Accept values list image/webp explicitly with q > 0
// (and no lower than an explicit image/jpeg). Wildcards do not count:
// KaiOS 2.x, Opera Mini and old Android WebViews send */* or image/* and
// cannot show WebP. A malformed q counts as 0.
func acceptsWebP(values []string) bool {
	webpQ, jpegQ := -1.0, -1.0
	for _, v := range values {
		for _, rng := range strings.Split(v, ",") {
			typ, params, _ := strings.Cut(rng, ";")
			q := 1.0
			for _, p := range strings.Split(params, ";") {
				k, val, ok := strings.Cut(p, "=")
				if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
					f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
					if err != nil || !(f >= 0 && f <= 1) {
						f = 0
					}
					q = f
				}
			}
			switch strings.ToLower(strings.TrimSpace(typ)) {
			case "image/webp":
				webpQ = max(webpQ, q)
			case "image/jpeg":
				jpegQ = max(jpegQ, q)
			}
		}
	}
	return webpQ > 0 && webpQ >= jpegQ
}

// saveData: a Save-Data header whose token is "on" (the header's only
// defined token; directives after ";" are ignored).
func saveData(values []string) bool {
	for _, v := range values {
		tok, _, _ := strings.Cut(v, ";")
		if strings.EqualFold(strings.TrimSpace(tok), "on") {
			return true
		}
	}
	return false
}

// variantName tells variants apart in cache keys and ETags: "webp",
// "b<budget>" for maxbytes, "s<budget>" for Save-Data's best effort, a
// budget for a WebP browser with "-webp" after it.
func variantName(v transform.Variant) string {
	name := ""
	switch {
	case v.MaxBytes > 0 && v.BestEffort:
		name = "s" + strconv.Itoa(v.MaxBytes)
	case v.MaxBytes > 0:
		name = "b" + strconv.Itoa(v.MaxBytes)
	}
	switch {
	case v.WebP && name == "":
		return "webp"
	case v.WebP:
		return name + "-webp"
	}
	return name
}

// variantETag names one variant of m's preview for box: the plain
// preview's tag with the variant's name, so a WebP and a JPEG are never
// taken for one another in a revalidation.
func variantETag(m storage.Media, box transform.Box, v transform.Variant) string {
	plain := previewETag(m, box)
	return plain[:len(plain)-1] + "-" + variantName(v) + `"`
}

// serveVariant answers want with variant v of m's preview (WebP, a
// budget), made once per item version, box and variant, and kept in the
// derived cache like every answer that is not a stored file. Stored boxes'
// variants are rendered from the item's source (original or poster frame),
// as their plain previews were, so no JPEG generation lies under the WebP
// or the budget's search; any other box's from p, the stored preview
// covering it, as its plain answer is. The rendering holds a worker slot:
// a flood of variants queues, and gets 503 after PreviewWait. The caller
// authorized the request for the item; the cache is looked at only now.
func (s *Server) serveVariant(w http.ResponseWriter, r *http.Request, it cachedItem, dec auth.Decision, p storage.Preview, stored bool, want transform.Box, v transform.Variant) error {
	m := it.m
	etag := variantETag(m, want, v)
	b := blobResponse{
		entity: m.Entity, etag: etag, modified: m.Updated, lastModified: it.lastModified,
		public: dec.Public, maxAge: dec.MaxAge,
	}
	if notModified(r, etag, m.Updated) {
		// The tag names the variant before it is made: a revalidation
		// costs no rendering. The type is an image type a rendering has
		// (a 304 sends none; a budget's answer may be either), so that the
		// 304 carries no attachment headers for a cache to merge into the
		// stored image's.
		b.mimeType = "image/jpeg"
		if v.WebP {
			b.mimeType = "image/webp"
		}
		return s.serveBlob(w, r, b)
	}
	src := p
	if stored {
		// A video's poster frame never stands in (previewSource's size
		// says so), so the source's type is only sent for an image.
		src.BlobKey, src.Size = previewSource(m)
		src.MimeType = m.MimeType
	}
	key := derivedKey{entity: m.Entity, id: m.ID, sha1: m.SHA1, updated: m.Updated.UnixNano(), box: want, variant: variantName(v)}
	d, err := s.derivedOnce(r, key, variantCharged(stored, want, v), func(ctx context.Context) (derived, error) { return s.renderVariant(ctx, src, want, v) })
	if err != nil {
		return err
	}
	switch d.source {
	case overBudget:
		return errorf(tooLarge, fmt.Sprintf("no acceptable preview of this item fits %d bytes in this box", v.MaxBytes))
	case fromStored:
		// The source itself is the answer (an original that fits the box
		// and is no larger): a stored file, sent as such.
		b.key, b.size, b.mimeType = src.BlobKey, src.Size, src.MimeType
	default:
		b.data, b.size, b.mimeType = d.data, int64(len(d.data)), d.mimeType
	}
	return s.serveBlob(w, r, b)
}

// renderVariant renders v for want from the stored file src.
func (s *Server) renderVariant(ctx context.Context, src storage.Preview, want transform.Box, v transform.Variant) (derived, error) {
	start := time.Now()
	rc, _, err := s.blobs.Fetch(ctx, src.BlobKey)
	if err != nil {
		return derived{}, fmt.Errorf("read %s: %w", src.BlobKey, err)
	}
	defer rc.Close()
	wait, cancelWait := context.WithTimeout(ctx, s.cfg.PreviewWait)
	defer cancelWait()
	img, err := s.images.VariantContext(wait, rc, src.Size, want, v)
	s.metrics.ObservePreview("variant", time.Since(start), err)
	if errors.Is(err, transform.ErrOverBudget) {
		// Remembered like an answer: asking again costs no search.
		return derived{source: overBudget}, nil
	}
	if err != nil {
		return derived{}, fmt.Errorf("variant %s of %s %v: %w", variantName(v), src.BlobKey, want, err)
	}
	return derivedOf(img), nil
}
