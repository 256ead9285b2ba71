package postgres_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xmppmedia/mediaserver/storage"
	"github.com/xmppmedia/mediaserver/storage/metadatatest"
	"github.com/xmppmedia/mediaserver/storage/pgtest"
	"github.com/xmppmedia/mediaserver/storage/postgres"
)

// server is the PostgreSQL server shared by the tests of this package; each
// test works in a database of its own on it.
var server *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &server)) }

func ctxOf(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func open(t *testing.T, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(ctxOf(t), postgres.Config{DSN: dsn, MaxConns: 8})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	metadatatest.Run(t, func(t *testing.T) storage.Metadata {
		return open(t, server.NewDatabase(t))
	})
}

// TestConcurrentOpen starts several stores at once on one fresh database,
// as servers behind one load balancer do: all must start, and the schema
// must be migrated exactly once.
func TestConcurrentOpen(t *testing.T) {
	const servers = 6
	dsn := server.NewDatabase(t)
	ctx := ctxOf(t)
	stores := make([]*postgres.Store, servers)
	errs := make([]error, servers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			stores[i], errs[i] = postgres.Open(ctx, postgres.Config{DSN: dsn, MaxConns: 2})
		}()
	}
	close(start)
	wg.Wait()
	applied := 0
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d: %v", i, err)
			continue
		}
		defer stores[i].Close()
		applied += stores[i].MigrationsApplied()
	}
	if t.Failed() {
		return
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var rows, versions int
	if err := conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT version) FROM schema_migrations`).Scan(&rows, &versions); err != nil {
		t.Fatal(err)
	}
	if rows != versions || applied != rows {
		t.Errorf("schema_migrations has %d rows for %d versions; the stores applied %d migrations in all; want each once", rows, versions, applied)
	}
	// Every store works on the shared schema: what one commits another sees.
	m := storage.Media{Entity: "chan@example.org", ID: "shared", BlobKey: "k", Uploaded: time.Now()}
	if err := stores[0].Begin(ctx, m); err != nil {
		t.Fatal(err)
	}
	if _, _, err := stores[1].Commit(ctx, m, false); err != nil {
		t.Fatal(err)
	}
	for i, s := range stores {
		if _, err := s.Get(ctx, m.Entity, m.ID); err != nil {
			t.Errorf("store %d: Get of an item committed through another: %v", i, err)
		}
	}
	// Reopening finds nothing to do.
	again := open(t, dsn)
	if n := again.MigrationsApplied(); n != 0 {
		t.Errorf("reopening applied %d migrations, want 0", n)
	}
}

// TestNewerSchemaRefused checks that a server does not run on a schema a
// newer release has migrated further than it knows.
func TestNewerSchemaRefused(t *testing.T) {
	dsn := server.NewDatabase(t)
	open(t, dsn).Close()
	ctx := ctxOf(t)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `INSERT INTO schema_migrations VALUES (9999, '9999_future.sql', now())`); err != nil {
		t.Fatal(err)
	}
	if s, err := postgres.Open(ctx, postgres.Config{DSN: dsn}); err == nil {
		s.Close()
		t.Fatal("Open on a newer schema succeeded")
	}
}

// TestLostConnection kills the store's connections and then stops the
// whole server: calls fail with storage.ErrUnavailable, never a half
// result, and the pool recovers by itself once the server is back.
func TestLostConnection(t *testing.T) {
	srv := pgtest.StartServerT(t) // its own server: this test stops it
	dsn := srv.NewDatabase(t)
	s := open(t, dsn)
	ctx := ctxOf(t)
	m := storage.Media{Entity: "chan@example.org", ID: "survivor", BlobKey: "k", Uploaded: time.Now()}
	if err := s.Begin(ctx, m); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Commit(ctx, m, false); err != nil {
		t.Fatal(err)
	}

	// 1. The connection of a Commit in flight is terminated by the
	// administrator (then every other one of the store). The Commit is
	// held in flight by the entity lock, taken here first.
	pcfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.Connect(ctx, srv.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	holder, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(context.Background())
	lockTx, err := holder.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lockTx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, m.Entity); err != nil {
		t.Fatal(err)
	}
	inFlight := storage.Media{Entity: m.Entity, ID: "in-flight", BlobKey: "k1", Uploaded: time.Now()}
	if err := s.Begin(ctx, inFlight); err != nil {
		t.Fatal(err)
	}
	commitErr := make(chan error, 1)
	go func() {
		_, _, err := s.Commit(ctx, inFlight, false)
		commitErr <- err
	}()
	var waiting int
	for deadline := time.Now().Add(10 * time.Second); waiting == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the Commit never waited for the entity lock")
		}
		if err := admin.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = $1 AND wait_event_type = 'Lock'`, pcfg.Database).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
	}
	holderPID := holder.PgConn().PID()
	var killed int
	if err := admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = $1 AND pid <> $2`, pcfg.Database, holderPID).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-commitErr:
		if !errors.Is(err, storage.ErrUnavailable) {
			t.Errorf("Commit whose connection was terminated: %v, want ErrUnavailable", err)
		}
		t.Logf("Commit whose connection was terminated: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("Commit did not return after its connection was terminated")
	}
	lockTx.Rollback(ctx)
	// The pool notices dead idle connections when it hands them out (a
	// call may fail once per dead connection) and then works again.
	var got storage.Media
	for attempt := 0; ; attempt++ {
		got, err = s.Get(ctx, m.Entity, m.ID)
		if err == nil {
			break
		}
		if !errors.Is(err, storage.ErrUnavailable) {
			t.Fatalf("Get on a terminated connection: %v, want ErrUnavailable", err)
		}
		if attempt == 10 {
			t.Fatalf("Get still failing after the connections were replaced: %v", err)
		}
	}
	if got.ID != m.ID {
		t.Fatalf("Get after reconnecting = %q", got.ID)
	}
	// The interrupted Commit did not happen: the upload is still pending
	// and can be committed now.
	if _, err := s.Get(ctx, inFlight.Entity, inFlight.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Get of the interrupted commit: %v, want ErrNotFound", err)
	}
	if _, _, err := s.Commit(ctx, inFlight, false); err != nil {
		t.Errorf("Commit retried after reconnecting: %v", err)
	}

	// 2. The server goes away altogether.
	admin.Close(ctx)
	holder.Close(ctx)
	if err := srv.Stop(false); err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"Ping", s.Ping},
		{"Get", func(ctx context.Context) error { _, err := s.Get(ctx, m.Entity, m.ID); return err }},
		{"List", func(ctx context.Context) error {
			_, err := s.List(ctx, m.Entity, storage.Page{Max: 10})
			return err
		}},
		{"Begin", func(ctx context.Context) error {
			return s.Begin(ctx, storage.Media{Entity: m.Entity, ID: "during-outage", BlobKey: "k2", Uploaded: time.Now()})
		}},
	}
	for _, c := range checks {
		callCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		start := time.Now()
		err := c.call(callCtx)
		cancel()
		if !errors.Is(err, storage.ErrUnavailable) {
			t.Errorf("%s with the server down: %v, want ErrUnavailable", c.name, err)
		}
		t.Logf("%s with the server down, after %v: %v", c.name, time.Since(start).Round(time.Millisecond), err)
		if d := time.Since(start); d > 9*time.Second {
			t.Errorf("%s with the server down took %v: it should fail fast", c.name, d)
		}
	}

	// 3. The server comes back: the same store works again.
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := s.Ping(ctx)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("store did not recover after the server restarted: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := s.Get(ctx, m.Entity, m.ID); err != nil {
		t.Errorf("Get after the restart: %v", err)
	}
	// The upload begun during the outage left nothing behind.
	if ps, err := s.Pending(ctx, time.Now().Add(time.Hour)); err != nil || len(ps) != 0 {
		t.Errorf("Pending after the outage = %v, %v; want none", ps, err)
	}
	n := storage.Media{Entity: m.Entity, ID: "after-outage", BlobKey: "k3", Uploaded: time.Now()}
	if err := s.Begin(ctx, n); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Commit(ctx, n, false); err != nil {
		t.Errorf("Commit after the restart: %v", err)
	}
}

// TestDeadline checks that a context deadline ends a call that waits on the
// database (here, on another transaction's lock) with ErrUnavailable.
func TestDeadline(t *testing.T) {
	dsn := server.NewDatabase(t)
	s := open(t, dsn)
	ctx := ctxOf(t)
	m := storage.Media{Entity: "chan@example.org", ID: "locked", BlobKey: "k", Uploaded: time.Now()}
	if err := s.Begin(ctx, m); err != nil {
		t.Fatal(err)
	}
	// Another session holds the entity's lock.
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, m.Entity); err != nil {
		t.Fatal(err)
	}
	callCtx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err = s.Commit(callCtx, m, false)
	if !errors.Is(err, storage.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Commit past its deadline: %v, want ErrUnavailable and DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Commit past a 300ms deadline returned after %v", d)
	}
	tx.Rollback(ctx)
	// The commit did not happen, and can be retried.
	if _, err := s.Get(ctx, m.Entity, m.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Get after a timed-out Commit: %v, want ErrNotFound", err)
	}
	if _, _, err := s.Commit(ctx, m, false); err != nil {
		t.Errorf("retried Commit: %v", err)
	}
}

func BenchmarkMetadata(b *testing.B) {
	metadatatest.Bench(b, func(b *testing.B) storage.Metadata {
		s, err := postgres.Open(context.Background(), postgres.Config{DSN: server.NewDatabase(b), MaxConns: 8})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	})
}

// TestCommitReplyLost cuts the connection after the server has committed an
// upload but before the store hears back: Commit must find out that the item
// is visible and report success, or the server would remove the blob of a
// listed item.
func TestCommitReplyLost(t *testing.T) {
	dsn := server.NewDatabase(t)
	proxy := startCutProxy(t, fmt.Sprintf("127.0.0.1:%d", server.Port()))
	s := open(t, strings.Replace(dsn, fmt.Sprintf(":%d/", server.Port()), fmt.Sprintf(":%d/", proxy.port()), 1))
	ctx := ctxOf(t)
	m := storage.Media{Entity: "chan@example.org", ID: "replylost", BlobKey: "k", Uploaded: time.Now()}
	if err := s.Begin(ctx, m); err != nil {
		t.Fatal(err)
	}
	proxy.armed.Store(true)
	_, _, err := s.Commit(ctx, m, false)
	select {
	case <-proxy.cut:
	default:
		t.Fatal("the proxy never saw the COMMIT's reply")
	}
	if err != nil {
		t.Errorf("Commit whose reply was lost after the server committed: %v, want success", err)
	}
	if _, err := s.Get(ctx, m.Entity, m.ID); err != nil {
		t.Errorf("Get: %v", err)
	}
}

// cutProxy relays TCP connections to a PostgreSQL server. Once armed, it
// drops the server's reply to a COMMIT and closes that connection: the
// transaction is committed, the client never hears so.
type cutProxy struct {
	ln    net.Listener
	armed atomic.Bool
	cut   chan struct{} // closed when the proxy has cut a connection
}

func startCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, cut: make(chan struct{})}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			srv, err := net.Dial("tcp", target)
			if err != nil {
				client.Close()
				continue
			}
			wg.Add(2)
			go func() { defer wg.Done(); io.Copy(srv, client); srv.Close() }()
			go func() { defer wg.Done(); p.relayReplies(client, srv); client.Close() }()
		}
	}()
	return p
}

func (p *cutProxy) port() int { return p.ln.Addr().(*net.TCPAddr).Port }

// relayReplies copies the server's messages to the client until, armed, it
// meets a CommandComplete "COMMIT", which it swallows before cutting both
// sides.
func (p *cutProxy) relayReplies(client, srv net.Conn) {
	buf := make([]byte, 64<<10)
	for {
		n, err := srv.Read(buf)
		if n > 0 {
			if bytes.Contains(buf[:n], []byte("COMMIT\x00")) && p.armed.CompareAndSwap(true, false) {
				srv.Close()
				client.Close()
				close(p.cut)
				return
			}
			if _, err := client.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// TestOpenUnreachable checks that a database that is not there is reported
// as storage.ErrUnavailable, promptly.
func TestOpenUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close() // nothing listens there now
	start := time.Now()
	s, err := postgres.Open(ctxOf(t), postgres.Config{DSN: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/x?sslmode=disable", port)})
	if err == nil {
		s.Close()
		t.Fatal("Open of a closed port succeeded")
	}
	if !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("Open of a closed port: %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Open of a closed port took %v", d)
	}
	if _, err := postgres.Open(ctxOf(t), postgres.Config{DSN: "postgres://%zz"}); err == nil || errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("Open of a malformed DSN: %v, want a configuration error", err)
	}
}
