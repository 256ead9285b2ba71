package mediasvc

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xmppmedia/mediaserver/auth"
	"github.com/xmppmedia/mediaserver/storage"
)

const (
	defaultPage = 100
	maxPage     = 1000
)

func parseBare(s string) (jid.JID, error) {
	j, err := jid.Parse(s)
	if err != nil {
		return jid.JID{}, err
	}
	return j.Bare(), nil
}

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
			return errorf(http.StatusBadRequest, "max must be a positive whole number")
		}
		page.Max = min(n, maxPage)
	}
	if page.After != "" && !validMediaID(page.After) {
		return errorf(http.StatusBadRequest, "after must be a media id")
	}
	dec, err := s.authorize(r, auth.OpRead, entity.String(), "")
	if err != nil {
		return err
	}
	items, err := s.meta.List(r.Context(), entity.String(), page)
	if errors.Is(err, storage.ErrNotFound) {
		return errorf(http.StatusBadRequest, "after names no media item of this channel")
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

// metadata answers one item's JSON.
func (s *Server) metadata(w http.ResponseWriter, r *http.Request) error {
	m, dec, err := s.readable(r)
	if err != nil {
		return err
	}
	s.setJSONCacheControl(w, dec)
	writeJSON(w, http.StatusOK, toJSON(m))
	return nil
}

// changeable finds the item an update or delete names and checks the
// requester may change it: its uploader, or the channel's owner or a
// moderator. A missing item is reported only to someone who could have
// changed it, so others cannot probe for ids.
func (s *Server) changeable(r *http.Request, op auth.Operation) (storage.Media, error) {
	entity, err := entityOf(r)
	if err != nil {
		return storage.Media{}, err
	}
	id, err := mediaIDOf(r)
	if err != nil {
		return storage.Media{}, err
	}
	var m storage.Media
	if id == avatarID {
		m, err = s.meta.Avatar(r.Context(), entity.String())
	} else {
		m, err = s.meta.Get(r.Context(), entity.String(), id)
	}
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return storage.Media{}, fmt.Errorf("media %s/%s: %w", entity, id, err)
	}
	missing := err != nil
	if _, err := s.authorize(r, op, entity.String(), m.Author); err != nil {
		return storage.Media{}, err
	}
	if missing {
		return storage.Media{}, errorf(http.StatusNotFound, "not found")
	}
	return m, nil
}

// update changes an item's filename, title and description.
func (s *Server) update(w http.ResponseWriter, r *http.Request) error {
	m, err := s.changeable(r, auth.OpUpdate)
	if err != nil {
		return err
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "multipart/form-data":
		err = r.ParseMultipartForm(64 << 10)
	case "application/x-www-form-urlencoded", "":
		err = r.ParseForm()
	default:
		return errorf(http.StatusUnsupportedMediaType, "send application/x-www-form-urlencoded")
	}
	if err != nil {
		return bodyError(err, "malformed form body")
	}
	var c storage.Changes
	for name, values := range r.PostForm {
		if len(values) == 0 {
			continue
		}
		v := values[0]
		switch strings.ToLower(name) {
		case "filename":
			if v, err = cleanFileName(v); err != nil {
				return err
			}
			c.FileName = &v
		case "title":
			if v, err = cleanText("title", v); err != nil {
				return err
			}
			c.Title = &v
		case "description":
			if v, err = cleanText("description", v); err != nil {
				return err
			}
			c.Description = &v
		}
	}
	updated, err := s.meta.Update(r.Context(), m.Entity, m.ID, c, s.now())
	if err != nil {
		return fmt.Errorf("update %s: %w", m.ID, err)
	}
	writeJSON(w, http.StatusOK, toJSON(updated))
	return nil
}

// deleteMedia deletes an item, its previews and its file.
func (s *Server) deleteMedia(w http.ResponseWriter, r *http.Request) error {
	m, err := s.changeable(r, auth.OpDelete)
	if err != nil {
		return err
	}
	deleted, previews, err := s.meta.Delete(r.Context(), m.Entity, m.ID)
	if err != nil {
		return fmt.Errorf("delete %s: %w", m.ID, err)
	}
	// The record is gone first: a failure now leaves unreachable blobs,
	// never a listed item without its file.
	if err := s.removeBlobs(context.WithoutCancel(r.Context()), deleted, previews); err != nil {
		s.log.Warn("delete: unreachable blobs left behind", "id", deleted.ID, "err", err)
	}
	writeJSON(w, http.StatusOK, toJSON(deleted))
	return nil
}
