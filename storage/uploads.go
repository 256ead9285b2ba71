package storage

import (
	"context"
	"time"
)

// Usage sums the sizes of the items of one entity (pending ones included,
// with the size they were begun with), for upload quotas.
type Usage struct {
	AuthorSince int64 // by the author, uploaded at or after the given time
	Author      int64 // by the author, ever
	Total       int64 // by anyone
}

// UploadLedger is an optional extra of a Metadata store that the XEP-0363
// upload service needs: usage sums for quotas, the oldest items for
// expiry, and a secret shared by every server using the store.
type UploadLedger interface {
	// UploadUsage sums the sizes of entity's items, visible and pending.
	// Pending items count with the size given to Begin, so that uploads in
	// flight are inside the quota before their bytes arrive.
	UploadUsage(ctx context.Context, entity, author string, since time.Time) (Usage, error)
	// UploadedBefore lists at most max visible items of entity uploaded
	// before t, oldest first.
	UploadedBefore(ctx context.Context, entity string, before time.Time, max int) ([]Media, error)
	// Secret returns the value kept under name. When there is none yet it
	// stores generate's result first; of several stores racing, the first
	// to write wins and every one returns that value.
	Secret(ctx context.Context, name string, generate func() (string, error)) (string, error)
}
