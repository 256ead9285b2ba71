// Package pgtest starts a real, throw-away PostgreSQL server for tests.
//
// The server runs from a fresh temporary directory on a free 127.0.0.1
// port, with its unix socket in that directory and trust authentication.
// It needs the PostgreSQL server binaries (Debian: apt-get install
// postgresql-15): initdb and pg_ctl are looked up on PATH, then in
// /usr/lib/postgresql/*/bin. initdb refuses to run as root, so when the
// tests run as root the directory is given to the "postgres" system user
// and the binaries run as that user through runuser.
//
// A server that cannot be started fails the test: these tests are meant to
// run against the real thing, never to be skipped quietly.
//
// One server per test package (from TestMain):
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &server)) }
//
// and then server.NewDatabase(t) in each test for an empty database of its
// own. Start(t) is the one-call form: its own server and database.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/xmppmedia/mediaserver/internal/ports"
)

// Server is a running PostgreSQL server.
type Server struct {
	dir     string // owned by the server's user; data/ and the socket inside
	binDir  string
	runAs   string // "" to run the binaries as the current user
	port    int
	dbCount atomic.Int64
}

// StartServer initialises and starts a server. The caller stops it with
// Stop (which also removes its files).
func StartServer() (*Server, error) {
	binDir, err := findBinaries()
	if err != nil {
		return nil, err
	}
	runAs := ""
	if os.Geteuid() == 0 {
		if _, err := user.Lookup("postgres"); err != nil {
			return nil, fmt.Errorf("pgtest: running as root and there is no postgres user to run initdb as (apt-get install postgresql-15 creates it): %w", err)
		}
		runAs = "postgres"
	}
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	s := &Server{dir: dir, binDir: binDir, runAs: runAs}
	if runAs != "" {
		if out, err := exec.Command("chown", runAs+":", dir).CombinedOutput(); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("pgtest: chown %s: %v: %s", dir, err, out)
		}
	}
	// Trust auth for local and host connections; UTF-8 with a
	// locale-aware default collation (ICU en-US, as a production database
	// typically has, so that tests catch ordering that silently depends
	// on it: "a" < "B" there, "B" < "a" bytewise); fsync off as the data
	// are thrown away (durability is not what these tests measure).
	if out, err := s.run("initdb", "-D", s.dataDir(), "-A", "trust", "-U", "postgres",
		"-E", "UTF8", "--locale=C.UTF-8", "--locale-provider=icu", "--icu-locale=en-US", "--no-sync"); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pgtest: initdb: %v: %s", err, out)
	}
	// A free port can be taken by someone else between our probe and the
	// server's bind: try a few.
	for attempt := 0; ; attempt++ {
		var free []int
		if free, err = ports.Free(1); err == nil {
			s.port = free[0]
			err = s.Start()
		}
		if err == nil {
			return s, nil
		}
		if attempt == 2 {
			os.RemoveAll(dir)
			return nil, err
		}
	}
}

// Start starts the server again after Stop(false) (on the same port, with
// the same data). StartServer already starts it.
func (s *Server) Start() error {
	opts := fmt.Sprintf("-k %s -p %d -h 127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
		s.dir, s.port)
	if out, err := s.run("pg_ctl", "-D", s.dataDir(), "-o", opts, "-l", s.logFile(), "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(s.logFile())
		return fmt.Errorf("pgtest: pg_ctl start on port %d: %v: %s\n--- server log:\n%s", s.port, err, out, lastLines(string(log), 30))
	}
	return nil
}

// Stop stops the server, closing every connection. Without remove it is a
// clean ("fast") shutdown that keeps every committed transaction, for a
// later Start. With remove the server is killed ("immediate": the test
// server runs with fsync and synchronous_commit off, so recent commits would
// be lost) and its files deleted.
func (s *Server) Stop(remove bool) error {
	mode := "fast"
	if remove {
		mode = "immediate"
	}
	var err error
	if out, e := s.run("pg_ctl", "-D", s.dataDir(), "-m", mode, "-w", "stop"); e != nil {
		err = fmt.Errorf("pgtest: pg_ctl stop: %v: %s", e, out)
	}
	if remove {
		err = errors.Join(err, os.RemoveAll(s.dir))
	}
	return err
}

// Port is the server's TCP port on 127.0.0.1.
func (s *Server) Port() int { return s.port }

// DSN is the connection URL of database db.
func (s *Server) DSN(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

// CreateDatabase creates an empty database with a fresh name and returns
// its DSN.
func (s *Server) CreateDatabase(ctx context.Context) (string, error) {
	name := fmt.Sprintf("t_%d_%d", os.Getpid(), s.dbCount.Add(1))
	conn, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		return "", fmt.Errorf("pgtest: connect: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("pgtest: create database %s: %w", name, err)
	}
	return s.DSN(name), nil
}

// NewDatabase is CreateDatabase for a test: a failure fails t, and the
// database is dropped when t ends (after cleanups registered later, such as
// closing a store, have run).
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dsn, err := s.CreateDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	name := dsn[strings.LastIndex(dsn, "/")+1 : strings.Index(dsn, "?")]
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, s.DSN("postgres"))
		if err != nil {
			t.Logf("pgtest: drop database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("pgtest: drop database %s: %v", name, err)
		}
	})
	return dsn
}

// Start starts a server of its own for t, stopped when t ends, and returns
// the DSN of an empty database on it.
func Start(t testing.TB) string {
	t.Helper()
	return StartServerT(t).NewDatabase(t)
}

// StartServerT starts a server that is stopped and removed when t ends.
func StartServerT(t testing.TB) *Server {
	t.Helper()
	s, err := StartServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(true); err != nil {
			t.Log(err)
		}
	})
	return s
}

// Main runs the tests of a package against one server started for them,
// stored in *server before m.Run, and stopped afterwards. It returns the
// exit code for os.Exit. A server that cannot be started is exit code 1.
func Main(m *testing.M, server **Server) int {
	s, err := StartServer()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	*server = s
	code := m.Run()
	if err := s.Stop(true); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	return code
}

func (s *Server) dataDir() string { return filepath.Join(s.dir, "data") }
func (s *Server) logFile() string { return filepath.Join(s.dir, "server.log") }

// run runs a PostgreSQL binary, as the server's user when that is not us.
func (s *Server) run(name string, args ...string) ([]byte, error) {
	bin := filepath.Join(s.binDir, name)
	var cmd *exec.Cmd
	if s.runAs != "" {
		cmd = exec.Command("runuser", append([]string{"-u", s.runAs, "--", bin}, args...)...)
	} else {
		cmd = exec.Command(bin, args...)
	}
	cmd.Dir = s.dir
	// pg_ctl start leaves the server running with our stdout/stderr if it
	// has them, and CombinedOutput would then wait for the server to exit:
	// the server logs to its file instead, and pg_ctl's own output goes to
	// a file too.
	out, err := os.CreateTemp("", "pgtest-out-")
	if err != nil {
		return nil, err
	}
	defer os.Remove(out.Name())
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	runErr := cmd.Run()
	text, _ := os.ReadFile(out.Name())
	return text, runErr
}

// findBinaries returns the directory holding initdb and pg_ctl.
func findBinaries() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		p, _ = filepath.EvalSymlinks(p)
		dir := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(dir, "pg_ctl")); err == nil {
			return dir, nil
		}
	}
	// Debian keeps the server binaries off PATH, one directory per major
	// version; the newest wins.
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, dir := range dirs {
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir, nil
		}
	}
	return "", errors.New("pgtest: PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or in /usr/lib/postgresql/*/bin: apt-get install postgresql-15")
}

func version(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
