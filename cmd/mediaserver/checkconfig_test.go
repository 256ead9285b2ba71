package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckConfigAgreesWithServe feeds check-config and serve's own
// configuration path (loading and wiring, up to listening) the same files:
// whatever one refuses, the other must refuse too, so that a configuration
// check-config passes never fails at start. (It once passed preview sizes
// of 3000x3000 that serve refused.)
func TestCheckConfigAgreesWithServe(t *testing.T) {
	const secret = "xmpp:\n  component_secret: s\n"
	for _, tc := range []struct {
		name string
		body string // storage and metadata in a temporary directory are added unless given
		ok   bool
	}{
		{"defaults with a secret", secret, true},
		{"defaults without a secret", "", false},
		{"largest preview side", secret + "previews:\n  sizes: [\"2048x2048\"]\n", true},
		{"preview side too large", secret + "previews:\n  sizes: [\"3000x3000\"]\n", false},
		{"no previews at upload", secret + "previews:\n  sizes: []\n", true},
		{"nine preview sizes", secret + "previews:\n  sizes: [1x1, 2x2, 3x3, 4x4, 5x5, 6x6, 7x7, 8x8, 9x9]\n", false},
		{"derived preview cache", secret + "previews:\n  derived_cache_bytes: 1048576\n", true},
		{"no derived preview cache", secret + "previews:\n  derived_cache_bytes: 0\n", true},
		{"negative derived preview cache", secret + "previews:\n  derived_cache_bytes: -1\n", false},
		{"save-data budget", secret + "previews:\n  save_data_bytes: 20480\n", true},
		{"save-data ignored", secret + "previews:\n  save_data_bytes: 0\n", true},
		{"save-data budget below a JPEG's headers", secret + "previews:\n  save_data_bytes: 100\n", false},
		{"negative save-data budget", secret + "previews:\n  save_data_bytes: -1\n", false},
		{"limits in scientific notation", secret + "limits:\n  max_upload_bytes: 1e8\n  max_image_pixels: 5e7\n", true},
		{"a fractional limit", secret + "limits:\n  max_upload_bytes: 1.5\n", false},
		{"no pixel limit", secret + "limits:\n  max_image_pixels: 0\n", false},
		{"unknown key", secret + "previews:\n  size: [\"240x320\"]\n", false},
		{"public url", "http:\n  public_url: \"https://media.example.com/\"\n" + secret, true},
		{"public url not http", "http:\n  public_url: \"ftp://media.example.com\"\n" + secret, false},
		{"public url with a query", "http:\n  public_url: \"https://media.example.com/?x=1\"\n" + secret, false},
		{"cors origin with a path", "http:\n  cors_origins: [\"https://a.example/page\"]\n" + secret, false},
		{"zero idle timeout", "http:\n  idle_timeout: 0s\n" + secret, false},
		{"component jid with a user", "xmpp:\n  component_secret: s\n  component_jid: a@media.localhost\n", false},
		{"channel server not a jid", "xmpp:\n  component_secret: s\n  channel_server: \"a@@b\"\n", false},
		{"zero reply timeout", "xmpp:\n  component_secret: s\n  reply_timeout: 0s\n", false},
		{"negative cache ttl", "xmpp:\n  component_secret: s\n  permission_cache_ttl: -1s\n", false},
		{"s3", secret + "storage:\n  backend: s3\n  s3: {bucket: media, endpoint: \"http://127.0.0.1:9\", path_style: true, access_key_id: k, secret_access_key: s}\n", true},
		{"s3 without a bucket", secret + "storage:\n  backend: s3\n", false},
		{"s3 endpoint not http", secret + "storage:\n  backend: s3\n  s3: {bucket: media, endpoint: \"ftp://127.0.0.1:9\"}\n", false},
		{"s3 prefix not a key", secret + "storage:\n  backend: s3\n  s3: {bucket: media, prefix: \"a/../b\", access_key_id: k, secret_access_key: s}\n", false},
		{"sqlite path with a query", secret + "metadata:\n  driver: sqlite\n  dsn: \"media.db?mode=ro\"\n", false},
		{"postgres with a file path", secret + "metadata:\n  driver: postgres\n", false},
		{"unknown backend", secret + "storage:\n  backend: tape\n", false},
		{"bad log level", secret + "log:\n  level: loud\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			body := tc.body
			if !strings.Contains(body, "storage:") {
				body += "storage:\n  disk:\n    root: " + filepath.Join(dir, "media") + "\n"
			}
			if !strings.Contains(body, "metadata:") {
				body += "metadata:\n  dsn: " + filepath.Join(dir, "media.db") + "\n"
			}
			path := filepath.Join(dir, "mediaserver.yaml")
			if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			args := []string{"--config", path}

			checkErr := run(append([]string{"check-config"}, args...), io.Discard, io.Discard)
			a, _, serveErr := loadApp(context.Background(), args, io.Discard)
			if a != nil {
				a.close()
			}
			if (checkErr == nil) != tc.ok || (serveErr == nil) != tc.ok {
				t.Fatalf("check-config: %v\nserve: %v\nwant ok=%v for:\n%s", checkErr, serveErr, tc.ok, body)
			}
		})
	}
}
