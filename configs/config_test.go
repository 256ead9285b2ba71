package configs

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/xmppmedia/mediaserver/transform"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "mediaserver.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// onlyNoSecret fails unless err is exactly the missing component secret,
// which has no default: the example and the defaults need one to serve.
func onlyNoSecret(t *testing.T, err error) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), "component_secret") || strings.Count(err.Error(), "\n") > 0 {
		t.Fatalf("want only the missing component secret reported, got %v", err)
	}
}

func TestExampleIsTheDefaults(t *testing.T) {
	got, err := Load(writeFile(t, string(Example)), nil)
	onlyNoSecret(t, err)
	if want := Default(); !reflect.DeepEqual(got, want) {
		t.Fatalf("example differs from defaults:\n got %+v\nwant %+v", got, want)
	}
	// Every key is documented in the example.
	for _, k := range Keys() {
		leaf := k[strings.LastIndex(k, ".")+1:]
		if !strings.Contains(string(Example), leaf+":") {
			t.Errorf("key %s missing from configs/mediaserver.yaml", k)
		}
	}
}

func TestNoFileIsDefaults(t *testing.T) {
	got, err := Load("", nil)
	onlyNoSecret(t, err)
	if !reflect.DeepEqual(got, Default()) {
		t.Fatalf("Load(\"\") = %+v", got)
	}
	got, err = Load("", []string{"MEDIASERVER_XMPP_COMPONENT_SECRET=s"})
	if err != nil || got.XMPP.Secret != "s" {
		t.Fatalf("Load with a secret = %+v, %v", got.XMPP, err)
	}
}

func TestFileAndEnvironment(t *testing.T) {
	p := writeFile(t, `
http:
  listen: "127.0.0.1:9999"
  public_url: "https://media.example.com/api"
xmpp:
  component_secret: fromfile
  reply_timeout: 5s
storage:
  backend: s3
  s3: {bucket: media, path_style: true, endpoint: "http://127.0.0.1:7070"}
limits:
  max_image_pixels: 1e8
previews:
  sizes: [100x100]
`)
	got, err := Load(p, []string{
		"MEDIASERVER_XMPP_COMPONENT_SECRET=fromenv",
		"MEDIASERVER_LIMITS_MAX_UPLOAD_BYTES=1000",
		"PATH=/bin",
	})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"listen", got.HTTP.Listen, "127.0.0.1:9999"},
		{"secret (env wins)", got.XMPP.Secret, "fromenv"},
		{"reply_timeout", got.XMPP.ReplyTimeout, 5 * time.Second},
		{"backend", got.Storage.Backend, "s3"},
		{"bucket", got.Storage.S3.Bucket, "media"},
		{"path_style", got.Storage.S3.PathStyle, true},
		{"max upload", got.Media.MaxUploadBytes, int64(1000)},
		{"sizes", got.Media.PreviewSizes, []transform.Box{{Width: 100, Height: 100}}},
		{"1e8 is a whole number", got.Images.MaxPixels, int64(100_000_000)},
		{"one pixel limit for videos too", got.Posters.MaxPixels, int64(100_000_000)},
		{"public_url for the service", got.Media.PublicURL, "https://media.example.com/api"},
		{"public_url for the component", got.XMPP.PublicURL, "https://media.example.com/api"},
		{"untouched default", got.Metadata.Driver, "sqlite"},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestEveryBadKeyReportedAtOnce(t *testing.T) {
	p := writeFile(t, `
http:
  listne: "x"
xmpp:
  reply_timeout: soon
limits:
  max_upload_bytes: lots
avatars:
  public: maybe
`)
	_, err := Load(p, []string{"MEDIASERVER_XMPP_SECRET=x"})
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, want := range []string{"http.listne", "xmpp.reply_timeout", "limits.max_upload_bytes", "avatars.public", "MEDIASERVER_XMPP_SECRET"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s:\n%v", want, err)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"listen", func(c *Config) { c.HTTP.Listen = "8080" }, "http.listen"},
		{"public url", func(c *Config) { c.Set("http.public_url", "ftp://x") }, "public URL"},
		{"public url with a query", func(c *Config) { c.Set("http.public_url", "https://x/?a=b") }, "public URL"},
		{"backend", func(c *Config) { c.Storage.Backend = "tape" }, "storage.backend"},
		{"bucket", func(c *Config) { c.Storage.Backend = "s3" }, "bucket is required"},
		{"half keys", func(c *Config) {
			c.Storage.Backend, c.Storage.S3.Bucket, c.Storage.S3.AccessKeyID = "s3", "b", "k"
		}, "secret access key"},
		{"s3 endpoint scheme", func(c *Config) {
			c.Storage.Backend, c.Storage.S3.Bucket, c.Storage.S3.Endpoint = "s3", "b", "ftp://s3.example.com"
		}, "scheme must be http or https"},
		{"driver", func(c *Config) { c.Metadata.Driver = "mysql" }, "metadata.driver"},
		{"postgres dsn", func(c *Config) { c.Metadata.Driver = "postgres" }, "metadata.dsn (postgres)"},
		{"size", func(c *Config) { c.Media.PreviewSizes = []transform.Box{{Width: 3000, Height: 3000}} }, "preview size"},
		{"zero size", func(c *Config) { c.Media.PreviewSizes = []transform.Box{{Width: 0, Height: 10}} }, "preview size"},
		{"timeout", func(c *Config) { c.XMPP.ReplyTimeout = 0 }, "xmpp.reply_timeout"},
		{"ttl", func(c *Config) { c.Caches.ConfirmTTL = -time.Second }, "confirm_cache_ttl"},
		{"jid", func(c *Config) { c.XMPP.ComponentJID = "a@b" }, "component_jid"},
		{"no secret", func(c *Config) { c.XMPP.Secret = "" }, "component_secret"},
		{"pixels", func(c *Config) { c.Set("limits.max_image_pixels", "0") }, "max pixels"},
		{"log", func(c *Config) { c.Log.Format = "xml" }, "log.format"},
		{"metrics listen", func(c *Config) { c.Metrics.Listen = "9464" }, "metrics.listen"},
		{"metrics on the API port", func(c *Config) { c.Metrics.Listen = c.HTTP.Listen }, "metrics.listen"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := withSecret()
			tc.mutate(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want an error about %s", err, tc.want)
			}
		})
	}
	if err := withSecret().Validate(); err != nil {
		t.Fatalf("defaults with a secret invalid: %v", err)
	}
}

// withSecret is the defaults with the one setting they lack.
func withSecret() Config {
	c := Default()
	c.XMPP.Secret = "secret"
	return c
}

func TestFileErrorsHaveLineNumbers(t *testing.T) {
	p := writeFile(t, `http:
  listne: "x"
previews:
  sizes: ["240x320", "3000x3000"]
limits:
  max_upload_bytes: 1.5
  max_concurrent_uploads: 1e3
`)
	_, err := Load(p, []string{"MEDIASERVER_XMPP_COMPONENT_SECRET=s"})
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, want := range []string{
		p + `:2: unknown key "http.listne"`,
		p + `:4: previews.sizes: parse box "3000x3000"`,
		p + `:6: limits.max_upload_bytes: want a whole number`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "max_concurrent_uploads") {
		t.Errorf("1e3 is a whole number, yet:\n%v", err)
	}
}

// TestLargestPreviewSide: the largest box a file may configure is the
// largest the service makes, whether the box comes from the file or the
// environment.
func TestLargestPreviewSide(t *testing.T) {
	for _, tc := range []struct {
		sizes string
		ok    bool
	}{
		{"2048x2048", true},
		{"2048x2049", false},
		{"3000x3000", false},
	} {
		secret := "MEDIASERVER_XMPP_COMPONENT_SECRET=s"
		_, fileErr := Load(writeFile(t, "previews:\n  sizes: [\""+tc.sizes+"\"]\n"), []string{secret})
		_, envErr := Load("", []string{secret, "MEDIASERVER_PREVIEWS_SIZES=" + tc.sizes})
		if (fileErr == nil) != tc.ok || (envErr == nil) != tc.ok {
			t.Errorf("%s: file: %v; environment: %v; want ok=%v", tc.sizes, fileErr, envErr, tc.ok)
		}
	}
}
