package mediasvc

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"

	"github.com/xmppmedia/mediaserver/auth"
	"github.com/xmppmedia/mediaserver/storage"
)

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
	if _, err := s.authorize(r, op, entity, m.Author); err != nil {
		return storage.Media{}, err
	}
	if missing {
		return storage.Media{}, errorf(notFound, "not found")
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
		return errorf(unsupportedType, "send application/x-www-form-urlencoded")
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
