package postgres_test

import (
	"testing"

	"github.com/xmppmedia/mediaserver/storage"
	"github.com/xmppmedia/mediaserver/storage/metadatatest"
)

func TestUploadLedger(t *testing.T) {
	metadatatest.RunLedger(t, func(t *testing.T) storage.Metadata {
		return open(t, server.NewDatabase(t))
	})
}
