// Package sqlite is the embedded metadata store: storage.Metadata on one
// SQLite file through modernc.org/sqlite (pure Go, no cgo).
//
// The file is opened in WAL mode with foreign keys on and a busy timeout.
// Writes go through a single connection, so writers queue in Go (honouring
// their contexts) instead of failing with SQLITE_BUSY; reads use a separate
// pool of read-only connections, which WAL lets run beside the writer.
// synchronous=FULL fsyncs the WAL at every commit: once a write returns, it
// survives a power cut, which is what the server's "201 means stored"
// promise needs (NORMAL would only survive a crash of the process).
//
// The schema is versioned: the numbered files in migrations/ are applied at
// Open, each recorded in schema_migrations, inside one BEGIN IMMEDIATE
// transaction so that two processes opening the same file apply them once.
//
// Semantics are those of storage/sqlstore, shared with storage/postgres:
// pending items are invisible to everything but Commit, Abort and Pending;
// Pending compares against the Uploaded time given to Begin; Commit stores
// the fields of m as given with Avatar set from asAvatar; Page.Max <= 0 is
// no limit; Previews of a missing item is ErrNotFound; times keep
// microseconds and come back in UTC. A database that cannot take a lock
// within the busy timeout reports storage.ErrUnavailable.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	sqlitedrv "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/xmppmedia/mediaserver/storage"
	"github.com/xmppmedia/mediaserver/storage/sqlstore"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Config says where the database lives.
type Config struct {
	// Path of the database file; its directory is created if missing.
	Path string
	// BusyTimeout is how long a statement waits for a lock held by another
	// process before failing with storage.ErrUnavailable. Zero means the
	// default's.
	BusyTimeout time.Duration
	// MaxReaders bounds the read connections. Zero means the default's.
	MaxReaders int
}

// DefaultConfig keeps the database in ./data/media.db (metadata.dsn).
func DefaultConfig() Config {
	return Config{Path: "./data/media.db", BusyTimeout: 5 * time.Second, MaxReaders: 4}
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if c.Path == "" || c.Path == ":memory:" {
		return fmt.Errorf("sqlite: a file path is needed (got %q)", c.Path)
	}
	if strings.ContainsRune(c.Path, '?') {
		return fmt.Errorf("sqlite %s: the path may not contain '?'", c.Path)
	}
	if c.BusyTimeout < 0 || c.MaxReaders < 0 {
		return errors.New("sqlite: busy timeout and max readers must not be negative")
	}
	return nil
}

// Store is the SQLite metadata store.
type Store struct {
	*sqlstore.Store
	b       *backend
	applied int
}

var _ storage.Metadata = (*Store)(nil)

// Open opens (creating if needed) the database at cfg.Path and brings its
// schema up to date.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("open sqlite metadata: %w", err)
	}
	path, err := filepath.Abs(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("open sqlite metadata %s: %w", cfg.Path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("open sqlite metadata %s: %w", path, err)
	}
	busy, readers := cfg.BusyTimeout, cfg.MaxReaders
	if busy == 0 {
		busy = DefaultConfig().BusyTimeout
	}
	if readers == 0 {
		readers = DefaultConfig().MaxReaders
	}

	pragmas := url.Values{}
	pragmas.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()))
	pragmas.Add("_pragma", "foreign_keys(1)")
	pragmas.Add("_pragma", "journal_mode(WAL)")
	pragmas.Add("_pragma", "synchronous(FULL)")
	writerDSN := path + "?" + pragmas.Encode() + "&_txlock=immediate"
	pragmas.Add("_pragma", "query_only(1)")
	readerDSN := path + "?" + pragmas.Encode()

	writer, err := sql.Open("sqlite", writerDSN)
	if err != nil {
		return nil, fmt.Errorf("open sqlite metadata %s: %w", path, err)
	}
	// One writer connection: SQLite allows one writer at a time anyway, and
	// queueing in database/sql waits without spinning on SQLITE_BUSY.
	writer.SetMaxOpenConns(1)
	reader, err := sql.Open("sqlite", readerDSN)
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("open sqlite metadata %s: %w", path, err)
	}
	reader.SetMaxOpenConns(readers)
	reader.SetMaxIdleConns(readers)

	b := &backend{writer: writer, reader: reader}
	s := &Store{Store: sqlstore.New(b, sqlstore.Dialect{TimeArg: sqlstore.MicrosArg}), b: b}
	if err := s.migrate(ctx); err != nil {
		b.Close()
		return nil, fmt.Errorf("open sqlite metadata %s: %w", path, err)
	}
	return s, nil
}

// MigrationsApplied reports how many schema migrations Open applied (zero
// when the file was already up to date).
func (s *Store) MigrationsApplied() int { return s.applied }

func (s *Store) migrate(ctx context.Context) error {
	ms, err := sqlstore.LoadMigrations(migrationFiles, "migrations")
	if err != nil {
		return err
	}
	return s.b.Write(ctx, func(tx sqlstore.Tx) error {
		n, err := sqlstore.Migrate(ctx, tx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			name       TEXT    NOT NULL,
			applied_at INTEGER NOT NULL
		) STRICT`, ms, time.Now().UnixMicro())
		s.applied = n
		return err
	})
}

// backend runs sqlstore transactions on the two connection pools.
type backend struct {
	writer *sql.DB // exactly one connection
	reader *sql.DB // query_only connections
}

func (b *backend) Read(ctx context.Context, fn func(sqlstore.Tx) error) error {
	return b.run(ctx, b.reader, &sql.TxOptions{ReadOnly: true}, fn)
}

func (b *backend) Write(ctx context.Context, fn func(sqlstore.Tx) error) error {
	return b.run(ctx, b.writer, nil, fn)
}

func (b *backend) run(ctx context.Context, db *sql.DB, opts *sql.TxOptions, fn func(sqlstore.Tx) error) error {
	tx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return classify(fmt.Errorf("begin transaction: %w", err))
	}
	if err := fn(sqlTx{tx}); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return classify(fmt.Errorf("commit transaction: %w", err))
	}
	return nil
}

func (b *backend) Ping(ctx context.Context) error {
	if err := b.writer.PingContext(ctx); err != nil {
		return classify(err)
	}
	return classify(b.reader.PingContext(ctx))
}

func (b *backend) Close() error {
	return errors.Join(b.reader.Close(), b.writer.Close())
}

type sqlTx struct{ tx *sql.Tx }

func (t sqlTx) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := t.tx.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, classify(err)
	}
	n, err := res.RowsAffected()
	return n, classify(err)
}

func (t sqlTx) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	rows, err := t.tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, classify(err)
	}
	return sqlRows{rows}, nil
}

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close()     { r.Rows.Close() }
func (r sqlRows) Err() error { return classify(r.Rows.Err()) }

// classify marks the errors that mean "try again later": a lock another
// process held for longer than the busy timeout, or a deadline that ran out.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var se *sqlitedrv.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
	}
	return err
}
