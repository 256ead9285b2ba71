package storage

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
)

// Sum describes a stored blob.
type Sum struct {
	Size int64
	SHA1 string // hex
}

// Policy wraps any blob store with the server's policy: a size limit
// enforced while the body streams in, and the SHA-1 and size computed on
// the way. It is itself a Blobs, so it can sit wherever a store does.
type Policy struct {
	Blobs
	// MaxBytes bounds every Put; 0 means no limit.
	MaxBytes int64
}

var (
	_ Blobs        = (*Policy)(nil)
	_ RangeFetcher = (*Policy)(nil)
)

// Put stores r under key within the size limit.
func (p *Policy) Put(ctx context.Context, key string, r io.Reader) (int64, error) {
	sum, err := p.PutSum(ctx, key, r)
	return sum.Size, err
}

// PutSum stores r under key and reports its size and SHA-1. A body over
// MaxBytes is ErrTooLarge and nothing is stored: the backend sees a read
// error part way and, by the Putter contract, keeps nothing.
func (p *Policy) PutSum(ctx context.Context, key string, r io.Reader) (Sum, error) {
	lr := &limitedHashReader{r: r, max: p.MaxBytes, h: sha1.New()}
	n, err := p.Blobs.Put(ctx, key, lr)
	if lr.over {
		if err == nil {
			// A backend that ignored the read error must not keep the blob.
			p.Blobs.Remove(context.WithoutCancel(ctx), key)
		}
		return Sum{}, fmt.Errorf("put %s: %w (limit %d bytes)", key, ErrTooLarge, p.MaxBytes)
	}
	if err != nil {
		return Sum{}, err
	}
	if n != lr.n {
		return Sum{}, fmt.Errorf("put %s: backend stored %d of %d bytes", key, n, lr.n)
	}
	return Sum{Size: n, SHA1: hex.EncodeToString(lr.h.Sum(nil))}, nil
}

// FetchRange uses the backend's ranged read where it has one, else reads
// and discards what precedes the range.
func (p *Policy) FetchRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	return FetchRange(ctx, p.Blobs, key, offset, length)
}

// FetchRange reads a range of a blob from any Fetcher, with a ranged read
// where the store offers one.
func FetchRange(ctx context.Context, f Fetcher, key string, offset, length int64) (io.ReadCloser, error) {
	if rf, ok := f.(RangeFetcher); ok {
		return rf.FetchRange(ctx, key, offset, length)
	}
	rc, size, err := f.Fetch(ctx, key)
	if err != nil {
		return nil, err
	}
	if err := CheckRange(key, offset, length, size); err != nil {
		rc.Close()
		return nil, err
	}
	if _, err := io.CopyN(io.Discard, rc, offset); err != nil {
		rc.Close()
		return nil, fmt.Errorf("fetch range %s: %w", key, err)
	}
	return struct {
		io.Reader
		io.Closer
	}{io.LimitReader(rc, length), rc}, nil
}

var errOverLimit = errors.New("body over the size limit")

type limitedHashReader struct {
	r    io.Reader
	max  int64
	n    int64
	h    hash.Hash
	over bool
}

func (l *limitedHashReader) Read(b []byte) (int, error) {
	if l.over {
		return 0, errOverLimit
	}
	n, err := l.r.Read(b)
	l.n += int64(n)
	if l.max > 0 && l.n > l.max {
		l.over = true
		return 0, fmt.Errorf("%w: %w", ErrTooLarge, errOverLimit)
	}
	l.h.Write(b[:n])
	return n, err
}
