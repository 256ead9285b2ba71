package mediasvc

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/xmppmedia/mediaserver/auth/xmppwire"
	"github.com/xmppmedia/mediaserver/transform"
)

// maxPreviewSizes bounds the configured device sizes: each is made at
// upload in both orientations, so each one costs every image upload.
const maxPreviewSizes = 8

// Config is the part of the configuration the HTTP service uses.
type Config struct {
	// PublicURL is the base URL clients use; empty derives it from each
	// request. It goes into XEP-0070 confirmation URLs.
	PublicURL string
	// MaxUploadBytes bounds the stored size of an upload.
	MaxUploadBytes int64
	// PreviewSizes are made at upload for every image, in both orientations.
	PreviewSizes []transform.Box
	// DerivedCacheBytes bounds the memory kept for previews of boxes that
	// are not stored (derived from a stored preview on request, e.g. 100x100
	// or an avatar at 50x50); 0 keeps none, deriving on every request.
	DerivedCacheBytes int64
	// SaveDataBytes is the byte budget of a preview asked for with
	// Save-Data: on, for the 320x480 box; other boxes scale by area, down
	// to saveDataFloor (variants.go, docs/previews.md). 0 ignores Save-Data.
	SaveDataBytes int
	// AvatarsPublic makes every channel's avatar readable by anyone.
	AvatarsPublic bool
	// PublicMaxAge is the Cache-Control max-age of open channels' media.
	PublicMaxAge time.Duration
	// MaxConcurrentUploads bounds uploads in progress; more get 503.
	MaxConcurrentUploads int
	// PreviewWait is how long an on-demand preview waits for a worker
	// before the request gets 503.
	PreviewWait time.Duration
	// AbandonAfter is the age at which Recover removes unfinished uploads.
	AbandonAfter time.Duration
	// CORSOrigins, when not empty, lists the only origins (scheme://host[:port])
	// whose pages may use the API from a browser. Empty echoes any origin,
	// as existing web clients expect; a list closes the door on pages that
	// would ride on a browser's cached Basic credentials.
	CORSOrigins []string
}

// DefaultConfig matches the defaults of CONFIG.md.
func DefaultConfig() Config {
	return Config{
		MaxUploadBytes:       104857600,
		PreviewSizes:         transform.DefaultPreviewSizes(),
		DerivedCacheBytes:    64 << 20,
		SaveDataBytes:        10240,
		AvatarsPublic:        true,
		PublicMaxAge:         24 * time.Hour,
		MaxConcurrentUploads: 64,
		PreviewWait:          10 * time.Second,
		AbandonAfter:         15 * time.Minute,
	}
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	var errs []error
	if c.MaxUploadBytes <= 0 {
		errs = append(errs, errors.New("max upload bytes must be positive"))
	}
	if c.MaxConcurrentUploads <= 0 {
		errs = append(errs, errors.New("max concurrent uploads must be positive"))
	}
	if c.PreviewWait <= 0 {
		errs = append(errs, errors.New("preview wait must be positive"))
	}
	if c.PublicURL != "" {
		if err := xmppwire.CheckEndpoint(c.PublicURL); err != nil {
			errs = append(errs, fmt.Errorf("public URL: %w", err))
		}
	}
	if len(c.PreviewSizes) > maxPreviewSizes {
		errs = append(errs, fmt.Errorf("at most %d preview sizes", maxPreviewSizes))
	}
	for _, b := range c.PreviewSizes {
		if err := b.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("preview size: %w", err))
		}
	}
	if c.DerivedCacheBytes < 0 {
		errs = append(errs, errors.New("derived preview cache bytes must not be negative"))
	}
	if c.SaveDataBytes != 0 && (c.SaveDataBytes < minMaxBytes || c.SaveDataBytes > maxMaxBytes) {
		errs = append(errs, fmt.Errorf("save-data bytes must be 0 (off) or from %d to %d", minMaxBytes, maxMaxBytes))
	}
	if c.PublicMaxAge < 0 {
		errs = append(errs, errors.New("public max age must not be negative"))
	}
	if c.AbandonAfter < 0 {
		errs = append(errs, errors.New("abandon after must not be negative"))
	}
	for _, o := range c.CORSOrigins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.TrimRight(u.Path, "/") != "" {
			errs = append(errs, fmt.Errorf("CORS origin: want scheme://host[:port], got %q", o))
		}
	}
	return errors.Join(errs...)
}

// Validate reports a timeout that cannot work: each bounds a phase that
// must end, so none may be zero or negative.
func (t Timeouts) Validate() error {
	var errs []error
	for _, d := range []struct {
		name string
		d    time.Duration
	}{{"read header", t.ReadHeader}, {"body idle", t.BodyIdle}, {"write idle", t.WriteIdle}, {"idle", t.Idle}} {
		if d.d <= 0 {
			errs = append(errs, fmt.Errorf("%s timeout must be positive", d.name))
		}
	}
	return errors.Join(errs...)
}
