package sqlite

import (
	"context"
	"path/filepath"
	"testing"
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
