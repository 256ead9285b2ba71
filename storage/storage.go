// Package storage defines the blob and metadata stores the media server is
// built on. Each capability is its own small interface, in the manner of
// Perkeep's blobserver, so a backend implements what it can and callers
// ask (by type assertion) for optional extras such as ranged reads.
//
// Keys are chosen by the server, never by a client: a key is one or more
// path segments of [A-Za-z0-9._-] joined by '/', with no segment starting
// with '.'. ValidKey checks that, and every backend refuses anything else.
package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Errors every backend reports with these values (wrapped with context), so
// that the HTTP layer can map them to statuses in one place.
var (
	// ErrNotFound: the blob or record does not exist.
	ErrNotFound = errors.New("not found")
	// ErrTooLarge: a body exceeded the configured size limit; nothing was kept.
	ErrTooLarge = errors.New("too large")
	// ErrUnavailable: the backend could not be reached (network, timeouts).
	// The operation may succeed later; nothing half-done is visible.
	ErrUnavailable = errors.New("storage unavailable")
	// ErrInvalidKey: the key does not satisfy ValidKey.
	ErrInvalidKey = errors.New("invalid storage key")
	// ErrConflict: a record with this identity already exists.
	ErrConflict = errors.New("conflict")
)

// Fetcher reads whole blobs.
type Fetcher interface {
	// Fetch opens the blob stored under key and reports its size.
	// A missing blob is ErrNotFound. The caller closes the reader.
	Fetch(ctx context.Context, key string) (io.ReadCloser, int64, error)
}

// RangeFetcher is an optional extra of a Fetcher: a byte range without
// reading what precedes it.
type RangeFetcher interface {
	// FetchRange opens length bytes of the blob starting at offset. The range
	// must lie inside the blob. A missing blob is ErrNotFound. The caller
	// closes the reader.
	FetchRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error)
}

// CheckRange is the rule of RangeFetcher for a blob of size bytes under
// key: offset and length not negative, and the range inside the blob
// (written so that offset+length cannot overflow).
func CheckRange(key string, offset, length, size int64) error {
	if offset < 0 || length < 0 || offset > size || length > size-offset {
		return fmt.Errorf("fetch range %s: range %d+%d outside blob of %d bytes", key, offset, length, size)
	}
	return nil
}

// FileOpener is an optional extra of a Fetcher that keeps each blob as a
// local file. A server sends such a file with sendfile(2), from the page
// cache to the socket, instead of copying it through its own memory.
type FileOpener interface {
	// OpenFile opens the blob stored under key read-only, positioned at
	// its start. A missing blob is ErrNotFound. The caller closes the file
	// and never writes to it; the blob's content is that of Fetch.
	OpenFile(ctx context.Context, key string) (*os.File, error)
}

// Putter stores blobs.
type Putter interface {
	// Put stores everything r yields under key, replacing any blob there.
	// The blob becomes visible only once it is complete and durable: a
	// failure or cancellation part way leaves the previous state (no blob,
	// or the old one) and no partial data behind. Put returns the number of
	// bytes stored.
	Put(ctx context.Context, key string, r io.Reader) (int64, error)
}

// Remover deletes blobs.
type Remover interface {
	// Remove deletes the blobs under keys. Removing a missing blob is not an
	// error.
	Remove(ctx context.Context, keys ...string) error
}

// Blobs is a complete blob store.
type Blobs interface {
	Fetcher
	Putter
	Remover
}

// Sweeper is an optional extra of a blob store that keeps temporary state
// of its own (such as partly written files) which a crash can leave behind.
type Sweeper interface {
	// Sweep removes such leftovers. It is called once at start-up, before
	// the server accepts requests.
	Sweep(ctx context.Context) (removed int, err error)
}

// ValidKey reports whether key has the shape described in the package doc.
func ValidKey(key string) bool {
	if key == "" || len(key) > 512 {
		return false
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg[0] == '.' {
			return false
		}
		for i := 0; i < len(seg); i++ {
			c := seg[i]
			switch {
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
			default:
				return false
			}
		}
	}
	return true
}
