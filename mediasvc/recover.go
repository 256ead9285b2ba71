package mediasvc

import (
	"context"
	"fmt"

	"github.com/xmppmedia/mediaserver/storage"
)

// Recover cleans up after a crash. It runs once at start-up, before
// requests are served: the blob store's temporary files go, and uploads
// that were begun but never committed (older than AbandonAfter, so that
// other servers' uploads in flight are left alone) are removed with
// their blobs.
func (s *Server) Recover(ctx context.Context) (RecoverStats, error) {
	var st RecoverStats
	if sw, ok := s.blobs.Blobs.(storage.Sweeper); ok {
		n, err := sw.Sweep(ctx)
		st.TempFiles = n
		if err != nil {
			return st, fmt.Errorf("recover: %w", err)
		}
	}
	pending, err := s.meta.Pending(ctx, s.now().Add(-s.cfg.AbandonAfter))
	if err != nil {
		return st, fmt.Errorf("recover: pending uploads: %w", err)
	}
	for _, m := range pending {
		s.removeBlobs(ctx, m, nil)
		if err := s.meta.Abort(ctx, m.Entity, m.ID); err != nil {
			return st, fmt.Errorf("recover: abort %s: %w", m.ID, err)
		}
		st.Uploads++
	}
	return st, nil
}

// RecoverStats says what Recover removed.
type RecoverStats struct {
	TempFiles int // partly written blob files
	Uploads   int // uncommitted uploads
}
