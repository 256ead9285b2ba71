// Package mediasvc is the media HTTP API of ../shared/spec/API.md and the
// service logic behind it: streaming uploads into a blob store, two-phase
// metadata commits, previews, and the permission checks of package auth.
// Handlers are methods on Server, whose fields are its dependencies; they
// return errors, which classify maps to statuses in one place.
package mediasvc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/xmppmedia/mediaserver/auth"
	"github.com/xmppmedia/mediaserver/internal/ratelimit"
	"github.com/xmppmedia/mediaserver/mediasvc/httpupload"
	"github.com/xmppmedia/mediaserver/storage"
	"github.com/xmppmedia/mediaserver/transform"
	"github.com/xmppmedia/mediaserver/transform/poster"
)

// Deps are the parts a Server is built on.
type Deps struct {
	Blobs    storage.Blobs
	Metadata storage.Metadata
	Auth     auth.Authorizer
	Images   *transform.Transformer
	// Posters, when set, gives videos dimensions, duration and previews
	// (ffmpeg); without it videos are stored as plain files.
	Posters *poster.Maker
	Log     *slog.Logger
	// Ready, when set, is asked by /readyz besides the metadata store
	// (e.g. whether the XMPP component is connected).
	Ready func(ctx context.Context) error
	// Metrics, when set, is told about every request, stored upload and
	// preview rendering (package mediasvc/metrics exports them).
	Metrics Metrics
	// Demo, when set, is served at /demo/ (the page of package
	// mediasvc/demo); unset, /demo/ is 404.
	Demo http.Handler
	// Slots, when set, makes the server the HTTP side of the XEP-0363
	// upload service (xep0363.go); unset, its routes are 404.
	Slots *httpupload.Service
}

// Metrics receives what the server observes. Implementations must be
// safe for concurrent use and cheap: they run on every request.
type Metrics interface {
	// ObserveRequest is called once per request when the handler returns.
	// route is the matched route pattern (e.g. "/{entity}/{mediaID}"),
	// never the raw path, so label cardinality stays bounded; requests
	// that match no route are "unmatched", CORS preflights "preflight".
	ObserveRequest(route, method string, status int, d time.Duration, bytesIn, bytesOut int64)
	// ObserveUpload is called for each committed upload with the stored
	// size of its file.
	ObserveUpload(bytes int64)
	// ObservePreview is called after each rendering of previews: at
	// upload ("upload", every configured size at once) or on first
	// request of a size ("on_demand") or of a box derived from a stored
	// preview ("derived"). err is the rendering's error.
	ObservePreview(when string, d time.Duration, err error)
}

type noMetrics struct{}

func (noMetrics) ObserveRequest(string, string, int, time.Duration, int64, int64) {}
func (noMetrics) ObserveUpload(int64)                                             {}
func (noMetrics) ObservePreview(string, time.Duration, error)                     {}

// Server serves the media API.
type Server struct {
	cfg      Config
	blobs    *storage.Policy
	meta     *recordCache // the metadata store, its read path's records remembered
	creds    credentialMemo
	auth     auth.Authorizer
	images   *transform.Transformer
	posters  *poster.Maker
	log      *slog.Logger
	ready    func(ctx context.Context) error
	metrics  Metrics
	demo     http.Handler
	slots    *httpupload.Service
	boxes    []transform.Box // the bounded set of preview boxes, smallest first
	upload   []transform.Box // boxes made at upload
	uploads  chan struct{}   // upload slots
	previews singleflight.Group
	derived  *derivedCache // answers for boxes that are not stored
	now      func() time.Time

	// deriveBudgets bounds the derivations in a worker slot each network
	// source may start (derivebudget.go).
	deriveBudgets *ratelimit.Buckets

	// crash-test hooks, set only by tests in this package
	hookBlobWritten func()
}

// New builds a Server. Every dependency but Ready is required.
func New(cfg Config, deps Deps) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("mediasvc config: %w", err)
	}
	if deps.Blobs == nil || deps.Metadata == nil || deps.Auth == nil || deps.Images == nil {
		return nil, errors.New("mediasvc: blobs, metadata, auth and images are all required")
	}
	log := deps.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg:     cfg,
		blobs:   &storage.Policy{Blobs: deps.Blobs, MaxBytes: cfg.MaxUploadBytes},
		meta:    newRecordCache(deps.Metadata),
		auth:    deps.Auth,
		images:  deps.Images,
		posters: deps.Posters,
		log:     log,
		ready:   deps.Ready,
		metrics: deps.Metrics,
		demo:    deps.Demo,
		slots:   deps.Slots,
		uploads: make(chan struct{}, cfg.MaxConcurrentUploads),
		derived: newDerivedCache(cfg.DerivedCacheBytes),
		now:     func() time.Time { return time.Now().UTC() },
	}
	if s.metrics == nil {
		s.metrics = noMetrics{}
	}
	s.deriveBudgets = newDeriveBudgets()
	s.upload = uploadBoxes(cfg.PreviewSizes)
	s.boxes = previewLadder(s.upload)
	return s, nil
}

// requestURL is the URL of r as the client sees it, for confirmations.
func (s *Server) requestURL(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return strings.TrimRight(s.cfg.PublicURL, "/") + r.URL.RequestURI()
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.RequestURI()
}
