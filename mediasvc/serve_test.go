package mediasvc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestPreviews(t *testing.T) {
	e := newEnv(t)
	photo := e.mustUpload(privateChan, alice, jpegImage(t, 1600, 1200), "image/jpeg")
	small := e.mustUpload(privateChan, alice, jpegImage(t, 100, 80), "image/jpeg")
	alpha := e.mustUpload(privateChan, alice, pngImage(t, 600, 300, true), "image/png")
	text := e.mustUpload(privateChan, alice, []byte("not an image"), "text/plain")
	for _, tc := range []struct {
		name, id, query string
		format          string
		maxW, maxH      int // the result must fit inside
		wantW, wantH    int // exact size when known
	}{
		{"device box portrait", photo.ID, "maxwidth=240&maxheight=320", "jpeg", 240, 320, 240, 180},
		{"device box landscape", photo.ID, "maxwidth=480&maxheight=320", "jpeg", 480, 320, 427, 320},
		{"one side given", photo.ID, "maxwidth=320", "jpeg", 320, 320, 320, 240},
		{"height alone", photo.ID, "maxheight=320", "jpeg", 320, 320, 320, 240},
		{"odd box fitted exactly", photo.ID, "maxwidth=100&maxheight=90", "jpeg", 100, 90, 100, 75},
		{"never enlarged", small.ID, "maxwidth=1000&maxheight=1000", "jpeg", 100, 80, 100, 80},
		{"transparency kept as PNG", alpha.ID, "maxwidth=240&maxheight=320", "png", 240, 320, 240, 120},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := e.do("GET", "/"+privateChan+"/"+tc.id+"?"+tc.query, alice, nil, nil)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
			format, w, h := decodeSize(t, b)
			if format != tc.format || w > tc.maxW || h > tc.maxH || (tc.wantW != 0 && (w != tc.wantW || h != tc.wantH)) {
				t.Fatalf("preview %s %dx%d, want %s %dx%d inside %dx%d", format, w, h, tc.format, tc.wantW, tc.wantH, tc.maxW, tc.maxH)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "image/"+tc.format {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
	for _, q := range []string{"maxwidth=0", "maxwidth=-3", "maxheight=abc", "maxwidth=99999999"} {
		if resp, _ := e.do("GET", "/"+privateChan+"/"+photo.ID+"?"+q, alice, nil, nil); resp.StatusCode != 400 {
			t.Errorf("?%s: %d, want 400", q, resp.StatusCode)
		}
	}
	if resp, _ := e.do("GET", "/"+privateChan+"/"+text.ID+"?maxwidth=100", alice, nil, nil); resp.StatusCode != 412 {
		t.Errorf("preview of text: %d, want 412", resp.StatusCode)
	}
	if resp, _ := e.do("GET", "/"+privateChan+"/"+photo.ID+"?maxwidth=100", "", nil, nil); resp.StatusCode != 401 {
		t.Errorf("anonymous preview of a private item: %d, want 401", resp.StatusCode)
	}
}

func TestDevicePreviewsMadeAtUpload(t *testing.T) {
	e := newEnv(t)
	m := e.mustUpload(privateChan, alice, jpegImage(t, 1600, 1200), "image/jpeg")
	stored, err := e.srv.meta.Previews(t.Context(), privateChan, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	boxes := map[string]bool{}
	for _, p := range stored {
		boxes[fmt.Sprintf("%dx%d", p.Width, p.Height)] = true
	}
	for _, want := range []string{"240x320", "320x240", "320x480", "480x320"} {
		if !boxes[want] {
			t.Errorf("no %s preview stored at upload (have %v)", want, boxes)
		}
	}
}

func TestPreviewFloodStaysBounded(t *testing.T) {
	e := newEnv(t)
	// Boxes the 1200x900 original fits get the stored 2048 preview (which
	// it fits too); smaller ones stored or derived previews, derived ones
	// kept in memory only. A larger original would only add rendering time.
	m := e.mustUpload(privateChan, alice, jpegImage(t, 1200, 900), "image/jpeg")
	for i := 0; i < 150; i++ {
		q := fmt.Sprintf("?maxwidth=%d&maxheight=%d", 20+i*13, 17+i*11)
		resp, _ := e.do("GET", "/"+privateChan+"/"+m.ID+q, alice, nil, nil)
		// 429: one client's budget of boxes derived in a worker slot is
		// spent (derivebudget.go), which bounds the work, not the files.
		if resp.StatusCode != 200 && resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("%s: %d", q, resp.StatusCode)
		}
	}
	limit := 1 + len(e.srv.boxes)
	if n := len(e.blobFiles()); n > limit {
		t.Fatalf("150 distinct preview sizes left %d files; the bounded set allows %d", n, limit)
	}
}

func TestConditionalAndRange(t *testing.T) {
	e := newEnv(t)
	data := []byte("0123456789abcdefghij")
	m := e.mustUpload(openChan, alice, data, "application/octet-stream")
	path := "/" + openChan + "/" + m.ID
	resp, _ := e.do("GET", path, "", nil, nil)
	etag, lastMod := resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
	if etag == "" || lastMod == "" || resp.Header.Get("Accept-Ranges") != "bytes" {
		t.Fatalf("validators missing: %v", resp.Header)
	}
	if cc := resp.Header.Get("Cache-Control"); !strings.HasPrefix(cc, "public, max-age=") {
		t.Errorf("open channel Cache-Control %q", cc)
	}
	if cd := resp.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment") {
		t.Errorf("octet-stream served inline: %q", cd)
	}
	future := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	past := time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)
	for _, tc := range []struct {
		name   string
		header http.Header
		want   int
		body   string
		crange string
	}{
		{"If-None-Match", http.Header{"If-None-Match": {etag}}, 304, "", ""},
		{"If-None-Match list", http.Header{"If-None-Match": {`"x", ` + etag}}, 304, "", ""},
		{"If-None-Match other", http.Header{"If-None-Match": {`"other"`}}, 200, string(data), ""},
		{"If-Modified-Since later", http.Header{"If-Modified-Since": {future}}, 304, "", ""},
		{"If-Modified-Since earlier", http.Header{"If-Modified-Since": {past}}, 200, string(data), ""},
		{"range", http.Header{"Range": {"bytes=2-5"}}, 206, "2345", "bytes 2-5/20"},
		{"open range", http.Header{"Range": {"bytes=15-"}}, 206, "fghij", "bytes 15-19/20"},
		{"suffix range", http.Header{"Range": {"bytes=-3"}}, 206, "hij", "bytes 17-19/20"},
		{"range past end clipped", http.Header{"Range": {"bytes=18-99"}}, 206, "ij", "bytes 18-19/20"},
		{"unsatisfiable", http.Header{"Range": {"bytes=20-"}}, 416, "", "bytes */20"},
		{"multiple ranges: whole file", http.Header{"Range": {"bytes=0-1,4-5"}}, 200, string(data), ""},
		{"stale If-Range: whole file", http.Header{"Range": {"bytes=0-1"}, "If-Range": {`"old"`}}, 200, string(data), ""},
		{"fresh If-Range", http.Header{"Range": {"bytes=0-1"}, "If-Range": {etag}}, 206, "01", "bytes 0-1/20"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := e.do("GET", path, "", nil, tc.header)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
			if tc.want != 416 && string(b) != tc.body {
				t.Fatalf("body %q, want %q", b, tc.body)
			}
			if got := resp.Header.Get("Content-Range"); got != tc.crange {
				t.Fatalf("Content-Range %q, want %q", got, tc.crange)
			}
			if tc.want == 200 || tc.want == 206 {
				if cl := resp.Header.Get("Content-Length"); cl != fmt.Sprint(len(tc.body)) {
					t.Fatalf("Content-Length %s, want %d", cl, len(tc.body))
				}
			}
		})
	}
	resp, b := e.do("HEAD", path, "", nil, nil)
	if resp.StatusCode != 200 || len(b) != 0 || resp.ContentLength != int64(len(data)) || resp.Header.Get("ETag") != etag {
		t.Fatalf("HEAD: %d, %d body bytes, length %d", resp.StatusCode, len(b), resp.ContentLength)
	}
}

func TestActiveContentServedInert(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct{ mime, body string }{
		{"text/html", "<script>alert(document.cookie)</script>"},
		{"image/svg+xml", `<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`},
	} {
		m := e.mustUpload(openChan, alice, []byte(tc.body), tc.mime)
		resp, _ := e.do("GET", "/"+openChan+"/"+m.ID, "", nil, nil)
		h := resp.Header
		if !strings.HasPrefix(h.Get("Content-Disposition"), "attachment") || h.Get("Content-Security-Policy") != "sandbox; default-src 'none'" ||
			h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s served without attachment/CSP/nosniff: %v", tc.mime, h)
		}
	}
	img := e.mustUpload(openChan, alice, jpegImage(t, 10, 10), "image/jpeg")
	resp, _ := e.do("GET", "/"+openChan+"/"+img.ID, "", nil, nil)
	if resp.Header.Get("Content-Disposition") != "" {
		t.Errorf("a JPEG is sent as an attachment")
	}
}

func TestAvatar(t *testing.T) {
	e := newEnv(t)
	put := func(user string, data []byte, ct string) (int, mediaJSON) {
		t.Helper()
		body, mct := multipartBody(t, part{name: "data", file: data, fileName: "me.jpg"}, part{name: "content-type", value: ct})
		resp, b := e.do("PUT", "/"+privateChan+"/avatar", user, body, http.Header{"Content-Type": {mct}})
		var m mediaJSON
		if resp.StatusCode == 201 {
			if err := jsonUnmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
		}
		return resp.StatusCode, m
	}
	if status, _ := put(carol, jpegImage(t, 300, 200), "image/jpeg"); status != 403 {
		t.Fatalf("member set avatar: %d", status)
	}
	if status, _ := put(alice, []byte("text"), "text/plain"); status != 415 {
		t.Fatalf("text avatar: %d, want 415", status)
	}
	status, first := put(alice, jpegImage(t, 300, 200), "image/jpeg")
	if status != 201 || first.Width != first.Height || first.Width == 0 {
		t.Fatalf("avatar: %d %+v (want a square)", status, first)
	}
	// Avatars are public by default, even of a private channel.
	resp, b := e.do("GET", "/"+privateChan+"/avatar", "", nil, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("GET avatar anonymously: %d", resp.StatusCode)
	}
	if _, w, h := decodeSize(t, b); w != h {
		t.Fatalf("stored avatar %dx%d is not square", w, h)
	}
	filesWithOne := len(e.blobFiles())
	status, second := put(alice, pngImage(t, 120, 200, false), "image/png")
	if status != 201 || second.ID == first.ID {
		t.Fatalf("second avatar: %d", status)
	}
	if resp, _ := e.do("GET", "/"+privateChan+"/"+first.ID, alice, nil, nil); resp.StatusCode != 404 {
		t.Fatalf("old avatar still served: %d", resp.StatusCode)
	}
	if n := len(e.blobFiles()); n > filesWithOne {
		t.Fatalf("old avatar's files not removed: %d files, had %d with one avatar", n, filesWithOne)
	}
	resp, b = e.do("GET", "/"+privateChan+"/avatar/metadata", "", nil, nil)
	var meta mediaJSON
	if resp.StatusCode != 200 || jsonUnmarshal(b, &meta) != nil || meta.ID != second.ID {
		t.Fatalf("avatar metadata: %d %s", resp.StatusCode, b)
	}
	if resp, b := e.do("GET", "/"+privateChan+"/avatar?maxwidth=64", "", nil, nil); resp.StatusCode != 200 || !bytes.HasPrefix(b, []byte("\x89PNG")) && !bytes.HasPrefix(b, []byte("\xff\xd8")) {
		t.Fatalf("avatar preview: %d", resp.StatusCode)
	}
	// Avatars are not channel media items.
	_, b = e.do("GET", "/"+privateChan, alice, nil, nil)
	if strings.Contains(string(b), second.ID) {
		t.Errorf("avatar listed among the channel's media")
	}
}

func TestPrivateAvatarsWhenConfigured(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.AvatarsPublic = false })
	body, ct := multipartBody(t, part{name: "data", file: jpegImage(t, 50, 50)}, part{name: "content-type", value: "image/jpeg"})
	if resp, _ := e.do("PUT", "/"+privateChan+"/avatar", alice, body, http.Header{"Content-Type": {ct}}); resp.StatusCode != 201 {
		t.Fatalf("set avatar: %d", resp.StatusCode)
	}
	if resp, _ := e.do("GET", "/"+privateChan+"/avatar", "", nil, nil); resp.StatusCode != 401 {
		t.Fatalf("anonymous read of a private channel's avatar: %d, want 401", resp.StatusCode)
	}
	if resp, _ := e.do("GET", "/"+privateChan+"/avatar", carol, nil, nil); resp.StatusCode != 200 {
		t.Fatalf("member read of avatar: %d", resp.StatusCode)
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
