package mediasvc

import (
	"context"
	"net/http"
	"time"
)

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
