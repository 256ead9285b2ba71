// Package configs holds the server's configuration: the Config struct with
// its defaults, loading from a YAML file and MEDIASERVER_* environment
// variables (reporting every bad key at once), and the commented example
// file mediaserver.yaml. The keys are those of CONFIG.md. Only cmd/ calls
// Load; the pieces receive the parts of Config they need.
package configs

import (
	_ "embed"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/xmppmedia/mediaserver/mediasvc/httpupload"
)

// Example is the commented example configuration shipped in this folder.
//
//go:embed mediaserver.yaml
var Example []byte

// Config is the whole configuration. Field tags name the YAML keys.
type Config struct {
	HTTP     HTTP     `key:"http"`
	XMPP     XMPP     `key:"xmpp"`
	Storage  Storage  `key:"storage"`
	Metadata Metadata `key:"metadata"`
	Limits   Limits   `key:"limits"`
	Previews Previews `key:"previews"`
	Avatars  Avatars  `key:"avatars"`
	Log      Log      `key:"log"`
	Uploads  Uploads  `key:"uploads"`
	Metrics  Metrics  `key:"metrics"`
	Demo     Demo     `key:"demo"`
	// Upload is XEP-0363 HTTP File Upload; its package owns the struct.
	Upload httpupload.Config `key:"upload"`
}

type HTTP struct {
	Listen            string        `key:"listen"`
	PublicURL         string        `key:"public_url"`
	ReadHeaderTimeout time.Duration `key:"read_header_timeout"`
	BodyIdleTimeout   time.Duration `key:"body_idle_timeout"`
	WriteIdleTimeout  time.Duration `key:"write_idle_timeout"`
	IdleTimeout       time.Duration `key:"idle_timeout"`
	ShutdownTimeout   time.Duration `key:"shutdown_timeout"`
	PublicMaxAge      time.Duration `key:"public_max_age"`
	CORSOrigins       []string      `key:"cors_origins"`
}

type XMPP struct {
	ComponentJID       string        `key:"component_jid"`
	ComponentSecret    string        `key:"component_secret"`
	ServerAddr         string        `key:"server_addr"`
	ChannelServer      string        `key:"channel_server"`
	ReplyTimeout       time.Duration `key:"reply_timeout"`
	ConfirmCacheTTL    time.Duration `key:"confirm_cache_ttl"`
	PermissionCacheTTL time.Duration `key:"permission_cache_ttl"`
}

type Storage struct {
	Backend string `key:"backend"`
	Disk    Disk   `key:"disk"`
	S3      S3     `key:"s3"`
}

type Disk struct {
	Root string `key:"root"`
}

type S3 struct {
	Bucket          string `key:"bucket"`
	Region          string `key:"region"`
	Endpoint        string `key:"endpoint"`
	Prefix          string `key:"prefix"`
	PathStyle       bool   `key:"path_style"`
	AccessKeyID     string `key:"access_key_id"`
	SecretAccessKey string `key:"secret_access_key"`
}

type Metadata struct {
	Driver string `key:"driver"`
	DSN    string `key:"dsn"`
}

type Limits struct {
	MaxUploadBytes    int64 `key:"max_upload_bytes"`
	MaxImagePixels    int64 `key:"max_image_pixels"`
	MaxConcurrentUpld int   `key:"max_concurrent_uploads"`
}

type Previews struct {
	Sizes []string `key:"sizes"`
}

type Avatars struct {
	Public bool `key:"public"`
}

type Log struct {
	Format string `key:"format"` // text | json
	Level  string `key:"level"`  // debug | info | warn | error
}

type Uploads struct {
	// AbandonAfter is how old an unfinished upload must be before start-up
	// recovery removes it. Several servers sharing one database must not
	// remove each other's uploads in flight, hence a grace period.
	AbandonAfter time.Duration `key:"abandon_after"`
}

type Metrics struct {
	// Listen is where Prometheus metrics are served (GET /metrics), apart
	// from the public API so they need not be exposed with it; empty: no
	// metrics endpoint.
	Listen string `key:"listen"`
}

type Demo struct {
	// Enabled serves the demo web page at /demo/. Off by default: a
	// production API has no need for it, and with it off /demo/ is 404.
	Enabled bool `key:"enabled"`
}

// Default is the configuration with no file and no environment.
func Default() Config {
	return Config{
		HTTP: HTTP{
			Listen:            "127.0.0.1:8080",
			ReadHeaderTimeout: 10 * time.Second,
			BodyIdleTimeout:   60 * time.Second,
			WriteIdleTimeout:  60 * time.Second,
			IdleTimeout:       120 * time.Second,
			ShutdownTimeout:   30 * time.Second,
			PublicMaxAge:      24 * time.Hour,
		},
		XMPP: XMPP{
			ComponentJID:       "media.localhost",
			ServerAddr:         "127.0.0.1:5347",
			ReplyTimeout:       30 * time.Second,
			ConfirmCacheTTL:    5 * time.Minute,
			PermissionCacheTTL: 60 * time.Second,
		},
		Storage: Storage{
			Backend: "disk",
			Disk:    Disk{Root: "./data/media"},
			S3:      S3{Region: "us-east-1"},
		},
		Metadata: Metadata{Driver: "sqlite", DSN: "./data/media.db"},
		Limits: Limits{
			MaxUploadBytes:    104857600,
			MaxImagePixels:    50000000,
			MaxConcurrentUpld: 64,
		},
		Previews: Previews{Sizes: []string{"240x320", "320x480"}},
		Avatars:  Avatars{Public: true},
		Log:      Log{Format: "text", Level: "info"},
		Uploads:  Uploads{AbandonAfter: 15 * time.Minute},
		Upload:   httpupload.DefaultConfig(),
	}
}

// EnvPrefix starts every environment variable that sets a key.
const EnvPrefix = "MEDIASERVER_"

// Load reads the YAML file at path (none when path is empty) over the
// defaults, then the MEDIASERVER_* variables of environ (os.Environ()
// form), then validates. All problems are reported together.
func Load(path string, environ []string) (Config, error) {
	cfg := Default()
	fields := cfg.fields()
	var errs []error

	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("read config: %w", err)
		}
		var tree map[string]any
		if err := yaml.Unmarshal(data, &tree); err != nil {
			return cfg, fmt.Errorf("parse %s: %w", path, err)
		}
		flat := map[string]any{}
		flatten("", tree, flat)
		keys := make([]string, 0, len(flat))
		for k := range flat {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			f, ok := fields[k]
			if !ok {
				errs = append(errs, fmt.Errorf("%s: unknown key %q", path, k))
				continue
			}
			if err := f.setYAML(flat[k]); err != nil {
				errs = append(errs, fmt.Errorf("%s: %s: %w", path, k, err))
			}
		}
	}

	byEnv := map[string]string{}
	for k := range fields {
		byEnv[EnvName(k)] = k
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
		if err := fields[k].setString(value); err != nil {
			errs = append(errs, fmt.Errorf("environment: %s: %w", name, err))
		}
	}
	if len(errs) > 0 {
		return cfg, errors.Join(errs...)
	}
	return cfg, cfg.Validate()
}

// EnvName is the environment variable for a dotted key.
func EnvName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// Keys lists every dotted key, sorted.
func Keys() []string {
	cfg := Default()
	var keys []string
	for k := range cfg.fields() {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Validate reports every value that cannot work.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if _, _, err := net.SplitHostPort(c.HTTP.Listen); err != nil {
		bad("http.listen", "want host:port: %v", err)
	}
	if c.Metrics.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Metrics.Listen); err != nil {
			bad("metrics.listen", "want host:port or empty: %v", err)
		} else if c.Metrics.Listen == c.HTTP.Listen {
			bad("metrics.listen", "must differ from http.listen")
		}
	}
	if c.HTTP.PublicURL != "" {
		u, err := url.Parse(c.HTTP.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
			bad("http.public_url", "want an http(s) URL without query, got %q", c.HTTP.PublicURL)
		}
	}
	for _, o := range c.HTTP.CORSOrigins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.TrimRight(u.Path, "/") != "" {
			bad("http.cors_origins", "want scheme://host[:port], got %q", o)
		}
	}
	if c.XMPP.ComponentJID == "" || strings.ContainsAny(c.XMPP.ComponentJID, "@/ ") {
		bad("xmpp.component_jid", "want a domain JID, got %q", c.XMPP.ComponentJID)
	}
	if _, _, err := net.SplitHostPort(c.XMPP.ServerAddr); err != nil {
		bad("xmpp.server_addr", "want host:port: %v", err)
	}
	for key, d := range map[string]time.Duration{
		"xmpp.reply_timeout": c.XMPP.ReplyTimeout, "http.read_header_timeout": c.HTTP.ReadHeaderTimeout,
		"http.idle_timeout": c.HTTP.IdleTimeout, "http.shutdown_timeout": c.HTTP.ShutdownTimeout,
		"http.body_idle_timeout": c.HTTP.BodyIdleTimeout, "http.write_idle_timeout": c.HTTP.WriteIdleTimeout,
	} {
		if d <= 0 {
			bad(key, "must be positive")
		}
	}
	for key, d := range map[string]time.Duration{
		"xmpp.confirm_cache_ttl": c.XMPP.ConfirmCacheTTL, "xmpp.permission_cache_ttl": c.XMPP.PermissionCacheTTL,
		"uploads.abandon_after": c.Uploads.AbandonAfter, "http.public_max_age": c.HTTP.PublicMaxAge,
	} {
		if d < 0 {
			bad(key, "must not be negative")
		}
	}
	switch c.Storage.Backend {
	case "disk":
		if c.Storage.Disk.Root == "" {
			bad("storage.disk.root", "must be set for the disk backend")
		}
	case "s3":
		if c.Storage.S3.Bucket == "" {
			bad("storage.s3.bucket", "must be set for the s3 backend")
		}
		if (c.Storage.S3.AccessKeyID == "") != (c.Storage.S3.SecretAccessKey == "") {
			bad("storage.s3.access_key_id", "set both access_key_id and secret_access_key, or neither")
		}
		if e := c.Storage.S3.Endpoint; e != "" {
			if u, err := url.Parse(e); err != nil || u.Host == "" {
				bad("storage.s3.endpoint", "want a URL, got %q", e)
			}
		}
	default:
		bad("storage.backend", "want disk or s3, got %q", c.Storage.Backend)
	}
	switch c.Metadata.Driver {
	case "sqlite", "postgres":
	default:
		bad("metadata.driver", "want sqlite or postgres, got %q", c.Metadata.Driver)
	}
	if c.Metadata.DSN == "" {
		bad("metadata.dsn", "must be set")
	}
	if c.Limits.MaxUploadBytes <= 0 {
		bad("limits.max_upload_bytes", "must be positive")
	}
	if c.Limits.MaxImagePixels <= 0 {
		bad("limits.max_image_pixels", "must be positive")
	}
	if c.Limits.MaxConcurrentUpld <= 0 {
		bad("limits.max_concurrent_uploads", "must be positive")
	}
	if len(c.Previews.Sizes) > 8 {
		bad("previews.sizes", "at most 8 sizes")
	}
	for _, s := range c.Previews.Sizes {
		if _, _, err := ParseSize(s); err != nil {
			bad("previews.sizes", "%v", err)
		}
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
	if err := c.Upload.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// ParseSize parses a preview box "WxH" with sides of 1 to 4096 pixels.
func ParseSize(s string) (w, h int, err error) {
	ws, hs, ok := strings.Cut(s, "x")
	if ok {
		w, err = strconv.Atoi(ws)
		if err == nil {
			h, err = strconv.Atoi(hs)
		}
	}
	if !ok || err != nil || w < 1 || h < 1 || w > 4096 || h > 4096 {
		return 0, 0, fmt.Errorf("preview size %q: want WxH, 1 to 4096 pixels a side", s)
	}
	return w, h, nil
}

func flatten(prefix string, v any, out map[string]any) {
	m, ok := v.(map[string]any)
	if !ok {
		out[prefix] = v
		return
	}
	for k, sub := range m {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		flatten(key, sub, out)
	}
}

// field is one settable leaf of Config.
type field struct{ v reflect.Value }

func (c *Config) fields() map[string]field {
	out := map[string]field{}
	var walk func(prefix string, v reflect.Value)
	walk = func(prefix string, v reflect.Value) {
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			key := t.Field(i).Tag.Get("key")
			if prefix != "" {
				key = prefix + "." + key
			}
			if t.Field(i).Type.Kind() == reflect.Struct && t.Field(i).Type != reflect.TypeOf(time.Duration(0)) {
				walk(key, v.Field(i))
				continue
			}
			out[key] = field{v.Field(i)}
		}
	}
	walk("", reflect.ValueOf(c).Elem())
	return out
}

func (f field) setYAML(v any) error {
	if f.v.Kind() == reflect.Slice {
		list, ok := v.([]any)
		if !ok {
			return fmt.Errorf("want a list, got %v", v)
		}
		var strs []string // an empty list is the same as no list
		for _, item := range list {
			strs = append(strs, fmt.Sprint(item))
		}
		f.v.Set(reflect.ValueOf(strs))
		return nil
	}
	switch v.(type) {
	case map[string]any, []any:
		return fmt.Errorf("want a single value, got %v", v)
	case nil:
		return f.setString("")
	}
	return f.setString(fmt.Sprint(v))
}

func (f field) setString(s string) error {
	switch p := f.v.Addr().Interface().(type) {
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
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("want a whole number, got %q", s)
		}
		*p = n
	case *int:
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("want a whole number, got %q", s)
		}
		*p = n
	case *[]string:
		var list []string
		for _, item := range strings.Split(s, ",") {
			if item = strings.TrimSpace(item); item != "" {
				list = append(list, item)
			}
		}
		*p = list
	default:
		return fmt.Errorf("unsupported field type %T", p)
	}
	return nil
}
