// Package configs maps the server's configuration file and MEDIASERVER_*
// environment variables onto the components' own Configs. Each component
// (mediasvc, xmppauth, the stores, transform) defines its defaults and
// validation; this package holds only the list of keys (which key sets
// which field), the settings of the process itself (listen addresses, log,
// cache lifetimes), the loading, and the commented example file
// mediaserver.yaml. The keys are those of CONFIG.md. Only cmd/ calls Load;
// the pieces receive their Configs as they are.
package configs

import (
	_ "embed"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/xmppmedia/mediaserver/auth/xmppauth"
	"github.com/xmppmedia/mediaserver/mediasvc"
	"github.com/xmppmedia/mediaserver/mediasvc/httpupload"
	"github.com/xmppmedia/mediaserver/storage/disk"
	"github.com/xmppmedia/mediaserver/storage/postgres"
	"github.com/xmppmedia/mediaserver/storage/s3store"
	"github.com/xmppmedia/mediaserver/storage/sqlite"
	"github.com/xmppmedia/mediaserver/transform"
	"github.com/xmppmedia/mediaserver/transform/poster"
)

// Example is the commented example configuration shipped in this folder.
//
//go:embed mediaserver.yaml
var Example []byte

// Config is the whole configuration: the components' Configs, passed to
// their constructors as they are, and the settings of the process.
type Config struct {
	HTTP     HTTP
	Media    mediasvc.Config
	Timeouts mediasvc.Timeouts
	XMPP     xmppauth.Config
	Caches   Caches
	Storage  Storage
	Metadata Metadata
	Images   transform.Config
	Posters  poster.Config
	Log      Log
	Metrics  Metrics
	Demo     Demo
	Upload   httpupload.Config
}

// HTTP is where the API listens and how long a shutdown may take.
type HTTP struct {
	Listen          string
	ShutdownTimeout time.Duration
}

// Caches are the lifetimes of the permission caches in front of the XMPP
// component (package auth); 0 disables a cache.
type Caches struct {
	ConfirmTTL    time.Duration
	PermissionTTL time.Duration
}

// Storage picks the blob store; only the chosen one's Config is validated.
type Storage struct {
	Backend string // disk | s3
	Disk    disk.Config
	S3      s3store.Config
}

// Metadata picks the metadata store; metadata.dsn sets both Configs, and
// only the chosen one is validated.
type Metadata struct {
	Driver   string // sqlite | postgres
	SQLite   sqlite.Config
	Postgres postgres.Config
}

// Log is the format and level of the server's log.
type Log struct {
	Format string // text | json
	Level  string // debug | info | warn | error
}

// Metrics says where Prometheus metrics are served (GET /metrics), apart
// from the public API so they need not be exposed with it; an empty
// Listen: no metrics endpoint.
type Metrics struct {
	Listen string
}

// Demo turns on the demo web page at /demo/. Off by default: a production
// API has no need for it, and with it off /demo/ is 404.
type Demo struct {
	Enabled bool
}

// key is one configuration key and the fields it sets. A key that two
// components need (the public URL, the pixel limit, the DSN) sets both, so
// that they cannot disagree; its default is its first field's.
type key struct {
	name string
	dst  []any // pointers into a Config
}

// keys is the one list of keys: file keys and environment variables are
// both derived from it.
func (c *Config) keys() []key {
	k := func(name string, dst ...any) key { return key{name, dst} }
	return []key{
		k("http.listen", &c.HTTP.Listen),
		k("http.public_url", &c.Media.PublicURL, &c.XMPP.PublicURL),
		k("http.read_header_timeout", &c.Timeouts.ReadHeader),
		k("http.body_idle_timeout", &c.Timeouts.BodyIdle),
		k("http.write_idle_timeout", &c.Timeouts.WriteIdle),
		k("http.idle_timeout", &c.Timeouts.Idle),
		k("http.shutdown_timeout", &c.HTTP.ShutdownTimeout),
		k("http.public_max_age", &c.Media.PublicMaxAge),
		k("http.cors_origins", &c.Media.CORSOrigins),

		k("xmpp.component_jid", &c.XMPP.ComponentJID),
		k("xmpp.component_secret", &c.XMPP.Secret),
		k("xmpp.server_addr", &c.XMPP.ServerAddr),
		k("xmpp.channel_server", &c.XMPP.ChannelServer),
		k("xmpp.reply_timeout", &c.XMPP.ReplyTimeout),
		k("xmpp.confirm_cache_ttl", &c.Caches.ConfirmTTL),
		k("xmpp.permission_cache_ttl", &c.Caches.PermissionTTL),

		k("storage.backend", &c.Storage.Backend),
		k("storage.disk.root", &c.Storage.Disk.Root),
		k("storage.s3.bucket", &c.Storage.S3.Bucket),
		k("storage.s3.region", &c.Storage.S3.Region),
		k("storage.s3.endpoint", &c.Storage.S3.Endpoint),
		k("storage.s3.prefix", &c.Storage.S3.Prefix),
		k("storage.s3.path_style", &c.Storage.S3.PathStyle),
		k("storage.s3.access_key_id", &c.Storage.S3.AccessKeyID),
		k("storage.s3.secret_access_key", &c.Storage.S3.SecretAccessKey),

		k("metadata.driver", &c.Metadata.Driver),
		k("metadata.dsn", &c.Metadata.SQLite.Path, &c.Metadata.Postgres.DSN),

		k("limits.max_upload_bytes", &c.Media.MaxUploadBytes),
		k("limits.max_image_pixels", &c.Images.MaxPixels, &c.Posters.MaxPixels),
		k("limits.max_concurrent_uploads", &c.Media.MaxConcurrentUploads),
		k("previews.sizes", &c.Media.PreviewSizes),
		k("previews.derived_cache_bytes", &c.Media.DerivedCacheBytes),
		k("previews.save_data_bytes", &c.Media.SaveDataBytes),
		k("avatars.public", &c.Media.AvatarsPublic),
		k("log.format", &c.Log.Format),
		k("log.level", &c.Log.Level),
		k("uploads.abandon_after", &c.Media.AbandonAfter),
		k("metrics.listen", &c.Metrics.Listen),
		k("demo.enabled", &c.Demo.Enabled),

		k("upload.enabled", &c.Upload.Enabled),
		k("upload.domains", &c.Upload.Domains),
		k("upload.max_file_size", &c.Upload.MaxFileSize),
		k("upload.slot_ttl", &c.Upload.SlotTTL),
		k("upload.secret", &c.Upload.Secret),
		k("upload.expire_after", &c.Upload.ExpireAfter),
		k("upload.quota.user_daily_bytes", &c.Upload.Quota.UserDailyBytes),
		k("upload.quota.user_total_bytes", &c.Upload.Quota.UserTotalBytes),
		k("upload.quota.total_bytes", &c.Upload.Quota.TotalBytes),
	}
}

// Default is the configuration with no file and no environment: every
// component's DefaultConfig, and the process's own defaults.
func Default() Config {
	c := Config{
		HTTP:     HTTP{Listen: "127.0.0.1:8080", ShutdownTimeout: 30 * time.Second},
		Media:    mediasvc.DefaultConfig(),
		Timeouts: mediasvc.DefaultTimeouts(),
		XMPP:     xmppauth.DefaultConfig(),
		Caches:   Caches{ConfirmTTL: 5 * time.Minute, PermissionTTL: 60 * time.Second},
		Storage:  Storage{Backend: "disk", Disk: disk.DefaultConfig(), S3: s3store.DefaultConfig()},
		Metadata: Metadata{Driver: "sqlite", SQLite: sqlite.DefaultConfig(), Postgres: postgres.DefaultConfig()},
		Images:   transform.DefaultConfig(),
		Log:      Log{Format: "text", Level: "info"},
		Upload:   httpupload.DefaultConfig(),
	}
	for _, k := range c.keys() {
		k.spread()
	}
	return c
}

// spread copies the key's first field into the others.
func (k key) spread() {
	first := reflect.ValueOf(k.dst[0]).Elem()
	for _, d := range k.dst[1:] {
		reflect.ValueOf(d).Elem().Set(first)
	}
}

// EnvPrefix starts every environment variable that sets a key.
const EnvPrefix = "MEDIASERVER_"

// EnvName is the environment variable for a dotted key.
func EnvName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// Keys lists every dotted key, sorted.
func Keys() []string {
	var c Config
	var names []string
	for _, k := range c.keys() {
		names = append(names, k.name)
	}
	sort.Strings(names)
	return names
}

// Set sets one key from its text, as its environment variable would, for
// callers that build a configuration in code (demo, tests).
func (c *Config) Set(name, value string) error {
	for _, k := range c.keys() {
		if k.name == name {
			if err := setText(k.dst[0], value); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			k.spread()
			return nil
		}
	}
	return fmt.Errorf("unknown key %q", name)
}

// Load reads the YAML file at path (none when path is empty) over the
// defaults, then the MEDIASERVER_* variables of environ (os.Environ()
// form), then validates. Every bad key, value and setting is reported,
// all together, file errors with their line numbers.
func Load(path string, environ []string) (Config, error) {
	cfg, err := Read(path, environ)
	if errors.Is(err, errRead) {
		return cfg, err
	}
	// Keys that could not be set keep their defaults, so Validate speaks
	// of the other settings and does not repeat the keys' errors.
	return cfg, errors.Join(err, cfg.Validate())
}

// errRead marks a file that could not be read or parsed at all.
var errRead = errors.New("cannot read the configuration file")

// Read is Load without validating the settings, for a command that needs
// a few keys and must not fail on the others (healthcheck).
func Read(path string, environ []string) (Config, error) {
	cfg := Default()
	keys := cfg.keys()
	byName := map[string]key{}
	byEnv := map[string]key{}
	for _, k := range keys {
		byName[k.name] = k
		byEnv[EnvName(k.name)] = k
	}
	var errs []error

	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("%w: %w", errRead, err)
		}
		f, err := parser.ParseBytes(data, 0)
		if err != nil {
			return cfg, fmt.Errorf("%w: parse %s: %w", errRead, path, err)
		}
		for _, doc := range f.Docs {
			if doc.Body == nil {
				continue
			}
			walk("", doc.Body, func(name string, n ast.Node, err error) {
				line := n.GetToken().Position.Line
				if err != nil {
					errs = append(errs, fmt.Errorf("%s:%d: %s: %w", path, line, name, err))
					return
				}
				k, ok := byName[name]
				if !ok && isSection(keys, name) {
					if _, null := n.(*ast.NullNode); !null {
						errs = append(errs, fmt.Errorf("%s:%d: %s: want a section of keys", path, line, name))
					}
					return // else a section with nothing in it
				}
				if !ok {
					errs = append(errs, fmt.Errorf("%s:%d: unknown key %q", path, line, name))
					return
				}
				if err := setNode(k.dst[0], n); err != nil {
					errs = append(errs, fmt.Errorf("%s:%d: %s: %w", path, line, name, err))
				}
			})
		}
	}

	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, EnvPrefix) {
			continue
		}
		k, ok := byEnv[name]
		if !ok {
			errs = append(errs, fmt.Errorf("environment: unknown variable %s", name))
			continue
		}
		if err := setText(k.dst[0], value); err != nil {
			errs = append(errs, fmt.Errorf("environment: %s: %w", name, err))
		}
	}
	for _, k := range keys {
		k.spread()
	}
	return cfg, errors.Join(errs...)
}

// isSection reports whether name is a section of keys, such as "http".
func isSection(keys []key, name string) bool {
	for _, k := range keys {
		if strings.HasPrefix(k.name, name+".") {
			return true
		}
	}
	return false
}

// walk calls leaf for every value below a mapping, with its dotted name;
// a node that cannot be read gets leaf called with an error.
func walk(prefix string, n ast.Node, leaf func(name string, n ast.Node, err error)) {
	var pairs []*ast.MappingValueNode
	switch m := n.(type) {
	case *ast.MappingNode:
		pairs = m.Values
	case *ast.MappingValueNode:
		pairs = []*ast.MappingValueNode{m}
	default:
		if prefix == "" {
			leaf("(top level)", n, errors.New("want a mapping of keys"))
			return
		}
		leaf(prefix, n, nil)
		return
	}
	for _, p := range pairs {
		ks, ok := p.Key.(ast.ScalarNode)
		if !ok {
			leaf(prefix, p.Key, errors.New("want a plain key"))
			continue
		}
		name := fmt.Sprint(ks.GetValue())
		if prefix != "" {
			name = prefix + "." + name
		}
		v := p.Value
		if a, ok := v.(*ast.AnchorNode); ok {
			v = a.Value
		}
		walk(name, v, leaf)
	}
}

// setNode sets the field dst points to from a YAML value, by the field's
// type: YAML numbers for numbers (so 1e8 is a whole number), booleans for
// booleans, sequences for lists, and otherwise the value's text parsed as
// an environment variable's would be.
func setNode(dst any, n ast.Node) error {
	if a, ok := n.(*ast.AnchorNode); ok {
		n = a.Value
	}
	switch p := dst.(type) {
	case *[]string:
		items, err := sequence(n)
		if err != nil {
			return err
		}
		*p = items
		return nil
	case *[]transform.Box:
		items, err := sequence(n)
		if err != nil {
			return err
		}
		return setBoxes(p, items)
	}
	s, ok := n.(ast.ScalarNode)
	if !ok {
		return errors.New("want a single value")
	}
	switch v := s.GetValue().(type) {
	case nil:
		return setText(dst, "")
	case float64:
		if p, ok := dst.(*int64); ok {
			n, err := wholeNumber(v)
			*p = n
			return err
		}
		if p, ok := dst.(*int); ok {
			n, err := wholeNumber(v)
			if err == nil && (n < math.MinInt || n > math.MaxInt) {
				err = fmt.Errorf("%v is out of range", v)
			}
			*p = int(n)
			return err
		}
	case string:
		return setText(dst, v)
	}
	// Numbers and booleans by their source text, so that 0123 stays
	// "0123" for a string key and 100 is parsed exactly for a number.
	return setText(dst, s.GetToken().Value)
}

// sequence is a YAML list of scalars as text; null is an empty list.
func sequence(n ast.Node) ([]string, error) {
	if _, ok := n.(*ast.NullNode); ok {
		return nil, nil
	}
	seq, ok := n.(*ast.SequenceNode)
	if !ok {
		return nil, errors.New("want a list")
	}
	var items []string // an empty list is the same as no list
	for _, item := range seq.Values {
		s, ok := item.(ast.ScalarNode)
		if !ok {
			return nil, fmt.Errorf("line %d: want a single value in the list", item.GetToken().Position.Line)
		}
		if v, ok := s.GetValue().(string); ok {
			items = append(items, v)
		} else {
			items = append(items, s.GetToken().Value)
		}
	}
	return items, nil
}

func setBoxes(p *[]transform.Box, items []string) error {
	var boxes []transform.Box
	for _, item := range items {
		b, err := transform.ParseBox(item)
		if err != nil {
			return err
		}
		boxes = append(boxes, b)
	}
	*p = boxes
	return nil
}

// setText sets the field dst points to from text: an environment
// variable's value, or a YAML scalar's.
func setText(dst any, s string) error {
	switch p := dst.(type) {
	case *string:
		*p = s
	case *bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("want true or false, got %q", s)
		}
		*p = b
	case *time.Duration:
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("want a duration such as 30s, got %q", s)
		}
		*p = d
	case *int64:
		n, err := parseWhole(s)
		if err != nil {
			return err
		}
		*p = n
	case *int:
		n, err := parseWhole(s)
		if err != nil {
			return err
		}
		if n < math.MinInt || n > math.MaxInt {
			return fmt.Errorf("%s is out of range", s)
		}
		*p = int(n)
	case *[]string:
		*p = splitList(s)
	case *[]transform.Box:
		return setBoxes(p, splitList(s))
	default:
		return fmt.Errorf("unsupported field type %T", p)
	}
	return nil
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var list []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			list = append(list, item)
		}
	}
	return list
}

// parseWhole parses a whole number written as an integer or in
// scientific notation (1e8).
func parseWhole(s string) (int64, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("want a whole number, got %q", s)
	}
	return wholeNumber(f)
}

func wholeNumber(f float64) (int64, error) {
	if f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
		return 0, fmt.Errorf("want a whole number, got %v", f)
	}
	return int64(f), nil
}

// Validate reports every setting that cannot work: the process's own,
// then each component's by its own Validate.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	part := func(name string, err error) {
		switch {
		case err == nil:
		case name == "":
			errs = append(errs, err)
		default:
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	if _, _, err := net.SplitHostPort(c.HTTP.Listen); err != nil {
		bad("http.listen", "want host:port: %v", err)
	}
	if c.HTTP.ShutdownTimeout <= 0 {
		bad("http.shutdown_timeout", "must be positive")
	}
	if c.Metrics.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Metrics.Listen); err != nil {
			bad("metrics.listen", "want host:port or empty: %v", err)
		} else if c.Metrics.Listen == c.HTTP.Listen {
			bad("metrics.listen", "must differ from http.listen")
		}
	}
	// The component reads a zero reply timeout as its default; in the file
	// 0 would read as "do not wait", so the key refuses it.
	if c.XMPP.ReplyTimeout <= 0 {
		bad("xmpp.reply_timeout", "must be positive")
	}
	if c.Caches.ConfirmTTL < 0 {
		bad("xmpp.confirm_cache_ttl", "must not be negative")
	}
	if c.Caches.PermissionTTL < 0 {
		bad("xmpp.permission_cache_ttl", "must not be negative")
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format", "want text or json, got %q", c.Log.Format)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "want debug, info, warn or error, got %q", c.Log.Level)
	}

	part("http timeouts", c.Timeouts.Validate())
	part("media service (http, limits, previews, avatars, uploads)", c.Media.Validate())
	part("", c.XMPP.Validate()) // its messages name the xmpp.* keys
	part("images (limits)", c.Images.Validate())
	part("", c.Upload.Validate()) // its messages name the upload.* keys
	if c.Upload.Enabled && len(c.Upload.Domains) == 0 {
		if _, err := httpupload.DefaultDomain(c.XMPP.ComponentJID); err != nil {
			bad("upload.domains", "%v", err)
		}
	}
	switch c.Storage.Backend {
	case "disk":
		part("storage.disk", c.Storage.Disk.Validate())
	case "s3":
		part("storage.s3", c.Storage.S3.Validate())
	default:
		bad("storage.backend", "want disk or s3, got %q", c.Storage.Backend)
	}
	switch c.Metadata.Driver {
	case "sqlite":
		part("metadata.dsn (sqlite)", c.Metadata.SQLite.Validate())
	case "postgres":
		part("metadata.dsn (postgres)", c.Metadata.Postgres.Validate())
	default:
		bad("metadata.driver", "want sqlite or postgres, got %q", c.Metadata.Driver)
	}
	return errors.Join(errs...)
}
