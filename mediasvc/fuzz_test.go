package mediasvc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xmppmedia/mediaserver/auth"
	"github.com/xmppmedia/mediaserver/storage"
	"github.com/xmppmedia/mediaserver/storage/disk"
	"github.com/xmppmedia/mediaserver/storage/sqlite"
	"github.com/xmppmedia/mediaserver/transform"
)

// The fuzz targets drive the real router and upload path in process
// (httptest.NewRecorder, no socket), so each input costs little more than
// the SQLite and disk writes it causes.

// grantAll is an Authorizer that grants every request and remembers which
// entity it was asked about, so a fuzz target can check the router handed
// the authorizer exactly the channel the client named.
type grantAll struct {
	mu     sync.Mutex
	entity jid.JID
}

func (g *grantAll) Authorize(_ context.Context, req auth.Request) (auth.Decision, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.entity = req.Entity
	return auth.Decision{User: jid.MustParse(alice)}, nil
}

func (g *grantAll) last() jid.JID {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.entity
}

// stackOptions say how serverWith departs from the fixture.
type stackOptions struct {
	auth      auth.Authorizer // required
	log       *slog.Logger
	wrapBlobs func(storage.Blobs) storage.Blobs
	wrapMeta  func(storage.Metadata) storage.Metadata
}

// serverWith builds a Server on fresh disk and SQLite stores in dir, with
// what newEnv cannot vary: the Authorizer, the logger, and wrappers
// around the stores (to inject failures).
func serverWith(t testing.TB, dir string, cfg Config, o stackOptions) *Server {
	t.Helper()
	var blobs storage.Blobs
	blobs, err := disk.New(disk.Config{Root: filepath.Join(dir, "media")})
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(dir, "media.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var meta storage.Metadata = db
	if o.wrapBlobs != nil {
		blobs = o.wrapBlobs(blobs)
	}
	if o.wrapMeta != nil {
		meta = o.wrapMeta(meta)
	}
	images, err := transform.New(transform.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(cfg, Deps{Blobs: blobs, Metadata: meta, Images: images, Auth: o.auth, Log: o.log})
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// serve runs one request through the handler.
func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// rawRequest parses a request line as the server would read it off the
// wire; ok is false when net/http itself would refuse it (400 before any
// of our code runs).
func rawRequest(method, target string, header http.Header, body []byte) (*http.Request, bool) {
	var b strings.Builder
	b.WriteString(method + " " + target + " HTTP/1.1\r\nHost: media.example\r\n")
	for k, vs := range header {
		for _, v := range vs {
			b.WriteString(k + ": " + v + "\r\n")
		}
	}
	b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n")
	r, err := http.ReadRequest(bufio.NewReader(io.MultiReader(strings.NewReader(b.String()), bytes.NewReader(body))))
	if err != nil {
		return nil, false
	}
	r.RemoteAddr = "127.0.0.1:1"
	return r, true
}

// onlyStoreFiles fails unless dir holds nothing but the blob root and the
// SQLite files: no request may write anywhere else.
func onlyStoreFiles(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		switch e.Name() {
		case "media", "media.db", "media.db-wal", "media.db-shm", "media.db-journal":
		default:
			t.Fatalf("a request wrote %q outside the stores", e.Name())
		}
	}
}

// FuzzRoutePaths sends arbitrary request targets (entity and media id
// path parameters, percent-encoding, queries) through the real router, as
// the owner of every channel. Never a 500; an upload to any path lands
// inside the blob store under the JID the authorizer was asked about; and
// a valid bare JID, percent-encoded, names exactly that channel.
func FuzzRoutePaths(f *testing.F) {
	for _, s := range []string{
		"/alice@example.com", "/alice%40example.com/avatar", "/alice@example.com/AAAAAAAAAAAAAAAAAAAA/metadata",
		"/..%2F..%2Fetc%2Fpasswd", "/alice@example.com/..%2F..%2Fmedia.db", "/a@b/c/d/e", "/%", "/%zz@x",
		"/alice@example.com%2Fphone", "/a%2540example.com", "/100%25@example.com", "/[::1]@x", "/a@[::1]",
		"/alice@example.com?max=1&after=AAAAAAAAAAAAAAAAAAAA", "/alice@example.com/avatar?maxwidth=10",
		"/Ä@example.com", "/a@example.com./x", "//", "/@", "/a@b?auth=%ZZ",
	} {
		f.Add(s, uint8(0))
		f.Add(s, uint8(3))
	}
	dir := f.TempDir()
	authz := &grantAll{}
	srv := serverWith(f, dir, DefaultConfig(), stackOptions{auth: authz})
	h := srv.Handler()
	root := filepath.Join(dir, "media")
	uploadBody, uploadType := multipartBody(f, part{name: "data", file: []byte("fuzz"), fileName: "f.txt"}, part{name: "content-type", value: "text/plain"})
	upload, _ := io.ReadAll(uploadBody)

	f.Fuzz(func(t *testing.T, target string, op uint8) {
		if !strings.HasPrefix(target, "/") {
			target = "/" + target
		}
		if strings.ContainsFunc(target, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			return // not one request line: net/http splits or refuses it
		}
		methods := []string{"GET", "HEAD", "DELETE", "POST", "PUT"}
		method := methods[int(op)%len(methods)]
		var body []byte
		header := http.Header{}
		if method == "POST" || method == "PUT" {
			body, header = upload, http.Header{"Content-Type": {uploadType}}
		}
		r, ok := rawRequest(method, target, header, body)
		if !ok {
			return
		}
		w := serve(h, r)
		if w.Code >= 500 {
			t.Fatalf("%s %q = %d: %s", method, target, w.Code, w.Body)
		}
		if w.Code >= 400 && !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
			t.Fatalf("%s %q = %d without a JSON error", method, target, w.Code)
		}
		if w.Code == http.StatusCreated {
			var m mediaJSON
			if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
				t.Fatal(err)
			}
			if got := authz.last().String(); got != m.EntityID {
				t.Fatalf("upload to %q stored under %q, authorized for %q", target, m.EntityID, got)
			}
			if j, err := jid.Parse(m.EntityID); err != nil || j.Localpart() == "" || j.Resourcepart() != "" {
				t.Fatalf("upload to %q stored under %q, not a bare JID", target, m.EntityID)
			}
			stored, err := srv.meta.Get(t.Context(), m.EntityID, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(root, filepath.FromSlash(stored.BlobKey))
			if rel, err := filepath.Rel(root, p); err != nil || strings.HasPrefix(rel, "..") {
				t.Fatalf("blob of %q at %s, outside %s", target, p, root)
			}
			if _, err := os.Stat(p); err != nil {
				t.Fatalf("blob of %q not at %s: %v", target, p, err)
			}
			// Keep the store small: remove it again.
			del, _ := rawRequest("DELETE", "/"+url.PathEscape(m.EntityID)+"/"+m.ID, nil, nil)
			if w := serve(h, del); w.Code != http.StatusOK {
				t.Fatalf("delete %s/%s: %d", m.EntityID, m.ID, w.Code)
			}
		}
		onlyStoreFiles(t, dir)

		// The fuzzed string as a JID: if it is a valid bare JID (one that
		// parses back to itself), its percent-encoded form names exactly
		// that channel.
		candidate := strings.TrimPrefix(target, "/")
		j, err := jid.Parse(candidate)
		if err != nil || j.Localpart() == "" || j.Resourcepart() != "" || !canonicalJID(j) || len(candidate) > maxJIDBytes {
			return
		}
		r, ok = rawRequest("GET", "/"+url.PathEscape(candidate)+"?max=1", nil, nil)
		if !ok {
			t.Fatalf("%q percent-encoded is not a request target", candidate)
		}
		if w := serve(h, r); w.Code != http.StatusOK {
			t.Fatalf("list of valid JID %q (sent as %q) = %d: %s", candidate, url.PathEscape(candidate), w.Code, w.Body)
		}
		if got := authz.last(); !got.Equal(j) {
			t.Fatalf("list of %q authorized for %q", j, got)
		}
	})
}

// fuzzUploadEnv is the fixture with a small upload limit, so that the
// fuzzer reaches the size limits too.
func fuzzUploadEnv(f *testing.F) *env {
	return newEnv(f, func(c *Config) { c.MaxUploadBytes = 4 << 10 })
}

// uploadFailedCleanly fails unless a refused upload left nothing: no blob
// file and no pending record.
func uploadFailedCleanly(t *testing.T, e *env, what string) {
	t.Helper()
	if files := e.blobFiles(); len(files) != 0 {
		t.Fatalf("%s: refused upload left %d files: %v", what, len(files), files)
	}
	if pending, err := e.srv.meta.Pending(t.Context(), time.Now().Add(time.Hour)); err != nil || len(pending) != 0 {
		t.Fatalf("%s: refused upload left %d pending records (%v)", what, len(pending), err)
	}
}

// removeUpload deletes what a successful fuzzed upload stored.
func removeUpload(t *testing.T, e *env, h http.Handler, m mediaJSON) {
	t.Helper()
	r, _ := rawRequest("DELETE", "/"+privateChan+"/"+m.ID, http.Header{"Authorization": {"Basic " + cred(alice)}}, nil)
	if w := serve(h, r); w.Code != http.StatusOK {
		t.Fatalf("delete %s: %d", m.ID, w.Code)
	}
}

// FuzzUploadBody posts arbitrary bodies under multipart, urlencoded and
// arbitrary content types, through readUploadBody and the whole upload
// path. Never a panic or a 500; a refused upload leaves no file and no
// pending record; an accepted one is listed and readable.
func FuzzUploadBody(f *testing.F) {
	mp := func(parts ...part) []byte {
		b, _ := multipartBody(f, parts...)
		raw, _ := io.ReadAll(b)
		return raw
	}
	// multipartBody's random boundary is rewritten to the fixed one the
	// target uses, so the seeds parse.
	fixBoundary := func(b []byte) []byte {
		first, _, _ := bytes.Cut(b, []byte("\r\n"))
		return bytes.ReplaceAll(b, first[2:], []byte("XyZ"))
	}
	seeds := []struct {
		kind uint8
		body []byte
	}{
		{0, fixBoundary(mp(part{name: "data", file: []byte("hello"), fileName: "a.txt"}, part{name: "content-type", value: "text/plain"}))},
		{0, fixBoundary(mp(part{name: "title", value: "t"}, part{name: "data", file: []byte("\xff\xd8\xff\xe0"), partType: "image/jpeg"}))},
		{0, fixBoundary(mp(part{name: "content-length", value: "99999"}, part{name: "data", file: []byte("x"), partType: "text/plain"}))},
		{0, fixBoundary(mp(part{name: "data", file: pngHeaderOnly(5000, 5000)}, part{name: "content-type", value: "image/png"}))},
		{0, []byte("--XyZ\r\nContent-Disposition: form-data; name=\"data\"\r\n\r\nabc\r\n--XyZ")},
		{0, []byte("--XyZ--\r\n")},
		{1, []byte("content-type=text%2Fplain&data=aGVsbG8&title=%C3%BC")},
		{1, []byte("data=aGVsbG8=&content-type=text/plain&filename=..%2F..%2Fx")},
		{1, []byte("content-type=image%2Fpng&data=%21%21%21")},
		{1, []byte("content-type=text%2Fplain&data=aGV%ZZ")},
		{1, []byte("&&&=&data&content-type=a/b&data=")},
		{1, []byte("content-length=-1&data=AAAA")},
		{2, []byte("data=aGVsbG8")},
	}
	for _, s := range seeds {
		f.Add(s.kind, s.body)
	}
	e := fuzzUploadEnv(f)
	h := e.srv.Handler()
	types := []string{"multipart/form-data; boundary=XyZ", "application/x-www-form-urlencoded", "text/plain", "multipart/form-data", "multipart/form-data; boundary=\"\""}

	f.Fuzz(func(t *testing.T, kind uint8, body []byte) {
		ct := types[int(kind)%len(types)]
		r, ok := rawRequest("POST", "/"+privateChan, http.Header{"Content-Type": {ct}, "Authorization": {"Basic " + cred(alice)}}, body)
		if !ok {
			t.Fatal("request did not parse")
		}
		w := serve(h, r)
		switch {
		case w.Code >= 500:
			t.Fatalf("%s body %q = %d: %s", ct, body, w.Code, w.Body)
		case w.Code == http.StatusCreated:
			var m mediaJSON
			if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil || !idPattern.MatchString(m.ID) {
				t.Fatalf("201 without media JSON: %s", w.Body)
			}
			removeUpload(t, e, h, m)
		case w.Code < 400:
			t.Fatalf("upload answered %d", w.Code)
		default:
			var errBody map[string]string
			if json.Unmarshal(w.Body.Bytes(), &errBody) != nil || errBody["error"] == "" {
				t.Fatalf("%d without a JSON error: %s", w.Code, w.Body)
			}
		}
		uploadFailedCleanly(t, e, ct)
	})
}

// Ways to send the file of a valid upload.
const (
	sendMultipart = iota
	sendBase64Std
	sendBase64URL
	sendBase64RawURL
	sendBase64Mixed
	sendBase64UnencodedPlus
	sendBase64Wrapped // MIME-style line breaks every 76 characters
	sendKinds
)

// FuzzUploadRoundTrip uploads generated valid bodies, every way a client
// sends one, with arbitrary file bytes, title and file name: the stored
// bytes are the input, title and name come back as sent (the name as its
// last path element), and text fields that are not clean are refused with
// 400 and leave nothing behind.
func FuzzUploadRoundTrip(f *testing.F) {
	f.Add([]byte("hello"), "title", "a.txt", uint8(sendMultipart))
	f.Add([]byte{0xfb, 0xff, 0xfe, 0x00, 0x3e, 0x3f}, "Über\r\nline", "C:\\x\\y.bin", uint8(sendBase64Mixed))
	f.Add([]byte{}, "", "", uint8(sendBase64Std))
	f.Add(bytes.Repeat([]byte{0xff}, 200), "\x00", "../../etc/passwd", uint8(sendBase64UnencodedPlus))
	f.Add([]byte("--XyZ\r\n"), "\xff", "a\r\nb.txt", uint8(sendBase64Wrapped))
	f.Add([]byte("\r\n--"), "t", "\"quoted\".txt", uint8(sendBase64RawURL))
	e := fuzzUploadEnv(f)
	h := e.srv.Handler()

	f.Fuzz(func(t *testing.T, data []byte, title, fileName string, kind uint8) {
		if len(data) > int(e.srv.cfg.MaxUploadBytes) {
			return
		}
		kind %= sendKinds
		var body []byte
		var ct string
		if kind == sendMultipart {
			b, mct := multipartBody(t, part{name: "data", file: data, fileName: "part.bin"},
				part{name: "content-type", value: "application/octet-stream"},
				part{name: "title", value: title}, part{name: "filename", value: fileName})
			body, _ = io.ReadAll(b)
			ct = mct
		} else {
			var encoded string
			switch kind {
			case sendBase64Std, sendBase64UnencodedPlus:
				encoded = base64.StdEncoding.EncodeToString(data)
			case sendBase64URL:
				encoded = base64.URLEncoding.EncodeToString(data)
			case sendBase64RawURL:
				encoded = base64.RawURLEncoding.EncodeToString(data)
			case sendBase64Mixed:
				encoded = strings.Replace(base64.StdEncoding.EncodeToString(data), "+", "-", 1)
			case sendBase64Wrapped:
				std := base64.StdEncoding.EncodeToString(data)
				for len(std) > 76 {
					encoded += std[:76] + "\r\n"
					std = std[76:]
				}
				encoded += std
			}
			v := url.Values{"content-type": {"application/octet-stream"}, "title": {title}, "filename": {fileName}}
			form := v.Encode() + "&data=" + url.QueryEscape(encoded)
			if kind == sendBase64UnencodedPlus {
				form = v.Encode() + "&data=" + strings.ReplaceAll(url.QueryEscape(encoded), "%2B", "+")
			}
			body, ct = []byte(form), "application/x-www-form-urlencoded"
		}
		r, _ := rawRequest("POST", "/"+privateChan, http.Header{"Content-Type": {ct}, "Authorization": {"Basic " + cred(alice)}}, body)
		w := serve(h, r)

		_, titleErr := cleanText("title", title)
		wantName, nameErr := cleanFileName(fileName)
		if titleErr != nil || nameErr != nil {
			if w.Code != http.StatusBadRequest {
				t.Fatalf("unclean title %q / file name %q: %d, want 400", title, fileName, w.Code)
			}
			uploadFailedCleanly(t, e, "unclean field")
			return
		}
		if w.Code != http.StatusCreated {
			t.Fatalf("valid upload (kind %d, %d bytes): %d: %s", kind, len(data), w.Code, w.Body)
		}
		var m mediaJSON
		if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		if wantName == "" {
			wantName = "part.bin" // the data part's own filename, multipart only
			if kind != sendMultipart {
				wantName = ""
			}
		}
		if m.Title != title || m.FileName != wantName || *m.FileSize != int64(len(data)) {
			t.Fatalf("stored title %q name %q size %d, sent %q %q (want name %q) %d bytes", m.Title, m.FileName, *m.FileSize, title, fileName, wantName, len(data))
		}
		get, _ := rawRequest("GET", "/"+privateChan+"/"+m.ID, http.Header{"Authorization": {"Basic " + cred(alice)}}, nil)
		got := serve(h, get)
		if got.Code != http.StatusOK || !bytes.Equal(got.Body.Bytes(), data) {
			t.Fatalf("kind %d: read back %d, %d bytes, want %x", kind, got.Code, got.Body.Len(), data)
		}
		removeUpload(t, e, h, m)
		uploadFailedCleanly(t, e, "after delete")
	})
}
