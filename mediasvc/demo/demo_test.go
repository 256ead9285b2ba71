package demo_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xmppmedia/mediaserver/auth"
	"github.com/xmppmedia/mediaserver/internal/authtest"
	"github.com/xmppmedia/mediaserver/mediasvc"
	"github.com/xmppmedia/mediaserver/mediasvc/demo"
	"github.com/xmppmedia/mediaserver/storage/disk"
	"github.com/xmppmedia/mediaserver/storage/sqlite"
	"github.com/xmppmedia/mediaserver/transform"
)

// newAPI serves the media API on real disk and SQLite stores with an
// in-process channel server, with the demo page mounted or not.
func newAPI(t *testing.T, page http.Handler) *httptest.Server {
	t.Helper()
	dir := t.TempDir()
	blobs, err := disk.New(disk.Config{Root: filepath.Join(dir, "media")})
	if err != nil {
		t.Fatal(err)
	}
	meta, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(dir, "media.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { meta.Close() })
	images, err := transform.New(transform.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	channels := &authtest.Channels{}
	channels.Set("open@example.com", "open", map[string]auth.Affiliation{})
	srv, err := mediasvc.New(mediasvc.DefaultConfig(), mediasvc.Deps{
		Blobs: blobs, Metadata: meta, Images: images, Demo: page,
		Auth: &auth.Guard{Channels: channels, Confirmer: &authtest.Confirmer{}},
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return hs
}

func TestDemoMount(t *testing.T) {
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	tests := []struct {
		name        string
		enabled     bool
		method      string
		path        string
		status      int
		contentType string // prefix
		header      string // a header that must be set
		body        string // a substring of the body
	}{
		{"off: page", false, "GET", "/demo/", 404, "application/json", "", "no such route"},
		{"off: no slash", false, "GET", "/demo", 404, "application/json", "", ""},
		{"off: script", false, "GET", "/demo/demo.js", 404, "application/json", "", ""},
		{"off: head", false, "HEAD", "/demo/", 404, "", "", ""},
		{"off: channels still served", false, "GET", "/open@example.com", 200, "application/json", "", "[]"},
		{"on: page", true, "GET", "/demo/", 200, "text/html", "Content-Security-Policy", `<form id="upload"`},
		{"on: no slash redirects", true, "GET", "/demo", 301, "", "Location", ""},
		{"on: script", true, "GET", "/demo/demo.js", 200, "text/javascript", "Referrer-Policy", "withCredentials = true"},
		{"on: style", true, "GET", "/demo/demo.css", 200, "text/css", "", ".media img"},
		{"on: head", true, "HEAD", "/demo/", 200, "text/html", "", ""},
		{"on: missing file", true, "GET", "/demo/missing.js", 404, "", "", ""},
		{"on: post", true, "POST", "/demo/", 405, "", "Allow", ""},
		{"on: channels still served", true, "GET", "/open@example.com", 200, "application/json", "", "[]"},
	}
	servers := map[bool]*httptest.Server{false: newAPI(t, nil), true: newAPI(t, demo.Handler())}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, servers[tc.enabled].URL+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := noRedirect.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status {
				t.Fatalf("%s %s: status %d, want %d (%s)", tc.method, tc.path, resp.StatusCode, tc.status, body)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, tc.contentType) {
				t.Errorf("Content-Type %q, want %q...", ct, tc.contentType)
			}
			if tc.header != "" && resp.Header.Get(tc.header) == "" {
				t.Errorf("no %s header", tc.header)
			}
			if !strings.Contains(string(body), tc.body) {
				t.Errorf("body does not contain %q:\n%s", tc.body, body)
			}
			if tc.status == 301 && resp.Header.Get("Location") != "/demo/" {
				t.Errorf("Location %q, want /demo/", resp.Header.Get("Location"))
			}
		})
	}
}

// The page's files must all be there and reference each other: a rename
// that misses one would leave a page without script or style.
func TestPageReferencesItsFiles(t *testing.T) {
	page, err := io.ReadAll(mustOpen(t, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"demo.js", "demo.css"} {
		if !strings.Contains(string(page), `"`+f+`"`) {
			t.Errorf("index.html does not load %s", f)
		}
		mustOpen(t, f).Close()
	}
}

func mustOpen(t *testing.T, name string) io.ReadCloser {
	t.Helper()
	f, err := demo.Files().Open(name)
	if err != nil {
		t.Fatalf("embedded %s: %v", name, err)
	}
	return f
}
