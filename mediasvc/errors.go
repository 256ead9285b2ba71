package mediasvc

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/xmppmedia/mediaserver/auth"
	"github.com/xmppmedia/mediaserver/storage"
	"github.com/xmppmedia/mediaserver/transform"
)

// httpError is an error the HTTP layer itself decides (a bad parameter, a
// missing field). Its message is safe to show to the client.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func errorf(status int, msg string) error { return &httpError{status: status, msg: msg} }

// retryAfterSeconds is sent with every 503 and 429: long enough for a
// reconnect, a busy worker pool or a queue of questions to clear, short
// enough for a phone to retry soon.
const retryAfterSeconds = "5"

// classify maps an error to its status and a message safe for clients. It
// is the one place where error kinds become HTTP statuses; internal error
// text never reaches a client.
func classify(err error) (int, string) {
	var he *httpError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &he):
		return he.status, he.msg
	case errors.As(err, &mbe), errors.Is(err, storage.ErrTooLarge):
		return http.StatusRequestEntityTooLarge, "upload too large"
	case errors.Is(err, transform.ErrTooManyPixels):
		return http.StatusRequestEntityTooLarge, "image has too many pixels"
	case errors.Is(err, auth.ErrNoCredentials):
		return http.StatusUnauthorized, "credentials required"
	case errors.Is(err, auth.ErrBadCredentials):
		return http.StatusBadRequest, "malformed credentials"
	case errors.Is(err, auth.ErrDenied):
		return http.StatusForbidden, "forbidden"
	case errors.Is(err, auth.ErrTooMany):
		return http.StatusTooManyRequests, "too many confirmations waiting, retry later"
	case errors.Is(err, auth.ErrUnavailable):
		return http.StatusServiceUnavailable, "XMPP unavailable, retry later"
	case errors.Is(err, storage.ErrUnavailable):
		return http.StatusServiceUnavailable, "storage unavailable, retry later"
	case errors.Is(err, transform.ErrBusy), errors.Is(err, errBusy):
		return http.StatusServiceUnavailable, "server busy, retry later"
	case errors.Is(err, storage.ErrNotFound):
		return http.StatusNotFound, "not found"
	case errors.Is(err, storage.ErrConflict):
		return http.StatusConflict, "conflict"
	case errors.Is(err, transform.ErrCorrupt):
		return http.StatusUnprocessableEntity, "corrupt image"
	case errors.Is(err, transform.ErrUnsupported):
		return http.StatusUnsupportedMediaType, "unsupported image format"
	case errors.Is(err, context.Canceled), errors.Is(err, errClientGone):
		return http.StatusBadRequest, "request cancelled"
	}
	return http.StatusInternalServerError, "internal error"
}

var (
	errBusy       = errors.New("too many requests in progress")
	errClientGone = errors.New("client stopped sending")
)

// writeError answers with the error's status and a short JSON body.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := classify(err)
	h := w.Header()
	switch status {
	case http.StatusUnauthorized:
		h.Set("WWW-Authenticate", `Basic realm="xmpp"`)
	case http.StatusServiceUnavailable, http.StatusTooManyRequests:
		h.Set("Retry-After", retryAfterSeconds)
	}
	level := slog.LevelDebug
	if status >= 500 {
		level = slog.LevelError
		if status == http.StatusServiceUnavailable {
			level = slog.LevelWarn
		}
	}
	s.log.Log(r.Context(), level, "request failed", "status", status, "err", err, "request_id", requestID(r.Context()))
	for _, k := range []string{"ETag", "Last-Modified", "Content-Disposition", "Accept-Ranges", "Content-Security-Policy"} {
		h.Del(k)
	}
	if status != http.StatusRequestedRangeNotSatisfiable {
		h.Del("Content-Range")
	}
	h.Set("Cache-Control", "no-store")
	writeJSON(w, status, map[string]string{"error": msg})
}
