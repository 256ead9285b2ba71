package mediasvc

import (
	"net/http"
	"time"

	"github.com/xmppmedia/mediaserver/auth"
	"github.com/xmppmedia/mediaserver/internal/ratelimit"
	"github.com/xmppmedia/mediaserver/storage"
	"github.com/xmppmedia/mediaserver/transform"
)

// A box derived from a stored preview larger than transform.Derive takes
// (the 2048 one, for boxes over about 1024 pixels) runs the full pipeline
// in a worker slot, about 0.35 s each (docs/previews.md). Every distinct
// box is a new derivation, so one client asking for many could keep every
// worker busy and starve uploads and everyone else's previews. Each
// network source (auth.SourceOf: an IPv4 address, an IPv6 /64) may start
// workerDeriveBurst such derivations, then one per workerDeriveInterval;
// past that it gets 429 with Retry-After. A page showing a few large
// pictures stays well inside; answers already in the derived cache and
// the cheap derivations cost nothing. The bounds are fixed here rather
// than configured: they follow from the cost of a derivation, not from
// the deployment.
const (
	workerDeriveBurst = 8
	// workerDeriveInterval is one token per Retry-After (retryAfterSeconds),
	// so a client that waits as told gets its answer.
	workerDeriveInterval = 5 * time.Second
	// maxDeriveSources bounds the sources remembered at once.
	maxDeriveSources = 100_000
)

func newDeriveBudgets() *ratelimit.Buckets {
	return ratelimit.New(workerDeriveBurst, workerDeriveInterval, maxDeriveSources)
}

// derivesInWorker reports whether deriving from the stored preview p of m
// needs a worker slot (see derive): p is too large to read whole, or has
// more pixels than transform.Derive takes. Unknown dimensions count as
// needing one.
func (s *Server) derivesInWorker(m storage.Media, p storage.Preview) bool {
	if p.Size > maxDeriveSource || m.Width <= 0 || m.Height <= 0 {
		return true
	}
	w, h := transform.Box{Width: p.Width, Height: p.Height}.Fit(m.Width, m.Height)
	return !s.images.Derives(w, h)
}

// chargeWorkerDerive spends one of r's source's worker derivations, or
// refuses the request with 429.
func (s *Server) chargeWorkerDerive(r *http.Request) error {
	if ok, _ := s.deriveBudgets.Take(auth.SourceOf(r.RemoteAddr), s.now()); !ok {
		return errorf(tooManyRequests, "too many large previews asked for, retry later")
	}
	return nil
}

// smallVariantSide bounds the boxes whose variants are not charged: a
// WebP or budget rendering for at most 128x128 pixels (avatars, the demo's
// 32x32 tiny previews) costs a fraction of a 320x480 one's.
const smallVariantSide = 128

// variantCharged: rendering variant v for want is charged to the client's
// source (chargeWorkerDerive) when the client shaped it: a ?maxbytes
// budget (one of up to 112 steps per box), or a box outside the stored
// set larger than smallVariantSide (each distinct box a new rendering).
// Every variant holds a worker slot; the variants of stored boxes (WebP,
// Save-Data: a few per item) and of small boxes are not charged, so that
// a page of pictures, all WebP, never runs out.
func variantCharged(stored bool, want transform.Box, v transform.Variant) bool {
	if v.MaxBytes > 0 && !v.BestEffort {
		return true
	}
	return !stored && (want.Width > smallVariantSide || want.Height > smallVariantSide)
}
