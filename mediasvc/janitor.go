package mediasvc

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/xmppmedia/mediaserver/storage"
)

// Recover cleans up after a crash. It runs once at start-up, before
// requests are served: the blob store's temporary files go, and so do
// abandoned uploads (see CleanAbandoned).
func (s *Server) Recover(ctx context.Context) (RecoverStats, error) {
	var st RecoverStats
	if sw, ok := s.blobs.Blobs.(storage.Sweeper); ok {
		n, err := sw.Sweep(ctx)
		st.TempFiles = n
		if err != nil {
			return st, fmt.Errorf("recover: %w", err)
		}
	}
	n, err := s.CleanAbandoned(ctx)
	st.Uploads = n
	return st, err
}

// RecoverStats says what Recover removed.
type RecoverStats struct {
	TempFiles int // partly written blob files or multipart uploads
	Uploads   int // uncommitted uploads
}

// CleanAbandoned removes uploads that were begun but never committed and
// are older than AbandonAfter (so other servers' uploads in flight are left
// alone): their blobs first, then their pending records. An upload whose
// blobs cannot be removed now (the store is down) keeps its record for the
// next pass.
func (s *Server) CleanAbandoned(ctx context.Context) (int, error) {
	pending, err := s.meta.Pending(ctx, s.now().Add(-s.cfg.AbandonAfter))
	if err != nil {
		return 0, fmt.Errorf("clean abandoned uploads: %w", err)
	}
	removed := 0
	var errs []error
	for _, m := range pending {
		if err := s.removeBlobs(ctx, m, nil); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := s.meta.Abort(ctx, m.Entity, m.ID); err != nil {
			errs = append(errs, fmt.Errorf("abort %s: %w", m.ID, err))
			continue
		}
		removed++
	}
	return removed, errors.Join(errs...)
}

// RunJanitor calls CleanAbandoned every interval until ctx ends, so that
// what an outage left behind goes once the store is back.
func (s *Server) RunJanitor(ctx context.Context, every time.Duration) {
	s.repeat(ctx, every, "janitor", s.CleanAbandoned)
}

// repeat runs a clean-up job (what, returning how many things it removed)
// every interval until ctx ends, logging what it did.
func (s *Server) repeat(ctx context.Context, every time.Duration, what string, job func(context.Context) (int, error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := job(ctx); err != nil {
				s.log.Warn(what, "removed", n, "err", err)
			} else if n > 0 {
				s.log.Info(what+" removed items", "removed", n)
			}
		}
	}
}
