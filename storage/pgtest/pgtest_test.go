package pgtest_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xmppmedia/mediaserver/storage/pgtest"
)

// TestStart checks that a test gets a working server with an empty database
// of its own, and that databases of one server are independent.
func TestStart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv := pgtest.StartServerT(t)
	first, second := srv.NewDatabase(t), srv.NewDatabase(t)
	if first == second {
		t.Fatalf("two databases with one DSN %s", first)
	}
	c1, err := pgx.Connect(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close(ctx)
	if _, err := c1.Exec(ctx, "CREATE TABLE only_here (x int)"); err != nil {
		t.Fatal(err)
	}
	c2, err := pgx.Connect(ctx, second)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close(ctx)
	var n int
	if err := c2.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE tablename = 'only_here'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("a table created in one test database is visible in another")
	}
	var version string
	if err := c1.QueryRow(ctx, "SHOW server_version").Scan(&version); err != nil {
		t.Fatal(err)
	}
	t.Logf("PostgreSQL %s on port %d", version, srv.Port())
}
