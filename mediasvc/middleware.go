package mediasvc

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
)

// withPreflight answers OPTIONS on any path, before routing and without
// authentication; the CORS headers themselves are set for every response
// by withCommonHeaders.
func (s *Server) withPreflight(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodOptions {
			next.ServeHTTP(w, r)
			return
		}
		preflight(w)
	})
}

func preflight(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Access-Control-Allow-Methods", "GET, HEAD, POST, PUT, DELETE, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Requested-With")
	h.Set("Access-Control-Max-Age", "86400")
	h.Set("Allow", "GET, HEAD, POST, PUT, DELETE, OPTIONS")
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) withCommonHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		// URLs of this server carry credentials (?auth=...) by design: a
		// page or file served from here must never pass its URL on as a
		// Referer.
		h.Set("Referrer-Policy", "no-referrer")
		h.Add("Vary", "Origin")
		if origin := r.Header.Get("Origin"); origin != "" && validOrigin(origin) && s.originAllowed(origin) {
			// The origin is echoed, never "*": browsers refuse "*" with
			// credentials, and clients send credentials.
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Set("Access-Control-Expose-Headers", "Location, ETag, Content-Length")
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) originAllowed(origin string) bool {
	if len(s.cfg.CORSOrigins) == 0 {
		return true
	}
	for _, o := range s.cfg.CORSOrigins {
		if strings.EqualFold(strings.TrimRight(o, "/"), origin) {
			return true
		}
	}
	return false
}

// validOrigin accepts what a browser sends: scheme://host[:port] or "null".
func validOrigin(o string) bool {
	if o == "null" {
		return true
	}
	if len(o) > 512 {
		return false
	}
	u, err := url.Parse(o)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.Path == "" && u.RawQuery == "" && u.User == nil
}

func (s *Server) withRecover(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic serving request", "panic", v, "request_id", requestID(r.Context()), "stack", string(debug.Stack()))
				s.writeError(w, r, fmt.Errorf("panic: %v", v))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// statusWriter records what a handler answered, for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// ReadFrom keeps the ResponseWriter's ReadFrom (sendfile for a file)
// reachable through the access log's wrapper, counting what it sent.
func (w *statusWriter) ReadFrom(src io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(writerOnly{w.ResponseWriter}, src)
	}
	w.bytes += n
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) withAccessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		var body *countingBody
		if r.Body != nil && r.Body != http.NoBody {
			body = &countingBody{ReadCloser: r.Body}
			r.Body = body
		}
		next.ServeHTTP(sw, r)
		d := time.Since(start)
		// The path only: the query may carry credentials (auth=...).
		s.log.Info("request", "method", r.Method, "path", r.URL.Path, "status", sw.status,
			"bytes", sw.bytes, "duration_ms", d.Milliseconds(),
			"request_id", requestID(r.Context()), "remote", r.RemoteAddr)
		var in int64
		if body != nil {
			in = body.n
		}
		s.metrics.ObserveRequest(routeLabel(r), r.Method, sw.status, d, in, sw.bytes)
	})
}

// routeLabel is the route pattern chi matched, for metrics: raw paths
// carry entity names and media ids, which would make a label per item.
func routeLabel(r *http.Request) string {
	if r.Method == http.MethodOptions {
		return "preflight"
	}
	if rc := chi.RouteContext(r.Context()); rc != nil {
		// No route of the API has a wildcard: one in the pattern is chi's
		// not-found inside a subrouter.
		if p := rc.RoutePattern(); p != "" && !strings.Contains(p, "*") {
			if p != "/" {
				p = strings.TrimSuffix(p, "/")
			}
			return p
		}
	}
	return "unmatched"
}

// countingBody counts the request body bytes a handler read.
type countingBody struct {
	io.ReadCloser
	n int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	return n, err
}
