package mediasvc

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/xmppmedia/mediaserver/auth"
	"github.com/xmppmedia/mediaserver/storage"
	"github.com/xmppmedia/mediaserver/storage/pgtest"
	"github.com/xmppmedia/mediaserver/storage/postgres"
	"github.com/xmppmedia/mediaserver/storage/s3store"
	"github.com/xmppmedia/mediaserver/storage/s3test"
	"github.com/xmppmedia/mediaserver/transform"
)

// sharedServer is one media server on the shared S3 bucket and PostgreSQL
// database, as a second machine behind a load balancer would run it. Each
// of more may add to its dependencies before it is made.
func sharedServer(t *testing.T, s3cfg s3store.Config, dsn string, cfg Config, more ...func(*Deps)) (*Server, *env) {
	t.Helper()
	ctx := context.Background()
	blobs, err := s3store.New(ctx, s3cfg)
	if err != nil {
		t.Fatal(err)
	}
	meta, err := postgres.Open(ctx, postgres.Config{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { meta.Close() })
	images, err := transform.New(transform.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t}
	e.channels, e.confirm = newFixtureAuth()
	deps := Deps{Blobs: blobs, Metadata: meta, Images: images,
		Auth: &auth.Guard{Channels: e.channels, Confirmer: e.confirm}}
	for _, f := range more {
		f(&deps)
	}
	srv, err := New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	e.srv, e.http = srv, httptestServer(t, srv)
	return srv, e
}

func TestTwoServersShareS3AndPostgres(t *testing.T) {
	gw := s3test.StartServer(t)
	dsn := pgtest.Start(t)
	_, a := sharedServer(t, gw.Config, dsn, DefaultConfig())
	_, b := sharedServer(t, gw.Config, dsn, DefaultConfig())
	if a.http.URL == b.http.URL {
		t.Fatal("the two servers share an address")
	}

	m := a.mustUpload(privateChan, alice, jpegImage(t, 1200, 900), "image/jpeg")
	// The preview made at upload by A is served by B.
	resp, body := b.do("GET", "/"+privateChan+"/"+m.ID+"?maxwidth=240&maxheight=320", carol, nil, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("preview through B: %d %s", resp.StatusCode, body)
	}
	if _, w, h := decodeSize(t, body); w != 240 || h != 180 {
		t.Fatalf("preview through B is %dx%d, want 240x180", w, h)
	}
	// An on-demand preview made by B is found by A.
	if resp, _ := b.do("GET", "/"+privateChan+"/"+m.ID+"?maxwidth=64", carol, nil, nil); resp.StatusCode != 200 {
		t.Fatalf("on-demand preview through B: %d", resp.StatusCode)
	}
	previews, err := a.srv.meta.Previews(context.Background(), privateChan, m.ID)
	if err != nil || !hasBox(previews, 64, 64) {
		t.Fatalf("A does not see B's 64x64 preview: %v %v", previews, err)
	}
	resp, body = a.do("GET", "/"+privateChan, carol, nil, nil)
	var list []mediaJSON
	if resp.StatusCode != 200 || json.Unmarshal(body, &list) != nil || len(list) != 1 {
		t.Fatalf("list through A: %d %s", resp.StatusCode, body)
	}

	// Deleted through B: gone through A, and from the bucket.
	if resp, _ := b.do("DELETE", "/"+privateChan+"/"+m.ID, alice, nil, nil); resp.StatusCode != 200 {
		t.Fatalf("delete through B: %d", resp.StatusCode)
	}
	if resp, _ := a.do("GET", "/"+privateChan+"/"+m.ID, alice, nil, nil); resp.StatusCode != 404 {
		t.Fatalf("after delete through B, A answers %d", resp.StatusCode)
	}
	if objs := gw.Objects(t, gw.Config.Bucket); len(objs) != 0 {
		t.Fatalf("objects left in the bucket after delete: %v", objs)
	}
}

func hasBox(ps []storage.Preview, w, h int) bool {
	for _, p := range ps {
		if p.Width == w && p.Height == h {
			return true
		}
	}
	return false
}

func TestS3OutageMidUpload(t *testing.T) {
	gw := s3test.StartServer(t)
	dsn := pgtest.Start(t)
	cfg := DefaultConfig()
	cfg.AbandonAfter = 0 // one server: any pending upload is abandoned
	s3cfg := gw.Config
	s3cfg.RequestTimeout = 2 * time.Second
	s3cfg.MaxAttempts = 2
	_, e := sharedServer(t, s3cfg, dsn, cfg)

	// A body large enough for a multipart upload, sent over a raw
	// connection so that the gateway can be stopped while it streams and
	// the answer is read even though the server stops reading the body
	// (net/http's client may report only its own write error then).
	body, ct := multipartBody(t, part{name: "content-type", value: "application/octet-stream"}, part{name: "data", file: make([]byte, 24<<20)})
	size := body.(interface{ Len() int }).Len()
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.url(""), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	go func() {
		fmt.Fprintf(conn, "POST /%s HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
			privateChan, cred(alice), ct, size)
		io.CopyN(conn, body, 12<<20)
		gw.Stop()
		io.Copy(conn, body) // fails once the server gives up on the body
	}()
	start := time.Now()
	conn.SetReadDeadline(time.Now().Add(time.Minute))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("upload during an S3 outage: no answer: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("upload during an S3 outage: %d, want 503 with Retry-After", resp.StatusCode)
	}
	t.Logf("client answered after %v", time.Since(start).Round(time.Millisecond))

	resp2, b := e.do("GET", "/"+privateChan, alice, nil, nil)
	if resp2.StatusCode != 200 || strings.TrimSpace(string(b)) != "[]" {
		t.Fatalf("during the outage the list is %d %s, want empty", resp2.StatusCode, b)
	}
	gw.Restart()
	// The janitor's pass (every AbandonAfter in a running server) removes
	// what the outage kept the failed upload from removing.
	if _, err := e.srv.CleanAbandoned(context.Background()); err != nil {
		t.Fatalf("cleanup after the outage: %v", err)
	}
	if pending, _ := e.srv.meta.Pending(context.Background(), time.Now().Add(time.Hour)); len(pending) != 0 {
		t.Fatalf("%d pending uploads left", len(pending))
	}
	if objs := gw.Objects(t, gw.Config.Bucket); len(objs) != 0 {
		t.Fatalf("objects left half-written: %v", objs)
	}
	if ups := gw.Uploads(t, gw.Config.Bucket); len(ups) != 0 {
		t.Fatalf("multipart uploads left open: %v", ups)
	}
	m := e.mustUpload(privateChan, alice, jpegImage(t, 300, 200), "image/jpeg")
	if resp, _ := e.do("GET", "/"+privateChan+"/"+m.ID, alice, nil, nil); resp.StatusCode != 200 {
		t.Fatalf("upload after the outage not served: %d", resp.StatusCode)
	}
}
