package mediasvc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/xmppmedia/mediaserver/storage"
)

// blobResponse describes a stored file to send.
type blobResponse struct {
	entity       string // whose file it is
	key          string
	size         int64
	etag         string
	modified     time.Time
	lastModified string // modified in http.TimeFormat, when computed already
	mimeType     string
	fileName     string
	public       bool
	maxAge       time.Duration // auth.Decision.MaxAge
	data         []byte        // the content when it is in memory (a derived preview); else read by key
}

// inlineTypes are shown by browsers without running anything. Everything
// else is sent as an attachment under a sandboxing CSP, so an uploaded
// HTML or SVG file cannot script this origin.
var inlineTypes = map[string]bool{
	"image/jpeg": true, "image/png": true, "image/gif": true, "image/webp": true, "image/bmp": true,
	"audio/mpeg": true, "audio/ogg": true, "audio/wav": true, "audio/webm": true, "audio/aac": true,
	"audio/mp4": true, "audio/flac": true, "audio/x-wav": true,
	"video/mp4": true, "video/webm": true, "video/ogg": true, "video/quicktime": true,
}

// serveBlob sends a stored file with validators, conditional requests and
// byte ranges.
func (s *Server) serveBlob(w http.ResponseWriter, r *http.Request, b blobResponse) error {
	h := w.Header()
	h.Set("ETag", b.etag)
	if b.lastModified == "" {
		b.lastModified = b.modified.UTC().Format(http.TimeFormat)
	}
	h.Set("Last-Modified", b.lastModified)
	h.Set("Accept-Ranges", "bytes")
	setCacheControl(h, b.public, s.cfg.PublicMaxAge, 300*time.Second, b.maxAge)
	mt := strings.ToLower(b.mimeType)
	if mt == "" {
		mt = "application/octet-stream"
	}
	h.Set("Content-Type", mt)
	if !inlineTypes[mt] {
		params := map[string]string{}
		if b.fileName != "" {
			params["filename"] = b.fileName
		}
		disp := mime.FormatMediaType("attachment", params)
		if disp == "" {
			disp = "attachment"
		}
		h.Set("Content-Disposition", disp)
		h.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	}

	if notModified(r, b.etag, b.modified) {
		for _, k := range []string{"Content-Type", "Content-Disposition", "Content-Length"} {
			h.Del(k)
		}
		w.WriteHeader(http.StatusNotModified)
		return nil
	}

	offset, length, status := int64(0), b.size, http.StatusOK
	if rh := r.Header.Get("Range"); rh != "" && ifRangeHolds(r, b.etag, b.modified) {
		start, n, ok, satisfiable := parseRange(rh, b.size)
		if ok && !satisfiable {
			h.Set("Content-Range", fmt.Sprintf("bytes */%d", b.size))
			return errorf(http.StatusRequestedRangeNotSatisfiable, "range not satisfiable")
		}
		if ok {
			offset, length, status = start, n, http.StatusPartialContent
			h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, start+n-1, b.size))
		}
	}
	h.Set("Content-Length", strconv.FormatInt(length, 10))
	if r.Method == http.MethodHead {
		w.WriteHeader(status)
		return nil
	}
	if b.data != nil {
		w.WriteHeader(status)
		w.Write(b.data[offset : offset+length])
		return nil
	}
	if b.size <= maxCachedFile {
		data, err := s.meta.file(b.entity, b.key, b.size, func() ([]byte, error) { return s.readSmall(r.Context(), b) })
		if err != nil {
			h.Del("Content-Length")
			h.Del("Content-Range")
			return fmt.Errorf("open %s: %w", b.key, err)
		}
		w.WriteHeader(status)
		if int64(len(data)) < offset+length {
			// The file changed under its record: cut the response short,
			// as a file shorter than its record would be below.
			s.log.Warn("send file", "key", b.key, "err", "stored file shorter than its record", "request_id", requestID(r.Context()))
			return nil
		}
		w.Write(data[offset : offset+length])
		return nil
	}
	var rc io.ReadCloser
	var err error
	if fo, ok := s.blobs.Blobs.(storage.FileOpener); ok {
		// A local file: io.CopyN below hands it to the connection's
		// ReadFrom, which sends it with sendfile(2).
		rc, err = openFileAt(r.Context(), fo, b.key, offset)
	} else if status == http.StatusPartialContent {
		rc, err = s.blobs.FetchRange(r.Context(), b.key, offset, length)
	} else {
		rc, _, err = s.blobs.Fetch(r.Context(), b.key)
	}
	if err != nil {
		h.Del("Content-Length")
		h.Del("Content-Range")
		return fmt.Errorf("open %s: %w", b.key, err)
	}
	defer rc.Close()
	w.WriteHeader(status)
	if _, err := io.CopyN(w, rc, length); err != nil && !errors.Is(err, context.Canceled) {
		// Headers are gone; all we can do is cut the response short.
		s.log.Warn("send file", "key", b.key, "err", err, "request_id", requestID(r.Context()))
	}
	return nil
}

// readSmall reads a small stored file whole.
func (s *Server) readSmall(ctx context.Context, b blobResponse) ([]byte, error) {
	rc, _, err := s.blobs.Fetch(ctx, b.key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxCachedFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", b.key, err)
	}
	return data, nil
}

// openFileAt opens the file of key positioned at offset.
func openFileAt(ctx context.Context, fo storage.FileOpener, key string, offset int64) (*os.File, error) {
	f, err := fo.OpenFile(ctx, key)
	if err != nil {
		return nil, err
	}
	if offset > 0 {
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			f.Close()
			return nil, fmt.Errorf("seek %s: %w: %v", key, storage.ErrUnavailable, err)
		}
	}
	return f, nil
}
