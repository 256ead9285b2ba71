package mediasvc

import (
	"fmt"
	"net/http"

	"mellium.im/xmpp/jid"

	"github.com/xmppmedia/mediaserver/auth"
)

// download serves an item's file, or with maxwidth/maxheight a preview.
func (s *Server) download(w http.ResponseWriter, r *http.Request) error {
	it, dec, err := s.readable(r)
	if err != nil {
		return err
	}
	return s.serveMedia(w, r, it, dec)
}

// serveMedia sends an item's file, or with maxwidth/maxheight a preview,
// once the caller has decided the requester may read it.
func (s *Server) serveMedia(w http.ResponseWriter, r *http.Request, it cachedItem, dec auth.Decision) error {
	q := r.URL.Query()
	if q.Has("maxwidth") || q.Has("maxheight") {
		box, err := requestedBox(q.Get("maxwidth"), q.Get("maxheight"))
		if err != nil {
			return err
		}
		return s.servePreview(w, r, it, dec, box)
	}
	if q.Has("maxbytes") {
		// A budget the original may not meet: refused rather than ignored.
		return errorf(invalidRequest, "maxbytes applies to previews: give maxwidth or maxheight too")
	}
	m := it.m
	return s.serveBlob(w, r, blobResponse{
		entity: m.Entity, key: m.BlobKey, size: m.Size, etag: it.etag, modified: m.Updated, lastModified: it.lastModified,
		mimeType: m.MimeType, fileName: m.FileName, public: dec.Public, maxAge: dec.MaxAge,
	})
}

// readable finds the item named by the path after checking the requester
// may read the channel. The check comes first, so nobody learns whether a
// private channel has an item.
func (s *Server) readable(r *http.Request) (cachedItem, auth.Decision, error) {
	entity, err := entityOf(r)
	if err != nil {
		return cachedItem{}, auth.Decision{}, err
	}
	id, err := mediaIDOf(r)
	if err != nil {
		return cachedItem{}, auth.Decision{}, err
	}
	var dec auth.Decision
	if id == avatarID && s.cfg.AvatarsPublic {
		dec.Public = true
	} else if dec, err = s.authorize(r, auth.OpRead, entity, ""); err != nil {
		return cachedItem{}, auth.Decision{}, err
	}
	e := entity.String()
	it, err := s.meta.item(r.Context(), e, id)
	if err != nil {
		return cachedItem{}, auth.Decision{}, fmt.Errorf("media %s/%s: %w", e, id, err)
	}
	return it, dec, nil
}

// authorize asks the Authorizer about this request on the channel entity
// (parsed once, by entityOf). uploader is the item's stored uploader, for
// updates and deletes; empty otherwise.
func (s *Server) authorize(r *http.Request, op auth.Operation, entity jid.JID, uploader string) (auth.Decision, error) {
	creds, err := s.creds.parse(r.URL.Query().Get("auth"), r.Header.Get("Authorization"))
	if err != nil {
		return auth.Decision{}, err
	}
	req := auth.Request{Op: op, Credentials: creds, Method: r.Method, URL: s.requestURL(r), Entity: entity, Source: auth.SourceOf(r.RemoteAddr)}
	if uploader != "" {
		req.Uploader, _ = parseBare(uploader)
	}
	return s.auth.Authorize(r.Context(), req)
}

// metadata answers one item's JSON.
func (s *Server) metadata(w http.ResponseWriter, r *http.Request) error {
	it, dec, err := s.readable(r)
	if err != nil {
		return err
	}
	s.setJSONCacheControl(w, dec)
	writeJSON(w, http.StatusOK, toJSON(it.m))
	return nil
}
