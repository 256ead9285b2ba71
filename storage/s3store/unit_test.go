package s3store_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/xmppmedia/mediaserver/storage"
	"github.com/xmppmedia/mediaserver/storage/s3store"
)

// Fast tests without the real gateway: an in-process S3 fake for the
// happy path, and hand-made misbehaving servers for error mapping.

func fakeConfig(endpoint string) s3store.Config {
	return s3store.Config{
		Bucket:          "fake",
		Endpoint:        endpoint,
		PathStyle:       true,
		AccessKeyID:     "id",
		SecretAccessKey: "secret",
		RequestTimeout:  300 * time.Millisecond,
		MaxAttempts:     2,
	}
}

func TestFakeS3RoundTrip(t *testing.T) {
	backend := s3mem.New()
	if err := backend.CreateBucket("fake"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	cfg := fakeConfig(srv.URL)
	cfg.RequestTimeout = 10 * time.Second // the fake is slow under -race
	store := newStore(t, cfg)
	ctx := context.Background()

	for _, size := range []int64{0, 100, 2*partSize + 1} {
		n, err := store.Put(ctx, "k", body(9, size))
		if err != nil || n != size {
			t.Fatalf("Put of %d bytes = %d, %v", size, n, err)
		}
		rc, got, err := store.Fetch(ctx, "k")
		if err != nil {
			t.Fatalf("Fetch: %v", err)
		}
		sum, _ := digest(t, rc)
		rc.Close()
		want, _ := digest(t, body(9, size))
		if got != size || sum != want {
			t.Errorf("Fetch of a %d-byte blob: size %d, same bytes %v", size, got, sum == want)
		}
	}
	rc, err := store.FetchRange(ctx, "k", partSize-2, 4)
	if err != nil {
		t.Fatalf("FetchRange: %v", err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if want := bodyBytes(t, 9, partSize+2)[partSize-2:]; !bytes.Equal(got, want) {
		t.Errorf("FetchRange = %x, want %x", got, want)
	}
	if err := store.Remove(ctx, "k", "missing"); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if _, _, err := store.Fetch(ctx, "k"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Fetch after Remove = %v, want ErrNotFound", err)
	}
}

// stalledServer accepts connections and reads requests but never answers,
// like a server that hangs.
func stalledServer(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() {
		close(done)
		l.Close()
	})
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				go io.Copy(io.Discard, conn)
				<-done
			}()
		}
	}()
	return "http://" + l.Addr().String()
}

// statusServer answers every request with status and an S3 error body.
func statusServer(t *testing.T, status int, code string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(status)
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>`+code+`</Code><Message>test</Message></Error>`)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestErrorMapping(t *testing.T) {
	tests := []struct {
		name            string
		endpoint        func(t *testing.T) string
		wantUnavailable bool
	}{
		{"server hangs", stalledServer, true},
		{"connection refused", func(t *testing.T) string {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			l.Close()
			return "http://" + l.Addr().String()
		}, true},
		{"503 slow down", func(t *testing.T) string { return statusServer(t, 503, "SlowDown") }, true},
		{"500 internal error", func(t *testing.T) string { return statusServer(t, 500, "InternalError") }, true},
		{"403 access denied", func(t *testing.T) string { return statusServer(t, 403, "AccessDenied") }, false},
		{"404 no such bucket", func(t *testing.T) string { return statusServer(t, 404, "NoSuchBucket") }, false},
	}
	ops := []struct {
		name string
		run  func(ctx context.Context, s *s3store.Store) error
	}{
		{"Put", func(ctx context.Context, s *s3store.Store) error {
			_, err := s.Put(ctx, "k", strings.NewReader("body"))
			return err
		}},
		{"Fetch", func(ctx context.Context, s *s3store.Store) error {
			rc, _, err := s.Fetch(ctx, "k")
			if err == nil {
				rc.Close()
			}
			return err
		}},
		{"Remove", func(ctx context.Context, s *s3store.Store) error { return s.Remove(ctx, "k") }},
		{"Ping", func(ctx context.Context, s *s3store.Store) error { return s.Ping(ctx) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store := newStore(t, fakeConfig(tc.endpoint(t)))
			for _, op := range ops {
				start := time.Now()
				err := op.run(context.Background(), store)
				elapsed := time.Since(start)
				if err == nil {
					t.Fatalf("%s succeeded", op.name)
				}
				if got := errors.Is(err, storage.ErrUnavailable); got != tc.wantUnavailable {
					t.Errorf("%s = %v; unavailable %v, want %v", op.name, err, got, tc.wantUnavailable)
				}
				if errors.Is(err, storage.ErrNotFound) {
					t.Errorf("%s = %v; a missing bucket is not a missing blob", op.name, err)
				}
				// 2 attempts of 300 ms plus backoff.
				if limit := 5 * time.Second; elapsed > limit {
					t.Errorf("%s took %v, want under %v", op.name, elapsed, limit)
				}
			}
		})
	}
}

func TestCallerCancellationIsNotAnOutage(t *testing.T) {
	store := newStore(t, fakeConfig(stalledServer(t)))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, _, err := store.Fetch(ctx, "k")
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("Fetch with the caller's deadline passed = %v, want DeadlineExceeded and not ErrUnavailable", err)
	}
}

func TestConfigValidate(t *testing.T) {
	valid := s3store.Config{Bucket: "b"}
	tests := []struct {
		name   string
		change func(c *s3store.Config)
		ok     bool
	}{
		{"bucket only, defaults for the rest", func(c *s3store.Config) {}, true},
		{"full", func(c *s3store.Config) {
			*c = s3store.Config{Bucket: "b", Region: "eu-west-1", Endpoint: "https://s3.example.net:9000", Prefix: "media/v1",
				PathStyle: true, AccessKeyID: "a", SecretAccessKey: "s", RequestTimeout: time.Second, MaxAttempts: 1, PartSize: 8 << 20}
		}, true},
		{"no bucket", func(c *s3store.Config) { c.Bucket = "" }, false},
		{"endpoint without scheme", func(c *s3store.Config) { c.Endpoint = "127.0.0.1:9000" }, false},
		{"endpoint with another scheme", func(c *s3store.Config) { c.Endpoint = "ftp://host" }, false},
		{"prefix with a dot segment", func(c *s3store.Config) { c.Prefix = "a/../b" }, false},
		{"prefix with slashes around", func(c *s3store.Config) { c.Prefix = "/media/" }, true},
		{"access key without secret", func(c *s3store.Config) { c.AccessKeyID = "a" }, false},
		{"secret without access key", func(c *s3store.Config) { c.SecretAccessKey = "s" }, false},
		{"negative timeout", func(c *s3store.Config) { c.RequestTimeout = -time.Second }, false},
		{"negative attempts", func(c *s3store.Config) { c.MaxAttempts = -1 }, false},
		{"part below S3's minimum", func(c *s3store.Config) { c.PartSize = 1 << 20 }, false},
		{"part above the memory bound", func(c *s3store.Config) { c.PartSize = 1 << 30 }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := valid
			tc.change(&c)
			err := c.Validate()
			if (err == nil) != tc.ok {
				t.Errorf("Validate(%+v) = %v, want ok %v", c, err, tc.ok)
			}
			if _, err := s3store.New(context.Background(), c); (err == nil) != tc.ok {
				t.Errorf("New(%+v) = %v, want ok %v", c, err, tc.ok)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	got := s3store.Config{Bucket: "b"}.WithDefaults()
	want := s3store.Config{Bucket: "b", Region: "us-east-1", RequestTimeout: 30 * time.Second, MaxAttempts: 3, PartSize: 8 << 20}
	if got != want {
		t.Errorf("WithDefaults = %+v, want %+v", got, want)
	}
}

// A server that starts sending a body and then goes silent: the reader
// fails as unavailable after about RequestTimeout instead of hanging.
func TestStalledDownloadTimesOut(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000000")
		w.WriteHeader(http.StatusOK)
		w.Write(make([]byte, 1000))
		w.(http.Flusher).Flush()
		<-release
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	store := newStore(t, fakeConfig(srv.URL))

	rc, size, err := store.Fetch(context.Background(), "k")
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	defer rc.Close()
	if size != 1000000 {
		t.Errorf("size %d, want 1000000", size)
	}
	start := time.Now()
	n, err := io.Copy(io.Discard, rc)
	if !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("read of a stalled body: %d bytes, %v; want ErrUnavailable", n, err)
	}
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("stalled read failed after %v, want about the 300 ms timeout", elapsed)
	}
}
