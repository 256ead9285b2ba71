// Package mediasvc is the media HTTP API of ../shared/spec/API.md and the
// service logic behind it: streaming uploads into a blob store, two-phase
// metadata commits, previews, and the permission checks of package auth.
// Handlers are methods on Server, whose fields are its dependencies; they
// return errors, which classify maps to statuses in one place.
package mediasvc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"golang.org/x/sync/singleflight"

	"github.com/xmppmedia/mediaserver/auth"
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
	s.upload = uploadBoxes(cfg.PreviewSizes)
	s.boxes = previewLadder(s.upload)
	return s, nil
}

// Handler returns the HTTP handler with every route of the API.
func (s *Server) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(s.withRequestID, s.withCommonHeaders, s.withRecover, s.withAccessLog, s.withPreflight)
	r.NotFound(s.handle(func(w http.ResponseWriter, r *http.Request) error {
		return errorf(http.StatusNotFound, "no such route")
	}))
	r.MethodNotAllowed(s.handle(func(w http.ResponseWriter, r *http.Request) error {
		return errorf(http.StatusMethodNotAllowed, "method not allowed")
	}))

	r.Get("/healthz", s.handle(s.healthz))
	r.Get("/readyz", s.handle(s.readyz))

	// /demo is never a channel (alone, "demo" would parse as a domain
	// JID): it is the demo page when one is configured, else 404.
	demoPage := http.Handler(r.NotFoundHandler())
	demoRoot := demoPage
	if s.demo != nil {
		demoPage = http.StripPrefix("/demo", s.demo)
		demoRoot = http.RedirectHandler("/demo/", http.StatusMovedPermanently)
	}
	r.Handle("/demo", demoRoot)
	r.Handle("/demo/", demoPage)
	r.Handle("/demo/{file}", demoPage)

	s.uploadRoutes(r)
	r.Route("/{entity}", func(r chi.Router) {
		r.Get("/", s.handle(s.list))
		r.Post("/", s.handle(s.uploadMedia))
		r.Route("/{mediaID}", func(r chi.Router) {
			r.Get("/", s.handle(s.download))
			r.Head("/", s.handle(s.download))
			r.Post("/", s.handle(s.update))
			r.Put("/", s.handle(s.putAvatar))
			r.Delete("/", s.handle(s.deleteMedia))
			r.Get("/metadata", s.handle(s.metadata))
		})
	})
	return r
}

// handle adapts an error-returning handler.
func (s *Server) handle(h func(http.ResponseWriter, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	}
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	checks := map[string]string{}
	ok := true
	if err := s.meta.Ping(ctx); err != nil {
		checks["metadata"], ok = "unavailable", false
	} else {
		checks["metadata"] = "ok"
	}
	// A blob store that can check itself cheaply (S3: the bucket answers
	// with these credentials) is part of readiness; a local disk is not
	// asked.
	if p, isPinger := s.blobs.Blobs.(interface{ Ping(context.Context) error }); isPinger {
		if err := p.Ping(ctx); err != nil {
			checks["blobs"], ok = "unavailable", false
		} else {
			checks["blobs"] = "ok"
		}
	}
	if s.ready != nil {
		if err := s.ready(ctx); err != nil {
			checks["xmpp"], ok = "unavailable", false
		} else {
			checks["xmpp"] = "ok"
		}
	}
	status := http.StatusOK
	if !ok {
		status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", retryAfterSeconds)
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, checks)
	return nil
}

// withPreflight answers OPTIONS on any path, before routing and without
// authentication; the CORS headers themselves are set for every response
// by withCommonHeaders.
func (s *Server) withPreflight(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodOptions {
			next.ServeHTTP(w, r)
			return
		}
		preflight(w)
	})
}

func preflight(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Access-Control-Allow-Methods", "GET, HEAD, POST, PUT, DELETE, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Requested-With")
	h.Set("Access-Control-Max-Age", "86400")
	h.Set("Allow", "GET, HEAD, POST, PUT, DELETE, OPTIONS")
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) withCommonHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		// URLs of this server carry credentials (?auth=...) by design: a
		// page or file served from here must never pass its URL on as a
		// Referer.
		h.Set("Referrer-Policy", "no-referrer")
		h.Add("Vary", "Origin")
		if origin := r.Header.Get("Origin"); origin != "" && validOrigin(origin) && s.originAllowed(origin) {
			// The origin is echoed, never "*": browsers refuse "*" with
			// credentials, and clients send credentials.
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Set("Access-Control-Expose-Headers", "Location, ETag, Content-Length")
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) originAllowed(origin string) bool {
	if len(s.cfg.CORSOrigins) == 0 {
		return true
	}
	for _, o := range s.cfg.CORSOrigins {
		if strings.EqualFold(strings.TrimRight(o, "/"), origin) {
			return true
		}
	}
	return false
}

// validOrigin accepts what a browser sends: scheme://host[:port] or "null".
func validOrigin(o string) bool {
	if o == "null" {
		return true
	}
	if len(o) > 512 {
		return false
	}
	u, err := url.Parse(o)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.Path == "" && u.RawQuery == "" && u.User == nil
}

func (s *Server) withRecover(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic serving request", "panic", v, "request_id", requestID(r.Context()), "stack", string(debug.Stack()))
				s.writeError(w, r, fmt.Errorf("panic: %v", v))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// statusWriter records what a handler answered, for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// ReadFrom keeps the ResponseWriter's ReadFrom (sendfile for a file)
// reachable through the access log's wrapper, counting what it sent.
func (w *statusWriter) ReadFrom(src io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(writerOnly{w.ResponseWriter}, src)
	}
	w.bytes += n
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) withAccessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		var body *countingBody
		if r.Body != nil && r.Body != http.NoBody {
			body = &countingBody{ReadCloser: r.Body}
			r.Body = body
		}
		next.ServeHTTP(sw, r)
		d := time.Since(start)
		// The path only: the query may carry credentials (auth=...).
		s.log.Info("request", "method", r.Method, "path", r.URL.Path, "status", sw.status,
			"bytes", sw.bytes, "duration_ms", d.Milliseconds(),
			"request_id", requestID(r.Context()), "remote", r.RemoteAddr)
		var in int64
		if body != nil {
			in = body.n
		}
		s.metrics.ObserveRequest(routeLabel(r), r.Method, sw.status, d, in, sw.bytes)
	})
}

// routeLabel is the route pattern chi matched, for metrics: raw paths
// carry entity names and media ids, which would make a label per item.
func routeLabel(r *http.Request) string {
	if r.Method == http.MethodOptions {
		return "preflight"
	}
	if rc := chi.RouteContext(r.Context()); rc != nil {
		// No route of the API has a wildcard: one in the pattern is chi's
		// not-found inside a subrouter.
		if p := rc.RoutePattern(); p != "" && !strings.Contains(p, "*") {
			if p != "/" {
				p = strings.TrimSuffix(p, "/")
			}
			return p
		}
	}
	return "unmatched"
}

// countingBody counts the request body bytes a handler read.
type countingBody struct {
	io.ReadCloser
	n int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	return n, err
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"internal error"}`)
	}
	b = append(b, '\n')
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", fmt.Sprint(len(b)))
	w.WriteHeader(status)
	w.Write(b)
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
