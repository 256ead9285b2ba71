package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/xmppmedia/mediaserver/storage"
)

var _ storage.UploadLedger = (*Store)(nil)

// UploadUsage implements storage.UploadLedger. The CASTs keep PostgreSQL's
// SUM (numeric) and SQLite's (NULL over no rows) both a plain integer.
func (s *Store) UploadUsage(ctx context.Context, entity, author string, since time.Time) (storage.Usage, error) {
	var u storage.Usage
	err := s.b.Read(ctx, func(tx Tx) error {
		rows, err := tx.Query(ctx, `SELECT
			CAST(COALESCE(SUM(CASE WHEN author = $2 AND uploaded >= $3 THEN size ELSE 0 END), 0) AS BIGINT),
			CAST(COALESCE(SUM(CASE WHEN author = $2 THEN size ELSE 0 END), 0) AS BIGINT),
			CAST(COALESCE(SUM(size), 0) AS BIGINT)
			FROM media WHERE entity = $1`, entity, author, s.t(since))
		if err != nil {
			return err
		}
		defer rows.Close()
		if !rows.Next() {
			if err := rows.Err(); err != nil {
				return err
			}
			return errors.New("no row")
		}
		if err := rows.Scan(&u.AuthorSince, &u.Author, &u.Total); err != nil {
			return err
		}
		return rows.Err()
	})
	if err != nil {
		return storage.Usage{}, fmt.Errorf("upload usage of %s in %s: %w", author, entity, err)
	}
	return u, nil
}

// UploadedBefore implements storage.UploadLedger.
func (s *Store) UploadedBefore(ctx context.Context, entity string, before time.Time, max int) ([]storage.Media, error) {
	var out []storage.Media
	err := s.b.Read(ctx, func(tx Tx) error {
		var err error
		out, err = queryMedia(ctx, tx, `SELECT `+mediaColumns+` FROM media
			WHERE entity = $1 AND NOT pending AND uploaded < $2 ORDER BY uploaded, id LIMIT $3`,
			entity, s.t(before), max)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("media of %s uploaded before %s: %w", entity, before.Format(time.RFC3339), err)
	}
	return out, nil
}

// Secret implements storage.UploadLedger: insert-if-absent, then read, so
// that racing servers all end up with the first value written.
func (s *Store) Secret(ctx context.Context, name string, generate func() (string, error)) (string, error) {
	read := func(tx Tx) (string, bool, error) {
		rows, err := tx.Query(ctx, `SELECT value FROM secrets WHERE name = $1`, name)
		if err != nil {
			return "", false, err
		}
		defer rows.Close()
		if !rows.Next() {
			return "", false, rows.Err()
		}
		var v string
		if err := rows.Scan(&v); err != nil {
			return "", false, err
		}
		return v, true, rows.Err()
	}
	var value string
	var found bool
	err := s.b.Read(ctx, func(tx Tx) error {
		var err error
		value, found, err = read(tx)
		return err
	})
	if err == nil && !found {
		var fresh string
		if fresh, err = generate(); err != nil {
			return "", fmt.Errorf("generate secret %s: %w", name, err)
		}
		err = s.b.Write(ctx, func(tx Tx) error {
			if _, err := tx.Exec(ctx, `INSERT INTO secrets (name, value) VALUES ($1, $2)
				ON CONFLICT (name) DO NOTHING`, name, fresh); err != nil {
				return err
			}
			var err error
			value, found, err = read(tx)
			if err == nil && !found {
				err = errors.New("secret vanished after insert")
			}
			return err
		})
	}
	if err != nil {
		return "", fmt.Errorf("secret %s: %w", name, err)
	}
	return value, nil
}
