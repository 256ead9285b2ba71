package sqlstore

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Migration is one numbered step of a schema.
type Migration struct {
	Version int
	Name    string // file name, for messages and the schema_migrations table
	SQL     string
}

// LoadMigrations reads the files NNNN_description.sql in dir of fsys, in
// version order. Versions start at 1 and have no gaps or repeats, so a
// migration can never be skipped by a mistyped file name.
func LoadMigrations(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []Migration
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v < 1 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_description.sql", name)
		}
		body, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", name, err)
		}
		ms = append(ms, Migration{Version: v, Name: name, SQL: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration %s: expected version %d (versions are 1, 2, 3... without gaps)", m.Name, i+1)
		}
	}
	return ms, nil
}

// Migrate applies, inside tx, the migrations whose versions are not yet in
// schema_migrations, recording each. The caller makes tx exclusive (SQLite's
// BEGIN IMMEDIATE, PostgreSQL's advisory lock) so that stores opening at
// once apply each migration exactly once. createTable is the backend's
// CREATE TABLE IF NOT EXISTS schema_migrations statement, with columns
// version, name and applied_at; now is the time argument for applied_at.
// It returns how many migrations it applied. A database whose schema is
// newer than ms is refused: this binary would not know how to use it.
func Migrate(ctx context.Context, tx Tx, createTable string, ms []Migration, now any) (int, error) {
	if _, err := tx.Exec(ctx, createTable); err != nil {
		return 0, fmt.Errorf("create schema_migrations: %w", err)
	}
	rows, err := tx.Query(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		return 0, fmt.Errorf("read schema_migrations: %w", err)
	}
	done := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return 0, fmt.Errorf("read schema_migrations: %w", err)
		}
		done[v] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("read schema_migrations: %w", err)
	}
	for v := range done {
		if v > len(ms) {
			return 0, fmt.Errorf("database schema version %d is newer than this server knows (%d): refusing to use it", v, len(ms))
		}
	}
	applied := 0
	for _, m := range ms {
		if done[m.Version] {
			continue
		}
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return 0, fmt.Errorf("apply migration %s: %w", m.Name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
			m.Version, m.Name, now); err != nil {
			return 0, fmt.Errorf("record migration %s: %w", m.Name, err)
		}
		applied++
	}
	return applied, nil
}
