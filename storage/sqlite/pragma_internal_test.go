package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/xmppmedia/mediaserver/storage"
)

// TestConnectionSettings checks the settings the package doc promises on
// the connections the store really uses: they are per connection in
// SQLite, so only the store's own pools can show them.
func TestConnectionSettings(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Config{Path: filepath.Join(t.TempDir(), "media.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tests := []struct {
		pragma string
		writer string
		reader string
	}{
		{"journal_mode", "wal", "wal"},
		{"synchronous", "2", "2"}, // FULL
		{"foreign_keys", "1", "1"},
		{"busy_timeout", "5000", "5000"},
		{"query_only", "0", "1"},
	}
	for _, tc := range tests {
		var w, r string
		if err := s.b.writer.QueryRowContext(ctx, "PRAGMA "+tc.pragma).Scan(&w); err != nil {
			t.Fatal(err)
		}
		if err := s.b.reader.QueryRowContext(ctx, "PRAGMA "+tc.pragma).Scan(&r); err != nil {
			t.Fatal(err)
		}
		if w != tc.writer || r != tc.reader {
			t.Errorf("PRAGMA %s: writer %s, reader %s; want %s, %s", tc.pragma, w, r, tc.writer, tc.reader)
		}
	}
	if n := s.b.writer.Stats().MaxOpenConnections; n != 1 {
		t.Errorf("writer pool allows %d connections, want 1", n)
	}
}

// TestDeadlineWhileWriterBusy checks that a write waiting for the single
// writer connection gives up at its context's deadline, with
// storage.ErrUnavailable, and leaves nothing behind.
func TestDeadlineWhileWriterBusy(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Config{Path: filepath.Join(t.TempDir(), "media.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	busy, err := s.b.writer.BeginTx(ctx, nil) // holds the only writer connection
	if err != nil {
		t.Fatal(err)
	}
	callCtx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	m := storage.Media{Entity: "chan@example.org", ID: "late", BlobKey: "k", Uploaded: time.Now()}
	err = s.Begin(callCtx, m)
	if !errors.Is(err, storage.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Begin while the writer is busy: %v, want ErrUnavailable and DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Begin past a 200ms deadline returned after %v", d)
	}
	busy.Rollback()
	if ps, err := s.Pending(ctx, time.Now().Add(time.Hour)); err != nil || len(ps) != 0 {
		t.Errorf("Pending after a timed-out Begin = %v, %v; want none", ps, err)
	}
	if err := s.Begin(ctx, m); err != nil {
		t.Errorf("Begin once the writer is free: %v", err)
	}
}
