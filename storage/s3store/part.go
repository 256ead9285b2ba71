package s3store

import (
	"context"
	"errors"
	"io"
	"sync"
)

// chunkSize is the unit part buffers grow by. A Put holds memory in
// proportion to what it has read, rounded up to a chunk, so that many
// concurrent small Puts (previews) do not each pin a whole part.
const chunkSize = 64 << 10

// chunkPool recycles chunks between parts and uploads.
type chunkPool struct{ pool sync.Pool }

func newChunkPool() *chunkPool {
	return &chunkPool{pool: sync.Pool{New: func() any { return new([chunkSize]byte) }}}
}

// part is up to one part of a body, held in chunks.
type part struct {
	chunks []*[chunkSize]byte
	size   int
}

// readPart reads up to limit bytes of r into a new part. The error is nil
// when the part is full, io.EOF when r ended (the part may hold the last
// bytes, or none), and otherwise why reading stopped: r failed, or ctx was
// done (such as when an upload of an earlier part failed). On an error
// other than io.EOF the part has been released.
func (c *chunkPool) readPart(ctx context.Context, r io.Reader, limit int) (*part, error) {
	p := &part{}
	for p.size < limit {
		chunk := c.pool.Get().(*[chunkSize]byte)
		p.chunks = append(p.chunks, chunk)
		n, err := fill(ctx, r, chunk[:min(chunkSize, limit-p.size)])
		p.size += n
		if err == io.EOF {
			return p, io.EOF
		}
		if err != nil {
			c.release(p)
			return nil, err
		}
	}
	return p, nil
}

// release returns the part's chunks to the pool; the part must not be used
// afterwards.
func (c *chunkPool) release(p *part) {
	for _, chunk := range p.chunks {
		c.pool.Put(chunk)
	}
	p.chunks, p.size = nil, 0
}

// fill reads r into buf until buf is full (nil error), r ends (io.EOF,
// possibly with buf full) or fails. It stops early when ctx is done.
func fill(ctx context.Context, r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// reader returns a reader of the part's bytes. It is seekable, which the
// SDK needs to sign the body and to send it again on a retry.
func (p *part) reader() io.ReadSeeker { return &partReader{p: p} }

type partReader struct {
	p   *part
	off int64
}

func (r *partReader) Read(b []byte) (int, error) {
	if r.off >= int64(r.p.size) {
		return 0, io.EOF
	}
	n := 0
	for n < len(b) && r.off < int64(r.p.size) {
		chunk := r.p.chunks[r.off/chunkSize]
		start := int(r.off % chunkSize)
		end := min(chunkSize, start+int(int64(r.p.size)-r.off))
		m := copy(b[n:], chunk[start:end])
		n += m
		r.off += int64(m)
	}
	return n, nil
}

// WriteTo hands over the chunks as they are, saving io.Copy a buffer and a
// copy per chunk when the SDK hashes and sends the part.
func (r *partReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for r.off < int64(r.p.size) {
		chunk := r.p.chunks[r.off/chunkSize]
		start := int(r.off % chunkSize)
		end := min(chunkSize, start+int(int64(r.p.size)-r.off))
		n, err := w.Write(chunk[start:end])
		r.off += int64(n)
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func (r *partReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += r.off
	case io.SeekEnd:
		offset += int64(r.p.size)
	default:
		return 0, errors.New("part reader: invalid whence")
	}
	if offset < 0 {
		return 0, errors.New("part reader: negative position")
	}
	r.off = offset
	return offset, nil
}
