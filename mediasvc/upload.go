package mediasvc

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/xmppmedia/mediaserver/auth"
	"github.com/xmppmedia/mediaserver/storage"
	"github.com/xmppmedia/mediaserver/transform"
	"github.com/xmppmedia/mediaserver/transform/poster"
)

// Multipart framing and form fields around the file; the file itself is
// bounded separately by MaxUploadBytes.
const bodyOverhead = 1 << 20

func (s *Server) uploadMedia(w http.ResponseWriter, r *http.Request) error {
	return s.receive(w, r, false)
}

func (s *Server) putAvatar(w http.ResponseWriter, r *http.Request) error {
	id, err := mediaIDOf(r)
	if err != nil || id != avatarID {
		w.Header().Set("Allow", "GET, HEAD, POST, DELETE, OPTIONS")
		return errorf(wrongMethod, "PUT is only for /{entity}/avatar")
	}
	return s.receive(w, r, true)
}

// receive runs an upload: authorize before reading the body, stream the
// file into the blob store under a pending metadata record, check and
// preview it, and only then commit. Any failure removes what was written.
func (s *Server) receive(w http.ResponseWriter, r *http.Request, asAvatar bool) error {
	entity, err := entityOf(r)
	if err != nil {
		return err
	}
	op := auth.OpUpload
	if asAvatar {
		op = auth.OpAvatar
	}
	dec, err := s.authorize(r, op, entity, "")
	if err != nil {
		return err
	}
	// The slot is taken only once the upload is confirmed: anyone can
	// send uploads naming a publisher whose confirmation never comes, and
	// those must not hold the slots for the reply timeout.
	select {
	case s.uploads <- struct{}{}:
		defer func() { <-s.uploads }()
	default:
		return errBusy
	}

	maxBody := s.cfg.MaxUploadBytes + bodyOverhead
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/x-www-form-urlencoded" {
		// base64 (4/3) with its '+' and '/' percent-encoded (up to 3x).
		maxBody = s.cfg.MaxUploadBytes/3*4*3 + bodyOverhead
	}
	if r.ContentLength > maxBody {
		return errorf(tooLarge, "upload too large")
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)

	up := &upload{s: s, entity: entity.String(), id: newMediaID(), author: dec.User.String()}
	defer up.closeSpool()
	form, err := readUploadBody(r, s.cfg.MaxUploadBytes, up.storeData)
	if err == nil {
		err = up.finish(r.Context(), form, asAvatar)
	}
	if err != nil {
		up.discard()
		return err
	}
	s.metrics.ObserveUpload(up.m.Size)
	w.Header().Set("Location", "/"+up.m.Entity+"/"+up.m.ID)
	writeJSON(w, http.StatusCreated, toJSON(up.m))
	return nil
}

// upload is one upload in progress.
type upload struct {
	s        *Server
	entity   string
	id       string
	author   string
	begun    bool
	m        storage.Media
	previews []storage.Preview
	// spool holds the file's bytes as they came in when the blob store is
	// not local (S3): checking, measuring and previewing the upload read
	// it there rather than fetching back the object just stored.
	spool *os.File
	// previewFrom, when set, is what previews are made from instead of
	// the stored file: an avatar's crop, a video's poster frame.
	previewFrom []byte
}

// storeData records the pending item and streams the file into the store.
func (u *upload) storeData(data io.Reader) error {
	ctx := context.Background() // the body's own errors end the copy
	now := u.s.now()
	u.m = storage.Media{
		ID: u.id, Entity: u.entity, Author: u.author,
		Uploaded: now, Updated: now, BlobKey: originalKey(u.entity, u.id),
	}
	if err := u.s.meta.Begin(ctx, u.m); err != nil {
		return fmt.Errorf("begin upload %s: %w", u.id, err)
	}
	u.begun = true
	if _, local := u.s.blobs.Blobs.(storage.FileOpener); !local {
		spool, err := os.CreateTemp("", "mediaserver-upload-*")
		if err != nil {
			return fmt.Errorf("spool upload %s: %w: %v", u.id, storage.ErrUnavailable, err)
		}
		u.spool = spool
		data = io.TeeReader(data, spool)
	}
	sum, err := u.s.blobs.PutSum(ctx, u.m.BlobKey, data)
	if err != nil {
		return fmt.Errorf("store upload %s: %w", u.id, err)
	}
	u.m.Size, u.m.SHA1 = sum.Size, sum.SHA1
	if u.s.hookBlobWritten != nil {
		u.s.hookBlobWritten()
	}
	return nil
}

// stored opens the stored file's bytes: the spool, or the blob in a local
// store.
func (u *upload) stored(ctx context.Context) (io.ReadCloser, error) {
	if u.spool != nil {
		return io.NopCloser(io.NewSectionReader(u.spool, 0, u.m.Size)), nil
	}
	rc, _, err := u.s.blobs.Fetch(ctx, u.m.BlobKey)
	if err != nil {
		return nil, fmt.Errorf("read upload %s: %w", u.id, err)
	}
	return rc, nil
}

// closeSpool removes the spool once the upload is over.
func (u *upload) closeSpool() {
	if u.spool != nil {
		u.spool.Close()
		os.Remove(u.spool.Name())
	}
}

// finish validates the fields, inspects and previews images, and commits.
func (u *upload) finish(ctx context.Context, form uploadForm, asAvatar bool) error {
	if !form.haveData {
		return errorf(invalidRequest, "missing data field")
	}
	mimeType, err := normalizeMIME(form.contentType, form.partContentType)
	if err != nil {
		return err
	}
	u.m.MimeType = mimeType
	u.m.FileName = form.fileName
	if u.m.FileName == "" {
		u.m.FileName = form.partFileName
	}
	u.m.Title, u.m.Description = form.title, form.description
	u.m.Extension = extensionOf(u.m.FileName)
	if u.m.Extension == "" {
		if exts, _ := mime.ExtensionsByType(mimeType); len(exts) > 0 {
			u.m.Extension = strings.TrimPrefix(exts[0], ".")
		}
	}
	u.m.Avatar = asAvatar

	isImage := transform.IsImageType(mimeType)
	if asAvatar && !isImage {
		return errorf(unsupportedType, "an avatar must be a JPEG, PNG, GIF or WebP image")
	}
	if isImage {
		// The avatar's crop knows its size; other images read their header.
		if asAvatar {
			if err := u.cropAvatar(ctx); err != nil {
				return err
			}
		} else if err := u.inspect(ctx); err != nil {
			return err
		}
		if err := u.makePreviews(ctx); err != nil {
			return err
		}
	}
	if isVideo(mimeType) && u.s.posters != nil {
		if err := u.makePoster(ctx); err != nil {
			return err
		}
	}

	prev, prevPreviews, err := u.s.meta.Commit(ctx, u.m, asAvatar)
	if err != nil {
		// Whether a failed commit took effect may be unknown (a lost
		// reply). Removing the blobs now could orphan a visible item, so
		// they stay: if the item is still pending, the janitor removes it
		// with its blobs; if it was committed, it is complete.
		u.begun = false
		return fmt.Errorf("commit upload %s: %w", u.id, err)
	}
	u.begun = false // committed: no longer ours to discard
	for _, p := range u.previews {
		if err := u.s.meta.PutPreview(ctx, p); err != nil {
			// The item is stored; the preview is made again on request.
			u.s.log.Warn("record preview", "id", u.id, "box", fmt.Sprintf("%dx%d", p.Width, p.Height), "err", err)
		}
	}
	if prev != nil {
		if err := u.s.removeBlobs(context.WithoutCancel(ctx), *prev, prevPreviews); err != nil {
			u.s.log.Warn("remove replaced avatar", "id", prev.ID, "err", err)
		}
	}
	return nil
}

// normalizeMIME picks the content-type field over the part's own type and
// checks it is a well-formed media type.
func normalizeMIME(field, part string) (string, error) {
	v := field
	if v == "" {
		v = part
	}
	if v == "" {
		return "", errorf(invalidRequest, "missing content-type")
	}
	mt, _, err := mime.ParseMediaType(v)
	if err != nil || !strings.Contains(mt, "/") || len(mt) > 255 {
		return "", errorf(invalidRequest, "content-type is not a media type")
	}
	return mt, nil
}

func (u *upload) cropAvatar(ctx context.Context) error {
	rc, err := u.stored(ctx)
	if err != nil {
		return err
	}
	img, err := u.s.images.AvatarContext(ctx, rc)
	rc.Close()
	if err != nil {
		return fmt.Errorf("crop avatar %s: %w", u.id, err)
	}
	sum, err := u.s.blobs.PutSum(ctx, u.m.BlobKey, bytesReader(img.Data))
	if err != nil {
		return fmt.Errorf("store avatar %s: %w", u.id, err)
	}
	u.m.Size, u.m.SHA1, u.m.MimeType = sum.Size, sum.SHA1, img.MimeType
	u.m.Width, u.m.Height = img.Width, img.Height
	u.previewFrom = img.Data
	if exts, _ := mime.ExtensionsByType(img.MimeType); len(exts) > 0 && extensionOf(u.m.FileName) != strings.TrimPrefix(exts[0], ".") {
		u.m.Extension = strings.TrimPrefix(exts[0], ".")
	}
	return nil
}

func (u *upload) inspect(ctx context.Context) error {
	rc, err := u.stored(ctx)
	if err != nil {
		return err
	}
	defer rc.Close()
	info, err := u.s.images.Inspect(rc)
	if err != nil {
		return fmt.Errorf("inspect upload %s: %w", u.id, err)
	}
	u.m.Width, u.m.Height = info.Width, info.Height
	return nil
}

// makePreviews renders the device sizes now, so the first phone that asks
// gets a stored file, and the placeholder pages draw while they load
// (from the same decode).
func (u *upload) makePreviews(ctx context.Context) error {
	// From the bytes at hand, never the blob store: the file's own
	// (spool or local blob), or the crop or poster frame just made.
	var rc io.ReadCloser
	srcSize := u.m.Size
	if u.previewFrom != nil {
		rc = io.NopCloser(bytes.NewReader(u.previewFrom))
		if isVideo(u.m.MimeType) {
			_, srcSize = previewSource(u.m)
		}
	} else {
		var err error
		if rc, err = u.stored(ctx); err != nil {
			return err
		}
	}
	start := time.Now()
	imgs, placeholder, err := u.s.images.PreviewsAndPlaceholder(ctx, rc, srcSize, u.s.upload)
	u.s.metrics.ObservePreview("upload", time.Since(start), err)
	rc.Close()
	if err != nil {
		return fmt.Errorf("previews of %s: %w", u.id, err)
	}
	u.m.Placeholder = base64.StdEncoding.EncodeToString(placeholder)
	for i, img := range imgs {
		p, err := u.s.storePreview(ctx, u.m, u.s.upload[i], img)
		if err != nil {
			return err
		}
		u.previews = append(u.previews, p)
	}
	return nil
}

// makePoster gives a video its dimensions, duration and previews: the
// tools need a file, which is the spool, or the stored video when the
// store is local (else a temporary copy of it); a frame is taken, stored
// beside the video, and previewed like an image. A video the tools cannot
// read is kept as a file without previews.
func (u *upload) makePoster(ctx context.Context) error {
	path, done, err := u.videoFile(ctx)
	if err != nil {
		return fmt.Errorf("poster of %s: %w", u.id, err)
	}
	defer done()
	// ffmpeg takes one of the image workers' slots: video and image work
	// share one bound on CPU-heavy work. Released before the previews,
	// which take a slot of their own.
	release, err := u.s.images.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("poster of %s: %w", u.id, err)
	}
	info, err := u.s.posters.Probe(ctx, path)
	var frame []byte
	if err == nil {
		frame, err = u.s.posters.Frame(ctx, path, info)
	}
	release()
	if err == nil {
		if _, err := u.s.blobs.Put(ctx, posterKey(u.entity, u.id), bytesReader(frame)); err != nil {
			return fmt.Errorf("store poster of %s: %w", u.id, err)
		}
		u.m.Width, u.m.Height, u.m.LengthMS = info.Width, info.Height, info.DurationMS
		u.previewFrom = frame
		return u.makePreviews(ctx)
	}
	if errors.Is(err, poster.ErrNoVideo) {
		u.s.log.Info("video without previews", "id", u.id, "err", err)
		return nil
	}
	return fmt.Errorf("poster of %s: %w", u.id, err)
}

// videoFile is a path holding the uploaded video, and what to call when
// done with it.
func (u *upload) videoFile(ctx context.Context) (string, func(), error) {
	if u.spool != nil {
		return u.spool.Name(), func() {}, nil
	}
	if fo, ok := u.s.blobs.Blobs.(storage.FileOpener); ok {
		f, err := fo.OpenFile(ctx, u.m.BlobKey)
		if err != nil {
			return "", nil, err
		}
		return f.Name(), func() { f.Close() }, nil
	}
	tmp, err := os.CreateTemp("", "mediaserver-video-*")
	if err != nil {
		return "", nil, err
	}
	done := func() { tmp.Close(); os.Remove(tmp.Name()) }
	rc, err := u.stored(ctx)
	if err == nil {
		_, err = io.Copy(tmp, rc)
		rc.Close()
	}
	if err != nil {
		done()
		return "", nil, fmt.Errorf("copy: %w", err)
	}
	return tmp.Name(), done, nil
}

// discard removes whatever a failed upload wrote. It runs even when the
// client has gone, hence its own context.
func (u *upload) discard() {
	if !u.begun {
		return
	}
	ctx := context.Background()
	if err := u.s.removeBlobs(ctx, u.m, u.previews); err != nil {
		// The pending record stays, so the janitor retries once the
		// store is back.
		u.s.log.Warn("discard upload: blobs left for the janitor", "id", u.id, "err", err)
		return
	}
	if err := u.s.meta.Abort(ctx, u.entity, u.id); err != nil {
		u.s.log.Warn("abort upload: left for the janitor", "id", u.id, "err", err)
	}
}

// removeBlobs deletes an item's original and every preview it may have:
// the recorded ones and every box of the bounded set, which also catches a
// preview stored just before a crash but never recorded.
func (s *Server) removeBlobs(ctx context.Context, m storage.Media, previews []storage.Preview) error {
	keys := []string{m.BlobKey}
	for _, p := range previews {
		keys = append(keys, p.BlobKey)
	}
	for _, b := range s.boxes {
		keys = append(keys, previewKey(m.Entity, m.ID, b))
	}
	keys = append(keys, posterKey(m.Entity, m.ID))
	if err := s.blobs.Remove(ctx, dedupe(keys)...); err != nil {
		return fmt.Errorf("remove blobs of %s: %w", m.ID, err)
	}
	return nil
}

func dedupe(keys []string) []string {
	seen := make(map[string]bool, len(keys))
	out := keys[:0]
	for _, k := range keys {
		if k != "" && !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}
