package mediasvc

import (
	"time"

	"github.com/xmppmedia/mediaserver/storage"
)

// mediaJSON is the media JSON of the API. Unknown values are omitted.
type mediaJSON struct {
	ID              string `json:"id"`
	FileName        string `json:"fileName,omitempty"`
	Author          string `json:"author,omitempty"`
	Title           string `json:"title,omitempty"`
	MimeType        string `json:"mimeType,omitempty"`
	Description     string `json:"description,omitempty"`
	UploadedDate    string `json:"uploadedDate,omitempty"`
	LastUpdatedDate string `json:"lastUpdatedDate,omitempty"`
	FileExtension   string `json:"fileExtension,omitempty"`
	ShaChecksum     string `json:"shaChecksum,omitempty"`
	FileSize        *int64 `json:"fileSize,omitempty"`
	Length          int64  `json:"length,omitempty"`
	Height          int    `json:"height,omitempty"`
	Width           int    `json:"width,omitempty"`
	EntityID        string `json:"entityId"`
	// Placeholder is a ThumbHash (base64) of the picture, for a page to
	// draw while the previews load (docs/previews.md); an extra key, which
	// API.md allows.
	Placeholder string `json:"placeholder,omitempty"`
}

// dateFormat is RFC 3339 in UTC with milliseconds.
const dateFormat = "2006-01-02T15:04:05.000Z07:00"

func formatDate(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(dateFormat)
}

func toJSON(m storage.Media) mediaJSON {
	size := m.Size
	return mediaJSON{
		ID:              m.ID,
		FileName:        m.FileName,
		Author:          m.Author,
		Title:           m.Title,
		MimeType:        m.MimeType,
		Description:     m.Description,
		UploadedDate:    formatDate(m.Uploaded),
		LastUpdatedDate: formatDate(m.Updated),
		FileExtension:   m.Extension,
		ShaChecksum:     m.SHA1,
		FileSize:        &size,
		Length:          m.LengthMS,
		Height:          m.Height,
		Width:           m.Width,
		EntityID:        m.Entity,
		Placeholder:     m.Placeholder,
	}
}
