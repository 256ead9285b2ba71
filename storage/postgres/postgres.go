// Package postgres is the shared metadata store for several media servers:
// storage.Metadata on PostgreSQL through a pgx connection pool.
//
// It runs the same statements as storage/sqlite (both are storage/sqlstore)
// and passes the same conformance suite, so the two behave alike: pending
// items are invisible to everything but Commit, Abort and Pending; Pending
// compares against the Uploaded time given to Begin; Commit stores the
// fields of m as given with Avatar set from asAvatar; Page.Max <= 0 is no
// limit; Previews of a missing item is ErrNotFound; times keep microseconds
// (timestamptz) and come back in UTC; IDs order bytewise (COLLATE "C")
// whatever the database's locale.
//
// Where SQLite has one writer, several servers write here at once. Commit,
// Delete and PutPreview therefore take a transaction-scoped advisory lock
// on the entity first, so that, for example, two servers replacing one
// channel's avatar at once hand each replaced avatar back exactly once.
//
// The schema is versioned like SQLite's: the numbered files in migrations/
// are applied at Open in one transaction holding an advisory lock, so that
// servers starting together apply each migration once and none of them
// sees a half-migrated schema.
//
// Errors: a server that cannot be reached, a connection lost mid-statement,
// a server shutting down and a deadline that ran out all wrap
// storage.ErrUnavailable (as well as the driver's error). A context
// cancelled by the caller is reported as such. The pool replaces broken
// connections by itself, so once the server is back the next call works.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xmppmedia/mediaserver/storage"
	"github.com/xmppmedia/mediaserver/storage/sqlstore"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Config says which database to use.
type Config struct {
	// DSN is a connection URL (postgres://user:pass@host:port/db?...) or a
	// keyword/value string, as libpq takes them.
	DSN string
	// MaxConns bounds the pool. Zero keeps pgx's default (4, or the number
	// of CPUs if greater) unless the DSN sets pool_max_conns.
	MaxConns int
	// ConnectTimeout bounds one connection attempt when the DSN does not
	// set connect_timeout. Zero means the default's.
	ConnectTimeout time.Duration
}

// DefaultConfig has no DSN: there is no database to assume.
func DefaultConfig() Config { return Config{ConnectTimeout: 5 * time.Second} }

// Validate reports a configuration that cannot work, without connecting.
func (c Config) Validate() error {
	if c.DSN == "" {
		// pgx would fall back to PG* variables and localhost: a surprise.
		return errors.New("postgres: a DSN is needed")
	}
	if _, err := pgxpool.ParseConfig(c.DSN); err != nil {
		// The message may contain the DSN's password; pgx redacts it.
		return fmt.Errorf("postgres: %w", err)
	}
	if c.MaxConns < 0 || c.ConnectTimeout < 0 {
		return errors.New("postgres: max conns and connect timeout must not be negative")
	}
	return nil
}

// migrationLock is the advisory lock key pair (two int4 keys, a space of
// its own apart from the entity locks' single int8 keys) held while
// migrating: "md" "schema" in ASCII.
const migrationLockA, migrationLockB = 0x6d64, 0x736368

// Store is the PostgreSQL metadata store.
type Store struct {
	*sqlstore.Store
	pool    *pgxpool.Pool
	applied int
}

var _ storage.Metadata = (*Store)(nil)

// Open connects to the database and brings its schema up to date.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("open postgres metadata: %w", err)
	}
	pcfg, err := pgxpool.ParseConfig(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("open postgres metadata: %w", err)
	}
	if cfg.MaxConns > 0 {
		pcfg.MaxConns = int32(cfg.MaxConns)
	}
	if pcfg.ConnConfig.ConnectTimeout == 0 {
		pcfg.ConnConfig.ConnectTimeout = cfg.ConnectTimeout
		if pcfg.ConnConfig.ConnectTimeout == 0 {
			pcfg.ConnConfig.ConnectTimeout = DefaultConfig().ConnectTimeout
		}
	}
	// A broken idle connection is noticed by the ping pgxpool sends before
	// handing out a connection idle for over a second, and replaced.
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres metadata %s: %w", where(pcfg), classify(err))
	}
	b := &backend{pool: pool}
	s := &Store{
		Store: sqlstore.New(b, sqlstore.Dialect{
			TimeArg:    sqlstore.TimestampArg,
			LockEntity: `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`,
		}),
		pool: pool,
	}
	if err := s.migrate(ctx, b); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres metadata %s: %w", where(pcfg), err)
	}
	return s, nil
}

// where names the database for messages, without credentials.
func where(c *pgxpool.Config) string {
	return fmt.Sprintf("%s:%d/%s", c.ConnConfig.Host, c.ConnConfig.Port, c.ConnConfig.Database)
}

// MigrationsApplied reports how many schema migrations this Open applied
// (zero when another server had already brought the schema up to date).
func (s *Store) MigrationsApplied() int { return s.applied }

// Pool is the connection pool, for health metrics.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

func (s *Store) migrate(ctx context.Context, b *backend) error {
	ms, err := sqlstore.LoadMigrations(migrationFiles, "migrations")
	if err != nil {
		return err
	}
	return b.Write(ctx, func(tx sqlstore.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, migrationLockA, migrationLockB); err != nil {
			return fmt.Errorf("lock for migration: %w", err)
		}
		n, err := sqlstore.Migrate(ctx, tx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    integer PRIMARY KEY,
			name       text        NOT NULL,
			applied_at timestamptz NOT NULL
		)`, ms, time.Now().UTC())
		s.applied = n
		return err
	})
}

// backend runs sqlstore transactions on the pool.
type backend struct{ pool *pgxpool.Pool }

// Read runs fn's statements on one pooled connection outside a transaction:
// BEGIN and COMMIT would triple the round trips of a Get, and the reads do
// not need a shared snapshot (see sqlstore.Backend).
func (b *backend) Read(ctx context.Context, fn func(sqlstore.Tx) error) error {
	conn, err := b.pool.Acquire(ctx)
	if err != nil {
		return classify(fmt.Errorf("acquire connection: %w", err))
	}
	defer conn.Release()
	return fn(pgQuerier{conn})
}

func (b *backend) Write(ctx context.Context, fn func(sqlstore.Tx) error) error {
	return b.run(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, fn)
}

func (b *backend) run(ctx context.Context, opts pgx.TxOptions, fn func(sqlstore.Tx) error) error {
	tx, err := b.pool.BeginTx(ctx, opts)
	if err != nil {
		return classify(fmt.Errorf("begin transaction: %w", err))
	}
	if err := fn(pgQuerier{tx}); err != nil {
		// Rollback on a dead connection fails too; the pool drops it.
		tx.Rollback(context.WithoutCancel(ctx))
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		var pgErr *pgconn.PgError
		unknown := !errors.As(err, &pgErr)
		err = classify(fmt.Errorf("commit transaction: %w", err))
		if unknown {
			// Not the server refusing the COMMIT but the connection
			// lost or cancelled on the way: the COMMIT may have
			// reached the server and taken effect.
			err = fmt.Errorf("%w: %w", sqlstore.ErrOutcomeUnknown, err)
		}
		return err
	}
	return nil
}

func (b *backend) Ping(ctx context.Context) error { return classify(b.pool.Ping(ctx)) }

func (b *backend) Close() error {
	b.pool.Close()
	return nil
}

// querier is what a pgx.Tx and a *pgxpool.Conn have in common.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// pgQuerier adapts a querier to sqlstore.Tx, classifying its errors.
type pgQuerier struct{ q querier }

func (t pgQuerier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := t.q.Exec(ctx, query, args...)
	if err != nil {
		return 0, classify(err)
	}
	return tag.RowsAffected(), nil
}

func (t pgQuerier) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	rows, err := t.q.Query(ctx, query, args...)
	if err != nil {
		return nil, classify(err)
	}
	return pgRows{rows}, nil
}

type pgRows struct{ pgx.Rows }

func (r pgRows) Err() error { return classify(r.Rows.Err()) }

// classify wraps storage.ErrUnavailable around the errors that mean the
// database could not be reached or went away, keeping the driver's error
// inside for the log. Everything else (SQL errors, a cancelled context) is
// returned as it is.
func classify(err error) error {
	if err == nil || errors.Is(err, storage.ErrUnavailable) {
		return err
	}
	unavailable := func() error { return fmt.Errorf("%w: %w", storage.ErrUnavailable, err) }
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"), // connection exception
			pgErr.Code == "57P01", // admin_shutdown: terminated by the administrator
			pgErr.Code == "57P02", // crash_shutdown
			pgErr.Code == "57P03", // cannot_connect_now: starting up or shutting down
			pgErr.Code == "53300": // too_many_connections
			return unavailable()
		}
		return err
	}
	if errors.Is(err, context.Canceled) {
		// The caller gave up; the database may be fine.
		return err
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), pgconn.Timeout(err),
		errors.As(err, &connectErr), errors.As(err, &netErr),
		errors.Is(err, pgconn.ErrConnClosed), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		pgconn.SafeToRetry(err):
		return unavailable()
	}
	return err
}
