package configs

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "mediaserver.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExampleIsTheDefaults(t *testing.T) {
	got, err := Load(writeFile(t, string(Example)), nil)
	if err != nil {
		t.Fatalf("example config does not load: %v", err)
	}
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
	if err != nil || !reflect.DeepEqual(got, Default()) {
		t.Fatalf("Load(\"\") = %+v, %v", got, err)
	}
}

func TestFileAndEnvironment(t *testing.T) {
	p := writeFile(t, `
http:
  listen: "127.0.0.1:9999"
xmpp:
  component_secret: fromfile
  reply_timeout: 5s
storage:
  backend: s3
  s3: {bucket: media, path_style: true, endpoint: "http://127.0.0.1:7070"}
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
		{"secret (env wins)", got.XMPP.ComponentSecret, "fromenv"},
		{"reply_timeout", got.XMPP.ReplyTimeout, 5 * time.Second},
		{"backend", got.Storage.Backend, "s3"},
		{"bucket", got.Storage.S3.Bucket, "media"},
		{"path_style", got.Storage.S3.PathStyle, true},
		{"max upload", got.Limits.MaxUploadBytes, int64(1000)},
		{"sizes", got.Previews.Sizes, []string{"100x100"}},
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
		{"public url", func(c *Config) { c.HTTP.PublicURL = "ftp://x" }, "http.public_url"},
		{"backend", func(c *Config) { c.Storage.Backend = "tape" }, "storage.backend"},
		{"bucket", func(c *Config) { c.Storage.Backend = "s3" }, "storage.s3.bucket"},
		{"half keys", func(c *Config) {
			c.Storage.Backend, c.Storage.S3.Bucket, c.Storage.S3.AccessKeyID = "s3", "b", "k"
		}, "secret_access_key"},
		{"driver", func(c *Config) { c.Metadata.Driver = "mysql" }, "metadata.driver"},
		{"size", func(c *Config) { c.Previews.Sizes = []string{"big"} }, "previews.sizes"},
		{"zero size", func(c *Config) { c.Previews.Sizes = []string{"0x10"} }, "previews.sizes"},
		{"timeout", func(c *Config) { c.XMPP.ReplyTimeout = 0 }, "xmpp.reply_timeout"},
		{"ttl", func(c *Config) { c.XMPP.ConfirmCacheTTL = -time.Second }, "confirm_cache_ttl"},
		{"jid", func(c *Config) { c.XMPP.ComponentJID = "a@b" }, "component_jid"},
		{"log", func(c *Config) { c.Log.Format = "xml" }, "log.format"},
		{"metrics listen", func(c *Config) { c.Metrics.Listen = "9464" }, "metrics.listen"},
		{"metrics on the API port", func(c *Config) { c.Metrics.Listen = c.HTTP.Listen }, "metrics.listen"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.mutate(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want an error about %s", err, tc.want)
			}
		})
	}
	if err := Default().Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
}
