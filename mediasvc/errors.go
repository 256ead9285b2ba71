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

// kind is what is wrong with a request the HTTP layer itself refuses (a
// bad parameter, a missing field); classify gives each its status.
type kind int

const (
	invalidRequest      kind = iota + 1 // malformed: a parameter, a field, a body
	notFound                            // no such route, item or slot
	denied                              // understood, and not allowed
	tooLarge                            // over a size limit
	unsupportedType                     // a type this request cannot take
	conflict                            // the state does not allow it (a slot used twice)
	wrongMethod                         // not a method of this route
	rangeNotSatisfiable                 // a Range outside the file
	noPreviews                          // previews asked of a file that has none
	tooManyRequests                     // a per-client budget is spent
)

// kindStatus is the status of each kind.
var kindStatus = map[kind]int{
	invalidRequest:      http.StatusBadRequest,
	notFound:            http.StatusNotFound,
	denied:              http.StatusForbidden,
	tooLarge:            http.StatusRequestEntityTooLarge,
	unsupportedType:     http.StatusUnsupportedMediaType,
	conflict:            http.StatusConflict,
	wrongMethod:         http.StatusMethodNotAllowed,
	rangeNotSatisfiable: http.StatusRequestedRangeNotSatisfiable,
	noPreviews:          http.StatusPreconditionFailed,
	tooManyRequests:     http.StatusTooManyRequests,
}

// requestError is a refusal of the request by the HTTP layer. Its message
// is safe to show to the client.
type requestError struct {
	kind kind
	msg  string
}

func (e *requestError) Error() string { return e.msg }

// errorf refuses a request: kind decides the status (in classify), msg is
// what the client is told.
func errorf(k kind, msg string) error { return &requestError{kind: k, msg: msg} }

// retryAfterSeconds is sent with every 503 and 429: long enough for a
// reconnect, a busy worker pool or a queue of questions to clear, short
// enough for a phone to retry soon.
const retryAfterSeconds = "5"

// classify maps an error to its status and a message safe for clients. It
// is the one place where error kinds become HTTP statuses; internal error
// text never reaches a client.
func classify(err error) (int, string) {
	var re *requestError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &re):
		return kindStatus[re.kind], re.msg
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
