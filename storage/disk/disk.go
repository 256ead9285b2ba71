// Package disk stores blobs as files under a root directory. A key is a
// relative path (storage.ValidKey guarantees it cannot leave the root). A
// blob is written to a temporary file beside its destination, fsynced and
// renamed into place, so readers only ever see complete blobs and a crash
// leaves at most a temporary file that Sweep removes.
package disk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/xmppmedia/mediaserver/storage"
)

// tempPrefix starts with '.', which no valid key segment does, so a
// temporary file can never be mistaken for a blob.
const tempPrefix = ".tmp-"

// Config configures a Store.
type Config struct {
	Root string // directory holding the blobs; created if missing
}

// DefaultConfig keeps blobs under ./data/media (storage.disk.root).
func DefaultConfig() Config { return Config{Root: "./data/media"} }

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if c.Root == "" {
		return errors.New("storage.disk.root is empty")
	}
	return nil
}

// Store is a blob store on the local file system.
type Store struct {
	root string
}

var (
	_ storage.Blobs        = (*Store)(nil)
	_ storage.RangeFetcher = (*Store)(nil)
	_ storage.Sweeper      = (*Store)(nil)
	_ storage.FileOpener   = (*Store)(nil)
)

// New opens (creating if needed) the store at cfg.Root.
func New(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	root, err := filepath.Abs(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("disk store root: %w", err)
	}
	if err := os.MkdirAll(root, 0o750); err != nil {
		return nil, fmt.Errorf("disk store root: %w", err)
	}
	return &Store{root: root}, nil
}

func (s *Store) path(key string) (string, error) {
	if !storage.ValidKey(key) {
		return "", fmt.Errorf("%w: %q", storage.ErrInvalidKey, key)
	}
	return filepath.Join(s.root, filepath.FromSlash(key)), nil
}

// Fetch opens the blob under key.
func (s *Store) Fetch(ctx context.Context, key string) (io.ReadCloser, int64, error) {
	f, size, err := s.open("fetch", key)
	if err != nil {
		return nil, 0, err
	}
	return f, size, nil
}

// OpenFile opens the blob under key as the file it is.
func (s *Store) OpenFile(ctx context.Context, key string) (*os.File, error) {
	f, _, err := s.open("open", key)
	return f, err
}

// open opens the regular file of key and reports its size.
func (s *Store) open(op, key string) (*os.File, int64, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, 0, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, 0, mapErr(op, key, err)
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		f.Close()
		if err == nil {
			err = fs.ErrNotExist
		}
		return nil, 0, mapErr(op, key, err)
	}
	return f, st.Size(), nil
}

// FetchRange opens length bytes of the blob under key from offset.
func (s *Store) FetchRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	f, size, err := s.open("fetch", key)
	if err != nil {
		return nil, err
	}
	if err := storage.CheckRange(key, offset, length, size); err != nil {
		f.Close()
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.NewSectionReader(f, offset, length), f}, nil
}

// Put writes r to a temporary file, fsyncs it and renames it over key.
func (s *Store) Put(ctx context.Context, key string, r io.Reader) (int64, error) {
	p, err := s.path(key)
	if err != nil {
		return 0, err
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return 0, mapErr("put", key, err)
	}
	tmp, err := os.CreateTemp(dir, tempPrefix+"*")
	if err != nil {
		return 0, mapErr("put", key, err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	n, err := io.Copy(tmp, contextReader{ctx, r})
	if err != nil {
		return n, fmt.Errorf("put %s: %w", key, err)
	}
	if err := tmp.Sync(); err != nil {
		return n, mapErr("put", key, err)
	}
	if err := tmp.Close(); err != nil {
		return n, mapErr("put", key, err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return n, mapErr("put", key, err)
	}
	done = true
	// The rename is durable only once the directory entry is on disk.
	if d, err := os.Open(dir); err == nil {
		err = d.Sync()
		d.Close()
		if err != nil {
			return n, mapErr("put", key, err)
		}
	}
	return n, nil
}

// Remove deletes the blobs under keys; missing ones are skipped.
func (s *Store) Remove(ctx context.Context, keys ...string) error {
	var errs []error
	for _, key := range keys {
		p, err := s.path(key)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, mapErr("remove", key, err))
		}
	}
	return errors.Join(errs...)
}

// Sweep removes temporary files a crash left behind.
func (s *Store) Sweep(ctx context.Context) (int, error) {
	removed := 0
	err := filepath.WalkDir(s.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !d.IsDir() && strings.HasPrefix(d.Name(), tempPrefix) {
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			removed++
		}
		return nil
	})
	if err != nil {
		return removed, fmt.Errorf("sweep %s: %w", s.root, err)
	}
	return removed, nil
}

func mapErr(op, key string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s %s: %w", op, key, storage.ErrNotFound)
	}
	return fmt.Errorf("%s %s: %w: %v", op, key, storage.ErrUnavailable, err)
}

// contextReader stops a copy when the request is cancelled.
type contextReader struct {
	ctx context.Context
	r   io.Reader
}

func (c contextReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
