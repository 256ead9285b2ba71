package s3test_test

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/xmppmedia/mediaserver/storage"
	"github.com/xmppmedia/mediaserver/storage/s3store"
	"github.com/xmppmedia/mediaserver/storage/s3test"
)

// What fault tests rely on: a stopped server refuses requests, and a
// restarted one serves the same data on the same address.
func TestStopRestartKeepsData(t *testing.T) {
	srv := s3test.StartServer(t)
	ctx := context.Background()
	store, err := s3store.New(ctx, srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Put(ctx, "kept", strings.NewReader("still here")); err != nil {
		t.Fatal(err)
	}

	srv.Stop()
	srv.Stop() // stopping twice is harmless
	if err := store.Ping(ctx); !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("Ping of a stopped server = %v, want ErrUnavailable", err)
	}

	srv.Restart()
	rc, _, err := store.Fetch(ctx, "kept")
	if err != nil {
		t.Fatalf("Fetch after restart: %v", err)
	}
	defer rc.Close()
	if got, _ := io.ReadAll(rc); string(got) != "still here" {
		t.Errorf("after restart got %q", got)
	}
	if got := srv.Objects(t, srv.Config.Bucket); !slices.Equal(got, []string{"kept"}) {
		t.Errorf("Objects = %v, want [kept]", got)
	}
}

func TestNewBucketIsSeparate(t *testing.T) {
	srv := s3test.StartServer(t)
	ctx := context.Background()
	cfg := srv.NewBucket(t)
	if cfg.Bucket == srv.Config.Bucket {
		t.Fatalf("NewBucket returned the default bucket %q", cfg.Bucket)
	}
	store, err := s3store.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Put(ctx, "x", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	if got := srv.Objects(t, srv.Config.Bucket); len(got) > 0 {
		t.Errorf("default bucket holds %v, want nothing", got)
	}
	if got := srv.Objects(t, cfg.Bucket); !slices.Equal(got, []string{"x"}) {
		t.Errorf("new bucket holds %v, want [x]", got)
	}
}
