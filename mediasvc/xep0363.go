package mediasvc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/xmppmedia/mediaserver/auth"
	"github.com/xmppmedia/mediaserver/auth/xmppauth"
	"github.com/xmppmedia/mediaserver/mediasvc/httpupload"
	"github.com/xmppmedia/mediaserver/storage"
)

// The XEP-0363 side of the HTTP API (API.md, last section): the PUT of a
// slot's signed URL, streamed into the same store and through the same
// checks, previews and two-phase commit as a channel upload, and the GET
// of its capability URL, served like channel media. Both are 404 when the
// server has no upload service.

// slotOf reads the slot id and file name of the path.
func (s *Server) slotOf(r *http.Request) (id, name string, err error) {
	if s.slots == nil {
		return "", "", errorf(http.StatusNotFound, "not found")
	}
	id = chi.URLParam(r, "slotID")
	name, err = pathParam(r, "name")
	if err != nil || !httpupload.ValidSlotID(id) {
		return "", "", errorf(http.StatusNotFound, "not found")
	}
	return id, name, nil
}

// putSlot stores the file of a signed PUT URL. The URL's signature,
// expiry, size and type are checked before a byte is read; the size is
// enforced again while the body streams, and 201 comes only once blob,
// previews and record are durable. Any refusal keeps nothing.
func (s *Server) putSlot(w http.ResponseWriter, r *http.Request) error {
	id, name, err := s.slotOf(r)
	if err != nil {
		return err
	}
	g, err := s.slots.VerifyPut(id, name, r.URL.Query())
	switch {
	case errors.Is(err, httpupload.ErrExpired):
		return errorf(http.StatusForbidden, "upload URL expired: request a new slot")
	case err != nil:
		return errorf(http.StatusForbidden, "upload URL not valid")
	}
	ct, err := httpupload.CheckType(r.Header.Get("Content-Type"))
	if err != nil || ct != g.Type {
		return errorf(http.StatusBadRequest, "Content-Type differs from the slot request's")
	}
	switch {
	case r.ContentLength > g.Size:
		return errorf(http.StatusRequestEntityTooLarge, "body larger than the slot request's size")
	case r.ContentLength >= 0 && r.ContentLength != g.Size:
		return errorf(http.StatusBadRequest, "Content-Length differs from the slot request's size")
	}
	select {
	case s.uploads <- struct{}{}:
		defer func() { <-s.uploads }()
	default:
		return errBusy
	}
	up := &upload{s: s, entity: httpupload.Entity, id: g.ID, author: g.Requester}
	err = up.storeGrant(r.Context(), g, r.Body)
	if err == nil {
		err = up.finish(r.Context(), uploadForm{haveData: true, contentType: g.Type, fileName: g.Name}, false)
	}
	if err != nil {
		up.discard()
		return err
	}
	s.metrics.ObserveUpload(up.m.Size)
	w.Header().Set("Location", r.URL.Path)
	w.WriteHeader(http.StatusCreated)
	return nil
}

// storeGrant records the pending item with its announced size (so quotas
// count it while it streams) and stores exactly g.Size bytes of body.
func (u *upload) storeGrant(ctx context.Context, g httpupload.Grant, body io.Reader) error {
	now := u.s.now()
	u.m = storage.Media{
		ID: u.id, Entity: u.entity, Author: u.author, FileName: g.Name, MimeType: g.Type, Size: g.Size,
		Uploaded: now, Updated: now, BlobKey: originalKey(u.entity, u.id),
	}
	if err := u.s.meta.Begin(ctx, u.m); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return errorf(http.StatusConflict, "upload URL already used")
		}
		return fmt.Errorf("begin upload %s: %w", u.id, err)
	}
	u.begun = true
	// Checked again with this upload counted: two slots granted at once
	// must not both pass a quota that only one fits.
	if err := u.s.slots.CheckQuota(ctx, u.author, 0); err != nil {
		var qe *xmppauth.QuotaError
		if errors.As(err, &qe) {
			return errorf(http.StatusForbidden, "upload quota reached")
		}
		return err
	}
	limit := &storage.Policy{Blobs: u.s.blobs.Blobs, MaxBytes: g.Size}
	// The body's own errors end the copy; a cancelled request must not
	// leave the store half way through a write it would then keep.
	sum, err := limit.PutSum(context.WithoutCancel(ctx), u.m.BlobKey, body)
	if err != nil {
		return fmt.Errorf("store upload %s: %w", u.id, err)
	}
	if sum.Size != g.Size {
		return errorf(http.StatusBadRequest, "body shorter than the slot request's size")
	}
	u.m.Size, u.m.SHA1 = sum.Size, sum.SHA1
	if u.s.hookBlobWritten != nil {
		u.s.hookBlobWritten()
	}
	return nil
}

// getSlot serves an upload's file, or a preview with maxwidth/maxheight,
// to whoever has the URL: it is the capability (128 random bits).
func (s *Server) getSlot(w http.ResponseWriter, r *http.Request) error {
	id, name, err := s.slotOf(r)
	if err != nil {
		return err
	}
	it, err := s.meta.item(r.Context(), httpupload.Entity, id)
	if err != nil {
		return fmt.Errorf("upload %s: %w", id, err)
	}
	m := it.m
	// The name is part of the URL that was handed out; another name, or
	// a file past retention the sweep has not reached yet, is not there.
	if m.FileName != name || s.slots.Expired(m.Uploaded) {
		return errorf(http.StatusNotFound, "not found")
	}
	return s.serveMedia(w, r, it, auth.Decision{Public: true})
}

// expiryBatch bounds the items one pass of ExpireUploads reads at a time.
const expiryBatch = 100

// ExpireUploads removes the XEP-0363 uploads older than the configured
// retention: record first (so nothing half-removed is ever served), then
// original, previews and poster. It returns how many it removed. Several
// servers may run it at once: an item another removed is skipped.
func (s *Server) ExpireUploads(ctx context.Context) (int, error) {
	if s.slots == nil || s.slots.ExpireAfter() == 0 {
		return 0, nil
	}
	ledger, ok := s.meta.Metadata.(storage.UploadLedger)
	if !ok {
		return 0, errors.New("expire uploads: the metadata store keeps no upload ledger")
	}
	before := s.now().Add(-s.slots.ExpireAfter())
	removed := 0
	for {
		items, err := ledger.UploadedBefore(ctx, httpupload.Entity, before, expiryBatch)
		if err != nil {
			return removed, fmt.Errorf("expire uploads: %w", err)
		}
		for _, m := range items {
			deleted, previews, err := s.meta.Delete(ctx, m.Entity, m.ID)
			if errors.Is(err, storage.ErrNotFound) {
				continue
			}
			if err != nil {
				return removed, fmt.Errorf("expire upload %s: %w", m.ID, err)
			}
			if err := s.removeBlobs(context.WithoutCancel(ctx), deleted, previews); err != nil {
				s.log.Warn("expire upload: unreachable blobs left behind", "id", deleted.ID, "err", err)
			}
			removed++
		}
		if len(items) < expiryBatch {
			return removed, nil
		}
	}
}

// RunUploadExpiry runs ExpireUploads every interval until ctx ends.
func (s *Server) RunUploadExpiry(ctx context.Context, every time.Duration) {
	s.repeat(ctx, every, "upload expiry", s.ExpireUploads)
}
