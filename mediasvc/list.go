package mediasvc

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/xmppmedia/mediaserver/auth"
	"github.com/xmppmedia/mediaserver/storage"
)

const (
	defaultPage = 100
	maxPage     = 1000
)

// list answers the channel's media, newest first, a page at a time.
func (s *Server) list(w http.ResponseWriter, r *http.Request) error {
	entity, err := entityOf(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	page := storage.Page{Max: defaultPage, After: q.Get("after")}
	if v := q.Get("max"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return errorf(invalidRequest, "max must be a positive whole number")
		}
		page.Max = min(n, maxPage)
	}
	if page.After != "" && !validMediaID(page.After) {
		return errorf(invalidRequest, "after must be a media id")
	}
	dec, err := s.authorize(r, auth.OpRead, entity, "")
	if err != nil {
		return err
	}
	items, err := s.meta.List(r.Context(), entity.String(), page)
	if errors.Is(err, storage.ErrNotFound) {
		return errorf(invalidRequest, "after names no media item of this channel")
	}
	if err != nil {
		return fmt.Errorf("list %s: %w", entity, err)
	}
	out := make([]mediaJSON, 0, len(items))
	for _, m := range items {
		out = append(out, toJSON(m))
	}
	s.setJSONCacheControl(w, dec)
	writeJSON(w, http.StatusOK, out)
	return nil
}

// setJSONCacheControl sets Cache-Control for a listing or metadata: they
// change more often than files, so shared caches keep them a minute.
func (s *Server) setJSONCacheControl(w http.ResponseWriter, dec auth.Decision) {
	setCacheControl(w.Header(), dec.Public, time.Minute, 0, dec.MaxAge)
}

// setCacheControl says who may cache an answer and how long: shared caches
// publicAge for an open channel's answer, the client alone privateAge
// (0: revalidate every time) for others. limit, when not zero, caps
// either: the grant rests on stale channel information (auth.Decision
// MaxAge) and must not outlive it in any cache.
func setCacheControl(h http.Header, public bool, publicAge, privateAge, limit time.Duration) {
	age, scope := privateAge, "private"
	if public {
		age, scope = publicAge, "public"
	}
	if limit > 0 && age > limit {
		age = limit
	}
	if age <= 0 {
		h.Set("Cache-Control", scope+", no-cache")
		return
	}
	h.Set("Cache-Control", fmt.Sprintf("%s, max-age=%d", scope, int(age.Seconds())))
}
