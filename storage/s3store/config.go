package s3store

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/xmppmedia/mediaserver/storage"
)

// Defaults applied by WithDefaults to zero fields.
const (
	DefaultRegion         = "us-east-1"
	DefaultRequestTimeout = 30 * time.Second
	DefaultMaxAttempts    = 3
	DefaultPartSize       = 8 << 20
)

// Part size limits. S3 refuses parts under 5 MiB (except the last); the upper
// bound is ours: an upload holds the part it is reading and up to
// partsInFlight parts being sent, so the part size is what bounds memory
// per upload.
const (
	MinPartSize = 5 << 20
	MaxPartSize = 64 << 20
)

// Config describes the bucket a Store writes to and how it talks to it.
// Zero fields take the defaults above (see WithDefaults).
type Config struct {
	// Bucket must exist; the store does not create it.
	Bucket string
	// Region is the signing region; S3-compatible servers usually accept
	// the default.
	Region string
	// Endpoint is the base URL of an S3-compatible server
	// ("http://127.0.0.1:7070"); empty means AWS.
	Endpoint string
	// Prefix is prepended to every key ("media" stores key "a/b" as
	// "media/a/b"), so several deployments can share a bucket. It must
	// itself be a valid storage key; leading and trailing '/' are ignored.
	Prefix string
	// PathStyle addresses the bucket as ENDPOINT/BUCKET instead of as
	// BUCKET.ENDPOINT; most self-hosted servers need it.
	PathStyle bool
	// AccessKeyID and SecretAccessKey are static credentials. Both empty
	// means the AWS SDK's default credential chain.
	AccessKeyID, SecretAccessKey string
	// RequestTimeout bounds every request attempt: connecting, waiting for
	// response headers, and any stretch without a byte moving in either
	// direction. A download that keeps progressing is not cut off.
	RequestTimeout time.Duration
	// MaxAttempts is how many times a request is tried in all (1: no
	// retries) when it fails with a network error, a timeout or a 5xx.
	MaxAttempts int
	// PartSize is the size of each part of a multipart upload, and the
	// largest body stored with a single PUT. Memory per upload is bounded
	// by a few parts.
	PartSize int64
}

// DefaultConfig is the zero Config with the defaults above; it has no
// bucket, which must be given.
func DefaultConfig() Config { return Config{}.WithDefaults() }

// WithDefaults returns c with its zero fields set to the defaults.
func (c Config) WithDefaults() Config {
	if c.Region == "" {
		c.Region = DefaultRegion
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.PartSize == 0 {
		c.PartSize = DefaultPartSize
	}
	return c
}

// Validate reports every problem with c, treating zero fields as their
// defaults.
func (c Config) Validate() error {
	c = c.WithDefaults()
	var errs []error
	if c.Bucket == "" {
		errs = append(errs, errors.New("bucket is required"))
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("endpoint %q: %w", c.Endpoint, err))
		case u.Scheme != "http" && u.Scheme != "https":
			errs = append(errs, fmt.Errorf("endpoint %q: scheme must be http or https", c.Endpoint))
		case u.Host == "":
			errs = append(errs, fmt.Errorf("endpoint %q: no host", c.Endpoint))
		}
	}
	if p := normalizePrefix(c.Prefix); p != "" && !storage.ValidKey(strings.TrimSuffix(p, "/")) {
		errs = append(errs, fmt.Errorf("prefix %q: not a valid storage key", c.Prefix))
	}
	if (c.AccessKeyID == "") != (c.SecretAccessKey == "") {
		errs = append(errs, errors.New("access key id and secret access key must be given together"))
	}
	if c.RequestTimeout < 0 {
		errs = append(errs, fmt.Errorf("request timeout %v: must be positive", c.RequestTimeout))
	}
	if c.MaxAttempts < 1 {
		errs = append(errs, fmt.Errorf("max attempts %d: must be at least 1", c.MaxAttempts))
	}
	if c.PartSize < MinPartSize || c.PartSize > MaxPartSize {
		errs = append(errs, fmt.Errorf("part size %d: must be between %d and %d", c.PartSize, MinPartSize, MaxPartSize))
	}
	if len(errs) > 0 {
		return fmt.Errorf("s3 config: %w", errors.Join(errs...))
	}
	return nil
}

// normalizePrefix turns "media", "/media/" or "media/" into "media/", and
// "" or "/" into "".
func normalizePrefix(p string) string {
	p = strings.Trim(p, "/")
	if p == "" {
		return ""
	}
	return p + "/"
}
