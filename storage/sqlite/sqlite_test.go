package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/xmppmedia/mediaserver/storage"
	"github.com/xmppmedia/mediaserver/storage/metadatatest"
	"github.com/xmppmedia/mediaserver/storage/sqlite"
)

func open(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), sqlite.Config{Path: path})
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	metadatatest.Run(t, func(t *testing.T) storage.Metadata {
		return open(t, filepath.Join(t.TempDir(), "media.db"))
	})
}

// TestReopen checks that data survive closing and reopening the file, and
// that reopening applies no migration a second time.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sub", "dir", "media.db") // parent directories are created
	first, err := sqlite.Open(ctx, sqlite.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if first.MigrationsApplied() == 0 {
		t.Error("opening a new file applied no migrations")
	}
	m := storage.Media{Entity: "chan@example.org", ID: "kept", Title: "still here ✓", BlobKey: "k", Uploaded: time.Now()}
	if err := first.Begin(ctx, m); err != nil {
		t.Fatal(err)
	}
	if _, _, err := first.Commit(ctx, m, false); err != nil {
		t.Fatal(err)
	}
	pending := storage.Media{Entity: m.Entity, ID: "crashed", BlobKey: "k2", Uploaded: time.Now()}
	if err := first.Begin(ctx, pending); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	appliedAt := migrationTimes(t, path)

	second := open(t, path)
	if n := second.MigrationsApplied(); n != 0 {
		t.Errorf("reopening applied %d migrations, want 0", n)
	}
	if got := migrationTimes(t, path); !slices.Equal(got, appliedAt) {
		t.Errorf("schema_migrations changed on reopen: %v, was %v", got, appliedAt)
	}
	got, err := second.Get(ctx, m.Entity, m.ID)
	if err != nil || got.Title != m.Title {
		t.Errorf("Get after reopen = %+v, %v", got, err)
	}
	// An upload interrupted before the reopen is still pending, for the
	// start-up sweep to clean.
	ps, err := second.Pending(ctx, time.Now())
	if err != nil || len(ps) != 1 || ps[0].ID != pending.ID {
		t.Errorf("Pending after reopen = %v, %v; want the interrupted upload", ps, err)
	}
}

// migrationTimes reads schema_migrations directly from the file.
func migrationTimes(t *testing.T, path string) []string {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT version || ' ' || name || ' ' || applied_at FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatal("schema_migrations is empty")
	}
	return out
}

// TestNewerSchemaRefused checks that a server does not run on a file a
// newer release has migrated further than it knows.
func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "media.db")
	open(t, path).Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`INSERT INTO schema_migrations VALUES (9999, '9999_future.sql', 0)`); err != nil {
		t.Fatal(err)
	}
	if s, err := sqlite.Open(context.Background(), sqlite.Config{Path: path}); err == nil {
		s.Close()
		t.Fatal("Open on a newer schema succeeded")
	}
}

// TestTwoStoresOneFile opens the file twice (as two processes would, e.g. a
// server and a maintenance command) and writes through both at once: the
// busy timeout makes them take turns instead of failing.
func TestTwoStoresOneFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "media.db")
	stores := []*sqlite.Store{open(t, path), open(t, path)}
	ctx := context.Background()
	const perStore = 40
	var wg sync.WaitGroup
	errs := make(chan error, 2*perStore)
	for i, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range perStore {
				m := storage.Media{Entity: "chan@example.org", ID: fmt.Sprintf("s%dm%02d", i, j), BlobKey: "k", Uploaded: time.Now()}
				if err := s.Begin(ctx, m); err != nil {
					errs <- err
					return
				}
				if _, _, err := s.Commit(ctx, m, false); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i, s := range stores {
		list, err := s.List(ctx, "chan@example.org", storage.Page{})
		if err != nil || len(list) != 2*perStore {
			t.Errorf("store %d lists %d items, %v; want %d", i, len(list), err, 2*perStore)
		}
	}
}

func TestOpenRefusesBadPaths(t *testing.T) {
	for _, path := range []string{"", ":memory:", filepath.Join(t.TempDir(), "a?b.db")} {
		if s, err := sqlite.Open(context.Background(), sqlite.Config{Path: path}); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", path)
		}
	}
}

func BenchmarkMetadata(b *testing.B) {
	metadatatest.Bench(b, func(b *testing.B) storage.Metadata {
		s, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(b.TempDir(), "media.db")})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	})
}

// TestUpgradeKeepsItemsWithoutPlaceholder opens a file written before
// placeholders (schema version 2): the migration adds the column, and the
// items already stored read back intact, with no placeholder.
func TestUpgradeKeepsItemsWithoutPlaceholder(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "media.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	stmts := []string{`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT`}
	for v, name := range []string{"0001_media.sql", "0002_uploads.sql"} {
		body, err := os.ReadFile(filepath.Join("migrations", name))
		if err != nil {
			t.Fatal(err)
		}
		stmts = append(stmts, string(body), fmt.Sprintf(`INSERT INTO schema_migrations VALUES (%d, '%s', 0)`, v+1, name))
	}
	stmts = append(stmts, `INSERT INTO media VALUES ('chan@example.org', 'old', 'a@example.org', 'old.jpg', 'from before', '',
		'image/jpeg', 'jpg', 'da39a3ee5e6b4b0d3255bfef95601890afd80709', 10, 640, 480, 0, 1000000, 1000000, 0, 'media/old', 0, 1000000)`)
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	db.Close()

	s := open(t, path)
	if n := s.MigrationsApplied(); n != 1 {
		t.Errorf("upgrading from version 2 applied %d migrations, want 1", n)
	}
	got, err := s.Get(ctx, "chan@example.org", "old")
	if err != nil || got.Title != "from before" || got.Width != 640 || got.Placeholder != "" {
		t.Errorf("Get of an item stored before placeholders = %+v, %v", got, err)
	}
}
