// Package httpupload is the XEP-0363 HTTP File Upload service's policy:
// who may upload, what a slot request may ask for, quotas, the signed PUT
// URLs and the capability GET URLs. It knows no HTTP serving: package
// mediasvc streams the PUT into the same storage as channel uploads and
// serves the GET like channel media, asking this package about each.
//
// An upload is stored as a media item of one entity, Entity (a bare
// domain, which the channel API never accepts as a channel), with the slot
// id as its media id, so that it shares the channel media's two-phase
// commit, crash recovery, previews and serving.
package httpupload

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"mellium.im/xmpp/jid"

	"github.com/xmppmedia/mediaserver/auth/xmppauth"
	"github.com/xmppmedia/mediaserver/storage"
)

// PathPrefix starts the path of every upload URL: PathPrefix + id + "/" +
// file name (escaped).
const PathPrefix = "/upload/"

// secretName is the metadata store's name for a generated key.
const secretName = "xep0363-put-hmac"

// DefaultDomain is the domain whose users may upload when upload.domains
// is empty: the component's domain without its first label, the XMPP
// server's own domain for a component named as XEP-0363 suggests
// (media.example.com serves example.com).
func DefaultDomain(component string) (string, error) {
	_, parent, ok := strings.Cut(strings.ToLower(component), ".")
	if !ok || parent == "" {
		return "", fmt.Errorf("component JID %q is not a subdomain: set upload.domains", component)
	}
	return parent, nil
}

// Entity is the entity every upload is stored under. It is the same for
// every server, whatever its component JID (each server of a scaled-out
// deployment has its own), so that any server finds any upload; the
// reserved .invalid domain (RFC 2606) is never a channel.
const Entity = "http-upload.invalid"

// defaultType is the type of a file whose slot request named none.
const defaultType = "application/octet-stream"

// Deps are what a Service is built on.
type Deps struct {
	// Ledger sums usage for quotas and keeps a generated key.
	Ledger storage.UploadLedger
	// ComponentJID is the component's JID; with its first label removed,
	// it is the default upload domain.
	ComponentJID jid.JID
	// BaseURL is the public base URL of the HTTP API (scheme://host[/path]).
	BaseURL string
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Service is the XEP-0363 upload service. It implements
// xmppauth.SlotService.
type Service struct {
	cfg     Config
	ledger  storage.UploadLedger
	domains map[string]bool
	base    string
	sign    signer
	now     func() time.Time
}

var _ xmppauth.SlotService = (*Service)(nil)

// New checks cfg and builds the service. With no configured secret it
// reads (or creates) the shared one in the metadata store.
func New(ctx context.Context, cfg Config, deps Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Ledger == nil {
		return nil, errors.New("httpupload: the metadata store keeps no upload ledger")
	}
	u, err := url.Parse(deps.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		return nil, fmt.Errorf("httpupload: base URL %q: want an absolute http(s) URL", deps.BaseURL)
	}
	comp := deps.ComponentJID.Bare()
	if comp.String() == "" || comp.Localpart() != "" {
		return nil, fmt.Errorf("httpupload: component JID %q: want a bare domain", comp)
	}
	s := &Service{
		cfg: cfg, ledger: deps.Ledger, domains: map[string]bool{},
		base: strings.TrimRight(deps.BaseURL, "/"), now: deps.Now,
	}
	if s.now == nil {
		s.now = time.Now
	}
	for _, d := range cfg.Domains {
		s.domains[strings.ToLower(d)] = true
	}
	if len(s.domains) == 0 {
		parent, err := DefaultDomain(comp.Domainpart())
		if err != nil {
			return nil, fmt.Errorf("httpupload: %w", err)
		}
		s.domains[parent] = true
	}
	key := cfg.Secret
	if key == "" {
		key, err = deps.Ledger.Secret(ctx, secretName, func() (string, error) {
			b := make([]byte, 32)
			if _, err := rand.Read(b); err != nil {
				return "", err
			}
			return hex.EncodeToString(b), nil
		})
		if err != nil {
			return nil, fmt.Errorf("httpupload: %w", err)
		}
	}
	s.sign = signer{key: []byte(key)}
	return s, nil
}

// MaxFileSize implements xmppauth.SlotService.
func (s *Service) MaxFileSize() int64 { return s.cfg.MaxFileSize }

// ExpireAfter is the configured retention; zero keeps uploads.
func (s *Service) ExpireAfter() time.Duration { return s.cfg.ExpireAfter }

// Expired reports whether an upload made at uploaded is past retention.
func (s *Service) Expired(uploaded time.Time) bool {
	return s.cfg.ExpireAfter > 0 && !s.now().Before(uploaded.Add(s.cfg.ExpireAfter))
}

// GetURL is the capability URL of upload id: anyone who has it may read.
func (s *Service) GetURL(id, name string) string {
	return s.base + PathPrefix + id + "/" + url.PathEscape(name)
}

// RequestSlot implements xmppauth.SlotService: it checks the requester's
// domain, the file's name, size and type, and the quotas, and signs a PUT
// URL for exactly that file.
func (s *Service) RequestSlot(ctx context.Context, requester jid.JID, req xmppauth.SlotRequest) (xmppauth.Slot, error) {
	user := requester.Bare()
	if user.Localpart() == "" || !s.domains[strings.ToLower(user.Domainpart())] {
		return xmppauth.Slot{}, fmt.Errorf("%w: %s", xmppauth.ErrSlotForbidden, user)
	}
	name, err := CheckFileName(req.FileName)
	if err != nil {
		return xmppauth.Slot{}, err
	}
	size, err := strconv.ParseInt(req.Size, 10, 64)
	if err != nil || size <= 0 {
		return xmppauth.Slot{}, fmt.Errorf("%w: size must be a positive whole number", xmppauth.ErrSlotNotAcceptable)
	}
	if size > s.cfg.MaxFileSize {
		return xmppauth.Slot{}, &xmppauth.FileTooLargeError{Max: s.cfg.MaxFileSize}
	}
	typ, err := CheckType(req.ContentType)
	if err != nil {
		return xmppauth.Slot{}, err
	}
	if err := s.CheckQuota(ctx, user.String(), size); err != nil {
		return xmppauth.Slot{}, err
	}
	g := Grant{ID: newSlotID(), Name: name, Requester: user.String(), Size: size, Type: typ,
		Expires: s.now().Add(s.cfg.SlotTTL).Truncate(time.Second)}
	get := s.GetURL(g.ID, g.Name)
	return xmppauth.Slot{PutURL: get + "?" + s.sign.query(g), GetURL: get}, nil
}

// VerifyPut checks a PUT to slot id with file name name and query q
// against its signature and expiry. Its errors are ErrBadSignature and
// ErrExpired.
func (s *Service) VerifyPut(id, name string, q url.Values) (Grant, error) {
	return s.sign.verify(id, name, q, s.now())
}

// CheckQuota reports a *xmppauth.QuotaError when storing extra more bytes
// for user would pass a quota. Uploads in flight count already.
func (s *Service) CheckQuota(ctx context.Context, user string, extra int64) error {
	q := s.cfg.Quota
	if q.UserDailyBytes == 0 && q.UserTotalBytes == 0 && q.TotalBytes == 0 {
		return nil
	}
	now := s.now().UTC()
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	u, err := s.ledger.UploadUsage(ctx, Entity, user, day)
	if err != nil {
		return err
	}
	// Stored bytes only go away by expiry, so without one a total quota
	// names no time to retry.
	var freed time.Time
	if s.cfg.ExpireAfter > 0 {
		freed = now.Add(s.cfg.ExpireAfter).Truncate(time.Second)
	}
	switch {
	case q.UserDailyBytes > 0 && u.AuthorSince+extra > q.UserDailyBytes:
		return &xmppauth.QuotaError{RetryAt: day.AddDate(0, 0, 1), Reason: "daily upload quota"}
	case q.UserTotalBytes > 0 && u.Author+extra > q.UserTotalBytes:
		return &xmppauth.QuotaError{RetryAt: freed, Reason: "your storage quota"}
	case q.TotalBytes > 0 && u.Total+extra > q.TotalBytes:
		return &xmppauth.QuotaError{RetryAt: freed, Reason: "the service's storage is full"}
	}
	return nil
}

// CheckFileName accepts a file name a client may send: a single path
// element of valid UTF-8 without control characters, at most 255 bytes.
// It is refused rather than cleaned, since it is signed into the URL.
func CheckFileName(name string) (string, error) {
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("%w: file name %s", xmppauth.ErrSlotNotAcceptable, why)
	}
	switch {
	case name == "" || name == "." || name == "..":
		return bad("missing")
	case len(name) > 255:
		return bad("longer than 255 bytes")
	case !utf8.ValidString(name):
		return bad("not UTF-8")
	case strings.ContainsAny(name, "/\\"):
		return bad("contains a path separator")
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return bad("contains control characters")
	}
	return name, nil
}

// CheckType normalizes a content type (lower case, no parameters); empty
// is application/octet-stream.
func CheckType(v string) (string, error) {
	if v == "" {
		return defaultType, nil
	}
	mt, _, err := mime.ParseMediaType(v)
	if err != nil || !strings.Contains(mt, "/") || len(mt) > 255 {
		return "", fmt.Errorf("%w: content type %q", xmppauth.ErrSlotNotAcceptable, v)
	}
	return mt, nil
}

// ValidSlotID reports whether id has the shape newSlotID makes.
func ValidSlotID(id string) bool {
	if len(id) != 32 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil && strings.ToLower(id) == id
}

// newSlotID is 128 random bits, hex: the GET URL's capability.
func newSlotID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // the platform is broken
	}
	return hex.EncodeToString(b)
}
