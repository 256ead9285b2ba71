package mediasvc

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/xmppmedia/mediaserver/mediasvc/httpupload"
)

// Handler returns the HTTP handler with every route of the API, all listed
// here.
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

	// XEP-0363 slots. "upload" alone is a domain JID without a localpart,
	// which is never a channel, so these paths cannot shadow one.
	slot := httpupload.PathPrefix + "{slotID}/{name}"
	r.Put(slot, s.handle(s.putSlot))
	r.Get(slot, s.handle(s.getSlot))
	r.Head(slot, s.handle(s.getSlot))

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
