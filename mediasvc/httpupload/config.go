package httpupload

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"mellium.im/xmpp/jid"
)

// Config is the upload.* section of CONFIG.md; package configs maps the
// keys onto its fields (upload.quota.* onto Quota).
type Config struct {
	// Enabled makes the component a XEP-0363 upload service.
	Enabled bool
	// Domains are the JID domains whose users may upload; empty: the XMPP
	// server's own domain (the component JID without its first label).
	Domains []string
	// MaxFileSize bounds one file; announced in disco#info.
	MaxFileSize int64
	// SlotTTL is how long a signed PUT URL stays valid.
	SlotTTL time.Duration
	// Secret is the HMAC key of PUT URLs, shared by every server behind
	// one address; empty: generated once and kept in the metadata store,
	// which those servers share anyway.
	Secret string
	// ExpireAfter removes uploads (and their previews) older than this;
	// zero keeps them.
	ExpireAfter time.Duration
	Quota       Quota
}

// Quota bounds stored bytes; zero fields are no limit. Uploads in flight
// count with their announced size.
type Quota struct {
	// UserDailyBytes bounds what one user (bare JID) uploads per UTC day.
	UserDailyBytes int64
	// UserTotalBytes bounds what one user keeps stored.
	UserTotalBytes int64
	// TotalBytes bounds what all users keep stored.
	TotalBytes int64
}

// DefaultConfig is the upload section of CONFIG.md's defaults.
func DefaultConfig() Config {
	return Config{
		Enabled:     true,
		MaxFileSize: 104857600,
		SlotTTL:     5 * time.Minute,
	}
}

// minSecretBytes keeps a configured HMAC key from being guessable.
const minSecretBytes = 16

// Validate reports every value that cannot work, each prefixed with its
// key.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("upload.%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if c.MaxFileSize <= 0 {
		bad("max_file_size", "must be positive")
	}
	if c.SlotTTL <= 0 {
		bad("slot_ttl", "must be positive")
	}
	if c.ExpireAfter < 0 {
		bad("expire_after", "must not be negative")
	}
	if c.Secret != "" && len(c.Secret) < minSecretBytes {
		bad("secret", "at least %d bytes, or empty to generate one", minSecretBytes)
	}
	for key, v := range map[string]int64{
		"quota.user_daily_bytes": c.Quota.UserDailyBytes, "quota.user_total_bytes": c.Quota.UserTotalBytes,
		"quota.total_bytes": c.Quota.TotalBytes,
	} {
		if v < 0 {
			bad(key, "must not be negative")
		}
	}
	for _, d := range c.Domains {
		j, err := jid.Parse(d)
		if err != nil || j.Localpart() != "" || j.Resourcepart() != "" || strings.TrimSpace(d) != d {
			bad("domains", "%q is not a JID domain", d)
		}
	}
	return errors.Join(errs...)
}
