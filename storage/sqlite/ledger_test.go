package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/xmppmedia/mediaserver/storage"
	"github.com/xmppmedia/mediaserver/storage/metadatatest"
)

func TestUploadLedger(t *testing.T) {
	metadatatest.RunLedger(t, func(t *testing.T) storage.Metadata {
		return open(t, filepath.Join(t.TempDir(), "media.db"))
	})
}
