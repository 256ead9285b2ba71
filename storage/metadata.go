package storage

import (
	"context"
	"time"
)

// Media is the stored description of one media item. Entity is the bare JID
// of the channel the item belongs to; an item is only ever found under it.
type Media struct {
	ID          string
	Entity      string
	Author      string // bare JID of the uploader
	FileName    string
	Title       string
	Description string
	MimeType    string
	Extension   string
	SHA1        string // hex SHA-1 of the stored original
	Size        int64
	Width       int // pixels; 0 when unknown
	Height      int
	LengthMS    int64 // duration of audio and video; 0 when unknown
	Uploaded    time.Time
	Updated     time.Time
	Avatar      bool   // uploaded as the channel's avatar (not listed)
	BlobKey     string // where the original lives in the blob store
	// Placeholder is what a page draws while the previews load: the
	// base64 of a ThumbHash of the picture (transform.PreviewsAndPlaceholder),
	// "" when there is none (not an image, or stored before placeholders).
	Placeholder string
}

// Preview is a stored rendition of a media item that fits inside Width x
// Height (a box, not the rendition's exact size).
type Preview struct {
	MediaID  string
	Entity   string
	Width    int
	Height   int
	MimeType string
	Size     int64
	BlobKey  string
	Created  time.Time
}

// Changes lists the user-editable fields of an item; nil leaves a field as
// it is.
type Changes struct {
	FileName    *string
	Title       *string
	Description *string
}

// Page selects a slice of a channel's list, newest Updated first (ties
// broken by ID, descending). After, when set, is the ID of the last item of
// the previous page.
type Page struct {
	Max   int
	After string
}

// Metadata is the metadata store. Implementations: storage/sqlite and
// storage/postgres; both pass storage/metadatatest.
//
// Uploads are two-phase so that a crash never leaves a visible half item:
// Begin records an intent (invisible to Get and List), the blob is written,
// and Commit makes the item visible in one transaction. Pending lists
// intents left behind by a crash so their blobs can be removed.
type Metadata interface {
	// Begin records a pending item. An item with the same (Entity, ID)
	// already present is ErrConflict.
	Begin(ctx context.Context, m Media) error
	// Commit makes a pending item visible, with the final fields of m
	// (size, checksum, dimensions...). When asAvatar is set, the item
	// becomes the entity's current avatar in the same transaction and the
	// previous avatar (if any) is returned so its blobs can be removed; its
	// records are deleted by Commit. A missing pending item is ErrNotFound.
	Commit(ctx context.Context, m Media, asAvatar bool) (previous *Media, previews []Preview, err error)
	// Abort forgets a pending item. A missing one is not an error.
	Abort(ctx context.Context, entity, id string) error
	// Pending lists pending items begun before the given time.
	Pending(ctx context.Context, before time.Time) ([]Media, error)

	// Get returns a visible item of entity. Missing is ErrNotFound.
	Get(ctx context.Context, entity, id string) (Media, error)
	// Avatar returns the entity's current avatar. Missing is ErrNotFound.
	Avatar(ctx context.Context, entity string) (Media, error)
	// List returns a page of the entity's visible non-avatar items. An
	// After that names no item of entity is ErrNotFound.
	List(ctx context.Context, entity string, page Page) ([]Media, error)
	// Update applies changes and sets Updated to now; it returns the new
	// record. Missing is ErrNotFound.
	Update(ctx context.Context, entity, id string, c Changes, now time.Time) (Media, error)
	// Delete removes an item and its preview records, returning both so
	// the caller can remove their blobs. Missing is ErrNotFound.
	Delete(ctx context.Context, entity, id string) (Media, []Preview, error)

	// PutPreview records a stored preview (replacing one for the same box).
	// A preview of a missing item is ErrNotFound.
	PutPreview(ctx context.Context, p Preview) error
	// Previews lists an item's stored previews, smallest box first.
	Previews(ctx context.Context, entity, id string) ([]Preview, error)

	// Ping checks the store is reachable.
	Ping(ctx context.Context) error
	// Close releases the store's resources.
	Close() error
}
