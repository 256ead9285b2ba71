// Package sqlstore is the storage.Metadata logic shared by the SQL metadata
// stores (storage/sqlite and storage/postgres). Both run exactly these
// statements, so their semantics cannot drift apart; a backend supplies only
// its transactions, its time encoding, its per-channel write lock and its
// schema.
//
// The statements are written in the common subset of SQLite (3.35+) and
// PostgreSQL: $N placeholders, ON CONFLICT, RETURNING, TRUE/FALSE, boolean
// columns used as bare predicates ("NOT pending"), which the backends' partial
// indexes repeat literally so that both planners use them.
//
// Decisions where storage.Metadata leaves room (the backends' package docs
// repeat them):
//   - A pending item is invisible to everything but Commit, Abort and
//     Pending: Get, List, Update, Delete, PutPreview and Previews treat it as
//     missing (ErrNotFound). Previews are therefore recorded after Commit,
//     and Abort never has preview records to forget.
//   - Begin records m as given; the time Pending compares against is
//     m.Uploaded (the store's clock when m.Uploaded is zero).
//   - Commit stores every field of m as given (Entity and ID select the
//     row); an Updated left zero is set to Uploaded. The stored Avatar flag
//     is asAvatar, whatever m.Avatar says, so an entity has at most one
//     avatar item and List never shows an avatar.
//   - Get finds avatar items too (they are visible, only not listed); List
//     never returns them, and an After naming one is ErrNotFound.
//   - Page.Max <= 0 means no limit.
//   - Previews of a missing (or pending) item is ErrNotFound rather than an
//     empty list.
//   - Times are kept with microsecond precision, in UTC.
package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/xmppmedia/mediaserver/storage"
)

// Rows is the part of a result set the store reads.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Tx is one open transaction of a backend. Errors it returns are already
// classified by the backend (a lost connection wraps storage.ErrUnavailable).
type Tx interface {
	// Exec runs a statement and reports how many rows it changed.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	// Query runs a statement that returns rows. The caller closes them.
	Query(ctx context.Context, query string, args ...any) (Rows, error)
}

// Backend runs transactions.
type Backend interface {
	// Read runs fn, whose statements only read. They need not share one
	// snapshot: the store's reads of several statements (List's look-up
	// of its After item then the page; Previews' look-up of the item then
	// its previews) give an acceptable answer if a write falls between
	// them.
	Read(ctx context.Context, fn func(Tx) error) error
	// Write runs fn in a read-write transaction and commits it when fn
	// returns nil (rolls it back otherwise). The commit is durable when
	// Write returns nil.
	Write(ctx context.Context, fn func(Tx) error) error
	Ping(ctx context.Context) error
	Close() error
}

// ErrOutcomeUnknown is wrapped by a Backend's Write when the COMMIT itself
// failed in a way that leaves open whether it took effect (the connection
// was lost after the COMMIT was sent). Store.Commit then looks whether the
// item became visible, so that an upload that did commit is not reported
// failed (its blob removed under a visible item).
var ErrOutcomeUnknown = errors.New("transaction outcome unknown")

// outcomeCheckTimeout bounds the look-up after ErrOutcomeUnknown.
const outcomeCheckTimeout = 3 * time.Second

// Dialect holds what differs in the SQL of the backends.
type Dialect struct {
	// TimeArg encodes a time as a statement argument. Values read back are
	// decoded by TimeColumn, which accepts int64 Unix microseconds or a
	// time.Time.
	TimeArg func(time.Time) any
	// LockEntity, when not empty, is a statement taking the entity as $1
	// that serializes the writers of one entity until the transaction
	// ends. It is run first by Commit, Delete and PutPreview, whose
	// read-then-write steps must not interleave with each other (two
	// avatar commits would both remove the same previous avatar; a preview
	// recorded while its item is being deleted would lose its blob). A
	// backend with a single writer leaves it empty.
	LockEntity string
}

// MicrosArg encodes t as Unix microseconds, the SQLite representation.
func MicrosArg(t time.Time) any { return t.UnixMicro() }

// TimestampArg encodes t as a UTC time truncated to microseconds, the
// PostgreSQL timestamptz representation.
func TimestampArg(t time.Time) any { return t.UTC().Truncate(time.Microsecond) }

// TimeColumn is a scan destination for a time column of either backend.
type TimeColumn struct{ T time.Time }

// zeroMicros is time.Time{} in Unix microseconds; it is decoded back to the
// zero time (not to the same instant in a non-nil UTC location), so that a
// zero time round-trips as IsZero.
var zeroMicros = time.Time{}.UnixMicro()

// Scan implements sql.Scanner (pgx uses it too).
func (c *TimeColumn) Scan(src any) error {
	switch v := src.(type) {
	case int64:
		if v == zeroMicros {
			c.T = time.Time{}
			return nil
		}
		c.T = time.UnixMicro(v).UTC()
	case time.Time:
		if v.IsZero() || v.Equal(time.Time{}) {
			c.T = time.Time{}
			return nil
		}
		c.T = v.UTC()
	default:
		return fmt.Errorf("time column: unsupported value %T", src)
	}
	return nil
}

// Store implements storage.Metadata on a Backend.
type Store struct {
	b Backend
	d Dialect
}

var _ storage.Metadata = (*Store)(nil)

// New returns a store running its statements on b in dialect d.
func New(b Backend, d Dialect) *Store { return &Store{b: b, d: d} }

const mediaColumns = `entity, id, author, file_name, title, description, mime_type, extension,
	sha1, size, width, height, length_ms, uploaded, updated, avatar, blob_key, placeholder`

const previewColumns = `entity, media_id, width, height, mime_type, size, blob_key, created`

// smallestFirst orders previews by box area; the cast keeps PostgreSQL's
// integer product from overflowing.
const smallestFirst = `ORDER BY CAST(width AS BIGINT) * height, width, height`

func scanMedia(r Rows) (storage.Media, error) {
	var m storage.Media
	var up, upd TimeColumn
	err := r.Scan(&m.Entity, &m.ID, &m.Author, &m.FileName, &m.Title, &m.Description,
		&m.MimeType, &m.Extension, &m.SHA1, &m.Size, &m.Width, &m.Height, &m.LengthMS,
		&up, &upd, &m.Avatar, &m.BlobKey, &m.Placeholder)
	m.Uploaded, m.Updated = up.T, upd.T
	return m, err
}

func scanPreview(r Rows) (storage.Preview, error) {
	var p storage.Preview
	var created TimeColumn
	err := r.Scan(&p.Entity, &p.MediaID, &p.Width, &p.Height, &p.MimeType, &p.Size, &p.BlobKey, &created)
	p.Created = created.T
	return p, err
}

// queryMedia runs a statement returning mediaColumns.
func queryMedia(ctx context.Context, tx Tx, query string, args ...any) ([]storage.Media, error) {
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []storage.Media
	for rows.Next() {
		m, err := scanMedia(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// queryOneMedia is queryMedia for at most one row; none is ErrNotFound.
func queryOneMedia(ctx context.Context, tx Tx, query string, args ...any) (storage.Media, error) {
	ms, err := queryMedia(ctx, tx, query, args...)
	if err != nil {
		return storage.Media{}, err
	}
	if len(ms) == 0 {
		return storage.Media{}, storage.ErrNotFound
	}
	return ms[0], nil
}

func queryPreviews(ctx context.Context, tx Tx, query string, args ...any) ([]storage.Preview, error) {
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []storage.Preview
	for rows.Next() {
		p, err := scanPreview(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

func (s *Store) lockEntity(ctx context.Context, tx Tx, entity string) error {
	if s.d.LockEntity == "" {
		return nil
	}
	if _, err := tx.Exec(ctx, s.d.LockEntity, entity); err != nil {
		return fmt.Errorf("lock entity: %w", err)
	}
	return nil
}

func (s *Store) t(t time.Time) any { return s.d.TimeArg(t) }

// Begin implements storage.Metadata.
func (s *Store) Begin(ctx context.Context, m storage.Media) error {
	begun := m.Uploaded
	if begun.IsZero() {
		begun = time.Now()
	}
	err := s.b.Write(ctx, func(tx Tx) error {
		n, err := tx.Exec(ctx, `INSERT INTO media (`+mediaColumns+`, pending, begun)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, TRUE, $19)
			ON CONFLICT (entity, id) DO NOTHING`,
			m.Entity, m.ID, m.Author, m.FileName, m.Title, m.Description, m.MimeType, m.Extension,
			m.SHA1, m.Size, m.Width, m.Height, m.LengthMS, s.t(m.Uploaded), s.t(m.Updated), m.Avatar,
			m.BlobKey, m.Placeholder, s.t(begun))
		if err != nil {
			return err
		}
		if n == 0 {
			return storage.ErrConflict
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("begin media %s of %s: %w", m.ID, m.Entity, err)
	}
	return nil
}

// Commit implements storage.Metadata.
func (s *Store) Commit(ctx context.Context, m storage.Media, asAvatar bool) (*storage.Media, []storage.Preview, error) {
	if m.Updated.IsZero() {
		m.Updated = m.Uploaded
	}
	var previous *storage.Media
	var previews []storage.Preview
	err := s.b.Write(ctx, func(tx Tx) error {
		previous, previews = nil, nil
		if err := s.lockEntity(ctx, tx, m.Entity); err != nil {
			return err
		}
		if asAvatar {
			// The old avatar goes first: the one-avatar-per-entity index
			// would refuse the new one beside it. Should the pending item
			// turn out missing below, the rollback restores the old one.
			old, err := queryOneMedia(ctx, tx, `SELECT `+mediaColumns+` FROM media
				WHERE entity = $1 AND avatar AND NOT pending AND id <> $2`, m.Entity, m.ID)
			switch {
			case errors.Is(err, storage.ErrNotFound):
			case err != nil:
				return fmt.Errorf("find previous avatar: %w", err)
			default:
				previous = &old
				previews, err = queryPreviews(ctx, tx, `SELECT `+previewColumns+` FROM previews
					WHERE entity = $1 AND media_id = $2 `+smallestFirst, old.Entity, old.ID)
				if err != nil {
					return fmt.Errorf("previews of previous avatar: %w", err)
				}
				if _, err := tx.Exec(ctx, `DELETE FROM previews WHERE entity = $1 AND media_id = $2`, old.Entity, old.ID); err != nil {
					return fmt.Errorf("delete previews of previous avatar: %w", err)
				}
				if _, err := tx.Exec(ctx, `DELETE FROM media WHERE entity = $1 AND id = $2`, old.Entity, old.ID); err != nil {
					return fmt.Errorf("delete previous avatar: %w", err)
				}
			}
		}
		n, err := tx.Exec(ctx, `UPDATE media SET author = $3, file_name = $4, title = $5,
			description = $6, mime_type = $7, extension = $8, sha1 = $9, size = $10, width = $11,
			height = $12, length_ms = $13, uploaded = $14, updated = $15, avatar = $16,
			blob_key = $17, placeholder = $18, pending = FALSE
			WHERE entity = $1 AND id = $2 AND pending`,
			m.Entity, m.ID, m.Author, m.FileName, m.Title, m.Description, m.MimeType, m.Extension,
			m.SHA1, m.Size, m.Width, m.Height, m.LengthMS, s.t(m.Uploaded), s.t(m.Updated), asAvatar,
			m.BlobKey, m.Placeholder)
		if err != nil {
			return err
		}
		if n == 0 {
			return storage.ErrNotFound
		}
		return nil
	})
	if err != nil && errors.Is(err, ErrOutcomeUnknown) && s.committed(ctx, m) {
		err = nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("commit media %s of %s: %w", m.ID, m.Entity, err)
	}
	return previous, previews, nil
}

// committed reports whether m is visible with the blob Commit stored: the
// Commit whose outcome was unknown took effect (no one else commits a
// pending item of this server's). A failure to find out counts as not
// committed, and Commit reports its error. The look-up runs even when the
// caller's context has ended (a cancelled COMMIT is one way to get here),
// bounded by outcomeCheckTimeout.
func (s *Store) committed(ctx context.Context, m storage.Media) bool {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), outcomeCheckTimeout)
	defer cancel()
	var found bool
	err := s.b.Read(ctx, func(tx Tx) error {
		rows, err := tx.Query(ctx, `SELECT 1 FROM media
			WHERE entity = $1 AND id = $2 AND NOT pending AND blob_key = $3`, m.Entity, m.ID, m.BlobKey)
		if err != nil {
			return err
		}
		defer rows.Close()
		found = rows.Next()
		return rows.Err()
	})
	return err == nil && found
}

// Abort implements storage.Metadata.
func (s *Store) Abort(ctx context.Context, entity, id string) error {
	err := s.b.Write(ctx, func(tx Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM media WHERE entity = $1 AND id = $2 AND pending`, entity, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("abort media %s of %s: %w", id, entity, err)
	}
	return nil
}

// Pending implements storage.Metadata. The oldest intent comes first.
func (s *Store) Pending(ctx context.Context, before time.Time) ([]storage.Media, error) {
	var out []storage.Media
	err := s.b.Read(ctx, func(tx Tx) error {
		var err error
		out, err = queryMedia(ctx, tx, `SELECT `+mediaColumns+` FROM media
			WHERE pending AND begun < $1 ORDER BY begun, entity, id`, s.t(before))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list pending media: %w", err)
	}
	return out, nil
}

// Get implements storage.Metadata.
func (s *Store) Get(ctx context.Context, entity, id string) (storage.Media, error) {
	var m storage.Media
	err := s.b.Read(ctx, func(tx Tx) error {
		var err error
		m, err = queryOneMedia(ctx, tx, `SELECT `+mediaColumns+` FROM media
			WHERE entity = $1 AND id = $2 AND NOT pending`, entity, id)
		return err
	})
	if err != nil {
		return storage.Media{}, fmt.Errorf("get media %s of %s: %w", id, entity, err)
	}
	return m, nil
}

// Avatar implements storage.Metadata.
func (s *Store) Avatar(ctx context.Context, entity string) (storage.Media, error) {
	var m storage.Media
	err := s.b.Read(ctx, func(tx Tx) error {
		var err error
		m, err = queryOneMedia(ctx, tx, `SELECT `+mediaColumns+` FROM media
			WHERE entity = $1 AND avatar AND NOT pending`, entity)
		return err
	})
	if err != nil {
		return storage.Media{}, fmt.Errorf("get avatar of %s: %w", entity, err)
	}
	return m, nil
}

// List implements storage.Metadata.
func (s *Store) List(ctx context.Context, entity string, page storage.Page) ([]storage.Media, error) {
	var out []storage.Media
	err := s.b.Read(ctx, func(tx Tx) error {
		var q strings.Builder
		q.WriteString(`SELECT ` + mediaColumns + ` FROM media
			WHERE entity = $1 AND NOT pending AND NOT avatar`)
		args := []any{entity}
		if page.After != "" {
			last, err := queryOneMedia(ctx, tx, `SELECT `+mediaColumns+` FROM media
				WHERE entity = $1 AND id = $2 AND NOT pending AND NOT avatar`, entity, page.After)
			if err != nil {
				return fmt.Errorf("item after which to list, %s: %w", page.After, err)
			}
			q.WriteString(` AND (updated < $2 OR (updated = $2 AND id < $3))`)
			args = append(args, s.t(last.Updated), last.ID)
		}
		q.WriteString(` ORDER BY updated DESC, id DESC`)
		if page.Max > 0 {
			args = append(args, page.Max)
			q.WriteString(` LIMIT $` + strconv.Itoa(len(args)))
		}
		var err error
		out, err = queryMedia(ctx, tx, q.String(), args...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list media of %s: %w", entity, err)
	}
	return out, nil
}

// optional turns a nil *string into a NULL argument.
func optional(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}

// Update implements storage.Metadata.
func (s *Store) Update(ctx context.Context, entity, id string, c storage.Changes, now time.Time) (storage.Media, error) {
	var m storage.Media
	err := s.b.Write(ctx, func(tx Tx) error {
		var err error
		m, err = queryOneMedia(ctx, tx, `UPDATE media SET
			file_name = COALESCE($3, file_name),
			title = COALESCE($4, title),
			description = COALESCE($5, description),
			updated = $6
			WHERE entity = $1 AND id = $2 AND NOT pending
			RETURNING `+mediaColumns,
			entity, id, optional(c.FileName), optional(c.Title), optional(c.Description), s.t(now))
		return err
	})
	if err != nil {
		return storage.Media{}, fmt.Errorf("update media %s of %s: %w", id, entity, err)
	}
	return m, nil
}

// Delete implements storage.Metadata.
func (s *Store) Delete(ctx context.Context, entity, id string) (storage.Media, []storage.Preview, error) {
	var m storage.Media
	var previews []storage.Preview
	err := s.b.Write(ctx, func(tx Tx) error {
		if err := s.lockEntity(ctx, tx, entity); err != nil {
			return err
		}
		var err error
		m, err = queryOneMedia(ctx, tx, `SELECT `+mediaColumns+` FROM media
			WHERE entity = $1 AND id = $2 AND NOT pending`, entity, id)
		if err != nil {
			return err
		}
		previews, err = queryPreviews(ctx, tx, `SELECT `+previewColumns+` FROM previews
			WHERE entity = $1 AND media_id = $2 `+smallestFirst, entity, id)
		if err != nil {
			return fmt.Errorf("list previews: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM previews WHERE entity = $1 AND media_id = $2`, entity, id); err != nil {
			return fmt.Errorf("delete previews: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM media WHERE entity = $1 AND id = $2`, entity, id); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return storage.Media{}, nil, fmt.Errorf("delete media %s of %s: %w", id, entity, err)
	}
	return m, previews, nil
}

// PutPreview implements storage.Metadata.
func (s *Store) PutPreview(ctx context.Context, p storage.Preview) error {
	err := s.b.Write(ctx, func(tx Tx) error {
		if err := s.lockEntity(ctx, tx, p.Entity); err != nil {
			return err
		}
		if err := s.visible(ctx, tx, p.Entity, p.MediaID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO previews (`+previewColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (entity, media_id, width, height) DO UPDATE SET
			mime_type = excluded.mime_type, size = excluded.size,
			blob_key = excluded.blob_key, created = excluded.created`,
			p.Entity, p.MediaID, p.Width, p.Height, p.MimeType, p.Size, p.BlobKey, s.t(p.Created))
		return err
	})
	if err != nil {
		return fmt.Errorf("put preview %dx%d of media %s of %s: %w", p.Width, p.Height, p.MediaID, p.Entity, err)
	}
	return nil
}

// visible reports ErrNotFound unless entity has a visible item id.
func (s *Store) visible(ctx context.Context, tx Tx, entity, id string) error {
	rows, err := tx.Query(ctx, `SELECT 1 FROM media WHERE entity = $1 AND id = $2 AND NOT pending`, entity, id)
	if err != nil {
		return err
	}
	defer rows.Close()
	found := rows.Next()
	if err := rows.Err(); err != nil {
		return err
	}
	if !found {
		return storage.ErrNotFound
	}
	return nil
}

// Previews implements storage.Metadata.
func (s *Store) Previews(ctx context.Context, entity, id string) ([]storage.Preview, error) {
	var out []storage.Preview
	err := s.b.Read(ctx, func(tx Tx) error {
		if err := s.visible(ctx, tx, entity, id); err != nil {
			return err
		}
		var err error
		out, err = queryPreviews(ctx, tx, `SELECT `+previewColumns+` FROM previews
			WHERE entity = $1 AND media_id = $2 `+smallestFirst, entity, id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("previews of media %s of %s: %w", id, entity, err)
	}
	return out, nil
}

// Ping implements storage.Metadata.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.b.Ping(ctx); err != nil {
		return fmt.Errorf("ping metadata store: %w", err)
	}
	return nil
}

// Close implements storage.Metadata.
func (s *Store) Close() error { return s.b.Close() }
