package mediasvc

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xmppmedia/mediaserver/auth"
	"github.com/xmppmedia/mediaserver/storage/s3store"
	"github.com/xmppmedia/mediaserver/storage/s3test"
	"github.com/xmppmedia/mediaserver/storage/sqlite"
	"github.com/xmppmedia/mediaserver/transform"
	"github.com/xmppmedia/mediaserver/transform/poster"
)

// s3Counter sits between the server and the S3 gateway and counts the
// GETs of objects (not of the bucket: listings) that pass.
type s3Counter struct {
	gets atomic.Int64
}

func (c *s3Counter) start(t *testing.T, gateway string) string {
	t.Helper()
	target, err := url.Parse(gateway)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target) // keeps Host, so signatures hold
	ps := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Count(strings.Trim(r.URL.Path, "/"), "/") >= 1 {
			c.gets.Add(1)
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(ps.Close)
	return ps.URL
}

// An upload to S3 is checked, measured and previewed from the bytes as
// they came in: the server never GETs back the object it has just PUT (a
// 12 MP photo, an avatar, a video). It prints the upload latency of the
// photo (median of three).
func TestS3UploadReadsNothingBack(t *testing.T) {
	gw := s3test.StartServer(t)
	var counter s3Counter
	cfg := gw.Config
	cfg.Endpoint = counter.start(t, gw.Config.Endpoint)
	ctx := context.Background()
	blobs, err := s3store.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	meta, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "media.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { meta.Close() })
	tcfg := transform.DefaultConfig()
	tcfg.MaxPixels = 50_000_000
	images, err := transform.New(tcfg)
	if err != nil {
		t.Fatal(err)
	}
	posters, err := poster.New(poster.Config{MaxPixels: tcfg.MaxPixels})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t}
	e.channels, e.confirm = newFixtureAuth()
	e.srv, err = New(DefaultConfig(), Deps{Blobs: blobs, Metadata: meta, Images: images, Posters: posters,
		Auth: &auth.Guard{Channels: e.channels, Confirmer: e.confirm}})
	if err != nil {
		t.Fatal(err)
	}
	e.http = httptestServer(t, e.srv)

	photo := jpegImage(t, 4000, 3000)
	var took []time.Duration
	for i := 0; i < 3; i++ {
		start := time.Now()
		m := e.mustUpload(privateChan, alice, photo, "image/jpeg")
		took = append(took, time.Since(start))
		if m.Width != 4000 || m.Height != 3000 {
			t.Fatalf("photo stored as %dx%d", m.Width, m.Height)
		}
	}
	slices.Sort(took)
	t.Logf("12 MP photo (%d bytes) uploaded to S3 (local Versity gateway) with its previews: median %v of %v, %d GETs of objects",
		len(photo), took[1].Round(time.Millisecond), took, counter.gets.Load())
	if n := counter.gets.Load(); n != 0 {
		t.Fatalf("%d GETs of objects during three photo uploads", n)
	}

	e.putAvatar(jpegImage(t, 600, 400), "image/jpeg")
	if n := counter.gets.Load(); n != 0 {
		t.Fatalf("%d GETs of objects during an avatar upload", n)
	}
	v := e.mustUpload(privateChan, alice, testVideo(t), "video/mp4")
	if v.Width != 640 || v.Height != 360 {
		t.Fatalf("video stored as %dx%d", v.Width, v.Height)
	}
	if n := counter.gets.Load(); n != 0 {
		t.Fatalf("%d GETs of objects during a video upload", n)
	}
	// The counter does see GETs: reading the photo back is one.
	if resp, _ := e.do("GET", "/"+privateChan+"/"+v.ID, alice, nil, nil); resp.StatusCode != 200 || counter.gets.Load() == 0 {
		t.Fatalf("read through the counter: %d, %d GETs counted", resp.StatusCode, counter.gets.Load())
	}
}
