package disk_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xmppmedia/mediaserver/storage"
	"github.com/xmppmedia/mediaserver/storage/blobtest"
	"github.com/xmppmedia/mediaserver/storage/disk"
)

func newStore(t *testing.T) *disk.Store {
	s, err := disk.New(disk.Config{Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) storage.Blobs { return newStore(t) })
}

func TestSweepRemovesOnlyTemporaryFiles(t *testing.T) {
	root := t.TempDir()
	s, err := disk.New(disk.Config{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.Put(ctx, "a/blob", strings.NewReader("keep me")); err != nil {
		t.Fatal(err)
	}
	// What a crash between create and rename leaves.
	stray := filepath.Join(root, "a", ".tmp-123456")
	if err := os.WriteFile(stray, []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}
	n, err := s.Sweep(ctx)
	if err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v; want 1, nil", n, err)
	}
	if _, err := os.Stat(stray); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("temporary file still there: %v", err)
	}
	rc, _, err := s.Fetch(ctx, "a/blob")
	if err != nil {
		t.Fatalf("blob lost by sweep: %v", err)
	}
	rc.Close()
}

func TestFilesStayInsideRoot(t *testing.T) {
	parent := t.TempDir()
	root := filepath.Join(parent, "root")
	s, err := disk.New(disk.Config{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"../outside", "x/../../outside"} {
		if _, err := s.Put(context.Background(), key, strings.NewReader("x")); !errors.Is(err, storage.ErrInvalidKey) {
			t.Fatalf("Put(%q) = %v", key, err)
		}
	}
	if _, err := os.Stat(filepath.Join(parent, "outside")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a file was written outside the root")
	}
}

func TestPolicyChecksum(t *testing.T) {
	p := &storage.Policy{Blobs: newStore(t)}
	data := bytes.Repeat([]byte("media"), 1000)
	sum, err := p.PutSum(context.Background(), "sum", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	want := sha1.Sum(data)
	if sum.SHA1 != hex.EncodeToString(want[:]) || sum.Size != int64(len(data)) {
		t.Fatalf("PutSum = %+v, want sha1 %x size %d", sum, want, len(data))
	}
}
