package s3store_test

import (
	"testing"

	"github.com/xmppmedia/mediaserver/storage"
	"github.com/xmppmedia/mediaserver/storage/blobtest"
	"github.com/xmppmedia/mediaserver/storage/s3test"
)

// TestConformance runs the shared blob store suite against a real gateway,
// each subtest in a fresh bucket, under a prefix so that prefixing is
// exercised on every operation.
func TestConformance(t *testing.T) {
	srv := s3test.StartServer(t)
	blobtest.Run(t, func(t *testing.T) storage.Blobs {
		cfg := srv.NewBucket(t)
		cfg.Prefix = "conformance"
		store := newStore(t, cfg)
		t.Cleanup(func() {
			if uploads := srv.Uploads(t, cfg.Bucket); len(uploads) > 0 {
				t.Errorf("unfinished multipart uploads left in %s: %v", cfg.Bucket, uploads)
			}
		})
		return store
	})
}
