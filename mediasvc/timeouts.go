package mediasvc

import (
	"io"
	"log/slog"
	"math"
	"net/http"
	"time"
)

// Timeouts bound every phase of a connection, so a slow or stalled client
// (slowloris) cannot hold a connection or an upload slot for long. Bodies
// are bounded by inactivity rather than total time: a 100 MB upload over a
// slow mobile link is fine as long as bytes keep arriving.
type Timeouts struct {
	ReadHeader time.Duration // all request headers must arrive within this
	BodyIdle   time.Duration // longest pause while reading a body
	WriteIdle  time.Duration // longest pause while the client reads the answer
	Idle       time.Duration // keep-alive connections idle this long are closed
}

// DefaultTimeouts are generous for phones and strict for attackers.
func DefaultTimeouts() Timeouts {
	return Timeouts{ReadHeader: 10 * time.Second, BodyIdle: 60 * time.Second, WriteIdle: 60 * time.Second, Idle: 120 * time.Second}
}

// HTTPServer returns an http.Server for the API with the timeouts set.
func (s *Server) HTTPServer(t Timeouts) *http.Server {
	return &http.Server{
		Handler:           withIdleDeadlines(t, s.Handler()),
		ReadHeaderTimeout: t.ReadHeader,
		IdleTimeout:       t.Idle,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}

// withIdleDeadlines moves the connection's read deadline forward on every
// body read and its write deadline on every write.
func withIdleDeadlines(t Timeouts, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		// A shallow copy: the server's own *Request must keep its body,
		// which net/http inspects after the handler to decide whether to
		// drain what is left or close the connection. Replacing it made
		// the server wait for 256 KiB more of a refused upload's body
		// before sending the refusal.
		r = r.WithContext(r.Context())
		if t.BodyIdle > 0 {
			rc.SetReadDeadline(time.Now().Add(t.BodyIdle))
			r.Body = &idleReader{ReadCloser: r.Body, rc: rc, idle: t.BodyIdle}
		}
		if t.WriteIdle > 0 {
			rc.SetWriteDeadline(time.Now().Add(t.WriteIdle))
			w = &idleWriter{ResponseWriter: w, rc: rc, idle: t.WriteIdle}
		}
		next.ServeHTTP(w, r)
	})
}

type idleReader struct {
	io.ReadCloser
	rc   *http.ResponseController
	idle time.Duration
	last time.Time
}

func (r *idleReader) Read(p []byte) (int, error) {
	// Moving the deadline costs a syscall; once a second is plenty.
	if now := time.Now(); now.Sub(r.last) > time.Second {
		r.last = now
		r.rc.SetReadDeadline(now.Add(r.idle))
	}
	return r.ReadCloser.Read(p)
}

type idleWriter struct {
	http.ResponseWriter
	rc   *http.ResponseController
	idle time.Duration
	last time.Time
}

func (w *idleWriter) Write(p []byte) (int, error) {
	if now := time.Now(); now.Sub(w.last) > time.Second {
		w.last = now
		w.rc.SetWriteDeadline(now.Add(w.idle))
	}
	return w.ResponseWriter.Write(p)
}

// sendChunk is how much of a file idleWriter.ReadFrom hands the connection
// at once: small enough that a slow but steady client gets each chunk well
// within WriteIdle (as each Write of io.Copy's 32 KiB does), large enough
// that sendfile's calls cost nothing beside the bytes.
const sendChunk = 128 << 10

// ReadFrom passes a file on to the ResponseWriter's ReadFrom, which
// net/http turns into sendfile(2) when it is an *os.File (alone or in an
// *io.LimitedReader, not nested deeper), moving the write deadline between
// chunks as Write does.
func (w *idleWriter) ReadFrom(src io.Reader) (int64, error) {
	rf, ok := w.ResponseWriter.(io.ReaderFrom)
	if !ok {
		return io.Copy(writerOnly{w}, src)
	}
	remain := int64(math.MaxInt64)
	if lr, ok := src.(*io.LimitedReader); ok {
		src, remain = lr.R, lr.N
		defer func() { lr.N = remain }()
	}
	var total int64
	for remain > 0 {
		if now := time.Now(); now.Sub(w.last) > time.Second {
			w.last = now
			w.rc.SetWriteDeadline(now.Add(w.idle))
		}
		chunk := &io.LimitedReader{R: src, N: min(remain, sendChunk)}
		want := chunk.N
		n, err := rf.ReadFrom(chunk)
		total += n
		remain -= n
		if err != nil || n < want {
			return total, err
		}
	}
	return total, nil
}

// writerOnly hides a writer's ReadFrom from io.Copy.
type writerOnly struct{ io.Writer }

func (w *idleWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
