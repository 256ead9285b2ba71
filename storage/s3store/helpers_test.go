package s3store_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/xmppmedia/mediaserver/storage/s3store"
)

// partSize is the smallest S3 allows, so multipart bodies stay small.
const partSize = s3store.MinPartSize

func newStore(t testing.TB, cfg s3store.Config) *s3store.Store {
	t.Helper()
	if cfg.PartSize == 0 {
		cfg.PartSize = partSize
	}
	s, err := s3store.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("s3store.New: %v", err)
	}
	return s
}

// body yields size pseudo-random bytes determined by seed, without holding
// them: tests compare digests, not copies.
func body(seed uint64, size int64) io.Reader {
	return io.LimitReader(rand.NewChaCha8(seedBytes(seed)), size)
}

func seedBytes(seed uint64) [32]byte {
	var b [32]byte
	for i := range 8 {
		b[i] = byte(seed >> (8 * i))
	}
	return b
}

func digest(t testing.TB, r io.Reader) ([32]byte, int64) {
	t.Helper()
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return [32]byte(h.Sum(nil)), n
}

// bodyBytes is body in memory, for small bodies and ranges.
func bodyBytes(t testing.TB, seed uint64, size int64) []byte {
	t.Helper()
	b, err := io.ReadAll(body(seed, size))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// failingReader yields n bytes of body and then fails.
type failingReader struct {
	r   io.Reader
	n   int64
	err error
}

var errReaderBroke = errors.New("client went away")

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, f.err
	}
	if int64(len(p)) > f.n {
		p = p[:f.n]
	}
	n, err := f.r.Read(p)
	f.n -= int64(n)
	return n, err
}

// slowReader yields its body in small chunks with a pause between them, as a
// slow client would, and closes reached once signalAt bytes are out.
type slowReader struct {
	r        io.Reader
	chunk    int
	pause    time.Duration
	signalAt int64
	read     int64
	reached  chan struct{}
	once     sync.Once
}

func newSlowReader(r io.Reader, signalAt int64) *slowReader {
	return &slowReader{r: r, chunk: 64 << 10, pause: 5 * time.Millisecond, signalAt: signalAt, reached: make(chan struct{})}
}

func (s *slowReader) Read(p []byte) (int, error) {
	time.Sleep(s.pause)
	if len(p) > s.chunk {
		p = p[:s.chunk]
	}
	n, err := s.r.Read(p)
	s.read += int64(n)
	if s.read >= s.signalAt {
		s.once.Do(func() { close(s.reached) })
	}
	return n, err
}
