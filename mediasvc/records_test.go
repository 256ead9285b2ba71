package mediasvc

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/xmppmedia/mediaserver/storage/pgtest"
	"github.com/xmppmedia/mediaserver/storage/s3test"
)

// putAvatar replaces privateChan's avatar as alice and returns its ID.
func (e *env) putAvatar(data []byte, ct string) string {
	e.t.Helper()
	body, mct := multipartBody(e.t, part{name: "data", file: data, fileName: "me"}, part{name: "content-type", value: ct})
	resp, b := e.do("PUT", "/"+privateChan+"/avatar", alice, body, http.Header{"Content-Type": {mct}})
	var m mediaJSON
	if resp.StatusCode != 201 || jsonUnmarshal(b, &m) != nil {
		e.t.Fatalf("PUT avatar: %d %s", resp.StatusCode, b)
	}
	return m.ID
}

// The server that made a change never serves what it replaced, though it
// remembers records: an edit, a deletion and a new avatar are seen by the
// very next request.
func TestChangesSeenAtOnce(t *testing.T) {
	e := newEnv(t)
	m := e.mustUpload(privateChan, alice, jpegImage(t, 800, 600), "image/jpeg")
	path := "/" + privateChan + "/" + m.ID
	read := func(p string) int {
		t.Helper()
		resp, _ := e.do("GET", p, carol, nil, nil)
		return resp.StatusCode
	}
	// Remembered: the item, its preview list, its metadata.
	for _, p := range []string{path, path + "?maxwidth=240&maxheight=320", path + "/metadata"} {
		if status := read(p); status != 200 {
			t.Fatalf("GET %s: %d", p, status)
		}
	}
	resp, _ := e.do("POST", path, alice, strings.NewReader(url.Values{"title": {"Renamed"}}.Encode()),
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
	if resp.StatusCode != 200 {
		t.Fatalf("update: %d", resp.StatusCode)
	}
	if _, b := e.do("GET", path+"/metadata", carol, nil, nil); !strings.Contains(string(b), `"title":"Renamed"`) {
		t.Fatalf("metadata after the edit: %s", b)
	}
	if resp, _ := e.do("DELETE", path, alice, nil, nil); resp.StatusCode != 200 {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	for _, p := range []string{path, path + "?maxwidth=240&maxheight=320", path + "/metadata"} {
		if status := read(p); status != 404 {
			t.Errorf("GET %s after the delete: %d, want 404", p, status)
		}
	}

	e.putAvatar(jpegImage(t, 300, 300), "image/jpeg")
	_, before := e.do("GET", "/"+privateChan+"/avatar", "", nil, nil)
	e.putAvatar(pngImage(t, 200, 200, false), "image/png")
	resp, after := e.do("GET", "/"+privateChan+"/avatar", "", nil, nil)
	if resp.StatusCode != 200 || bytes.Equal(before, after) {
		t.Fatalf("avatar after its replacement: %d, the old one again: %v", resp.StatusCode, bytes.Equal(before, after))
	}
}

// Two servers share PostgreSQL and S3: a deletion or a new avatar made
// through one is served by the other no later than recordTTL after it.
func TestOtherServerSeesChangesWithinBound(t *testing.T) {
	gw := s3test.StartServer(t)
	dsn := pgtest.Start(t)
	_, a := sharedServer(t, gw.Config, dsn, DefaultConfig())
	_, b := sharedServer(t, gw.Config, dsn, DefaultConfig())
	const slack = 500 * time.Millisecond // one request's time on a loaded machine

	// until polls A until ok holds and reports how long that took.
	until := func(what string, ok func() bool) time.Duration {
		t.Helper()
		start := time.Now()
		for !ok() {
			if time.Since(start) > recordTTL+slack {
				t.Fatalf("%s: not within %v", what, recordTTL+slack)
			}
			time.Sleep(20 * time.Millisecond)
		}
		return time.Since(start)
	}

	m := a.mustUpload(privateChan, alice, jpegImage(t, 800, 600), "image/jpeg")
	path := "/" + privateChan + "/" + m.ID
	preview := path + "?maxwidth=240&maxheight=320"
	for _, p := range []string{path, preview} {
		if resp, _ := a.do("GET", p, carol, nil, nil); resp.StatusCode != 200 {
			t.Fatalf("GET %s through A: %d", p, resp.StatusCode)
		}
	}
	if resp, _ := b.do("DELETE", path, alice, nil, nil); resp.StatusCode != 200 {
		t.Fatalf("delete through B: %d", resp.StatusCode)
	}
	d := until("the item deleted through B gone from A", func() bool {
		r1, _ := a.do("GET", path, carol, nil, nil)
		r2, _ := a.do("GET", preview, carol, nil, nil)
		return r1.StatusCode == 404 && r2.StatusCode == 404
	})
	t.Logf("a deletion through B reached A after %v (bound %v)", d.Round(time.Millisecond), recordTTL)

	a.putAvatar(jpegImage(t, 300, 300), "image/jpeg")
	if resp, _ := a.do("GET", "/"+privateChan+"/avatar", "", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("avatar through A: %d", resp.StatusCode)
	}
	b.putAvatar(pngImage(t, 200, 200, false), "image/png")
	resp, _ := b.do("GET", "/"+privateChan+"/avatar", "", nil, nil)
	newTag := resp.Header.Get("ETag")
	d = until("the avatar replaced through B served by A", func() bool {
		resp, _ := a.do("GET", "/"+privateChan+"/avatar", "", nil, nil)
		return resp.StatusCode == 200 && resp.Header.Get("ETag") == newTag
	})
	t.Logf("an avatar replaced through B reached A after %v (bound %v)", d.Round(time.Millisecond), recordTTL)
}

// A large file goes out through the real http.Server (its write deadlines
// and access-log wrappers, where a disk blob is sent with sendfile) whole,
// and a range of it exactly.
func TestLargeFileThroughServer(t *testing.T) {
	e := newEnv(t)
	data := make([]byte, 3<<20+12345)
	rand.Read(data)
	m := e.mustUpload(openChan, alice, data, "application/octet-stream")
	base := "http://" + serveWithTimeouts(t, e, DefaultTimeouts())
	get := func(rangeHeader string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+"/"+openChan+"/"+m.ID, nil)
		if rangeHeader != "" {
			req.Header.Set("Range", rangeHeader)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, b
	}
	if resp, b := get(""); resp.StatusCode != 200 || !bytes.Equal(b, data) {
		t.Fatalf("whole file: %d, %d bytes, equal %v", resp.StatusCode, len(b), bytes.Equal(b, data))
	}
	from, to := 1_000_001, 3_000_000
	resp, b := get(fmt.Sprintf("bytes=%d-%d", from, to))
	if resp.StatusCode != 206 || !bytes.Equal(b, data[from:to+1]) {
		t.Fatalf("range: %d, %d bytes, equal %v", resp.StatusCode, len(b), bytes.Equal(b, data[from:to+1]))
	}
}

// The small-file cache keeps within its byte budget, gives back what was
// stored, and releases a channel's bytes when the channel is written.
func TestFileCacheBounded(t *testing.T) {
	c := newRecordCache(nil)
	data := bytes.Repeat([]byte("x"), maxCachedFile)
	loads := 0
	load := func() ([]byte, error) { loads++; return data, nil }
	n := 2 * maxCachedFileBytes / maxCachedFile
	for i := 0; i < n; i++ {
		got, err := c.file(fmt.Sprintf("c%d@example.com", i%7), fmt.Sprintf("k/%d", i), int64(len(data)), load)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("file %d: %d bytes, %v", i, len(got), err)
		}
		if c.fileBytes > maxCachedFileBytes {
			t.Fatalf("after %d files %d bytes kept, budget %d", i+1, c.fileBytes, maxCachedFileBytes)
		}
	}
	loads = 0
	c.file("c0@example.com", "k/0", int64(len(data)), load)
	if loads != 0 {
		t.Fatal("a kept file was read again")
	}
	// A size other than the recorded one is read every time and not kept.
	c.file("c0@example.com", "k/0", int64(len(data))-1, load)
	c.file("c0@example.com", "k/0", int64(len(data))-1, load)
	if loads != 2 {
		t.Fatalf("%d reads of a file whose size changed, want 2", loads)
	}
	before := c.fileBytes
	c.forget("c0@example.com")
	if c.fileBytes >= before {
		t.Fatalf("forgetting a channel kept its bytes: %d then %d", before, c.fileBytes)
	}
	for i := 1; i < 7; i++ {
		c.forget(fmt.Sprintf("c%d@example.com", i))
	}
	if c.fileBytes != 0 {
		t.Fatalf("%d bytes counted with nothing kept", c.fileBytes)
	}
}
