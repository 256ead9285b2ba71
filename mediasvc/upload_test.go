package mediasvc

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"hash/crc32"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

var idPattern = regexp.MustCompile(`^[A-Za-z0-9]{20}$`)

func TestUploadMultipartThenRead(t *testing.T) {
	e := newEnv(t)
	data := jpegImage(t, 400, 300)
	status, m := e.upload("/"+privateChan, bob, data, "image/jpeg",
		part{name: "Title", value: "Sommer in Zürich"}, part{name: "DESCRIPTION", value: "日本語も"})
	if status != http.StatusCreated {
		t.Fatalf("upload status %d", status)
	}
	sum := sha1.Sum(data)
	checks := []struct {
		name      string
		got, want any
	}{
		{"id", idPattern.MatchString(m.ID), true},
		{"entityId", m.EntityID, privateChan},
		{"author", m.Author, bob},
		{"fileName (from the part's filename)", m.FileName, "photo.jpg"},
		{"fileExtension", m.FileExtension, "jpg"},
		{"mimeType", m.MimeType, "image/jpeg"},
		{"title (UTF-8)", m.Title, "Sommer in Zürich"},
		{"description (UTF-8)", m.Description, "日本語も"},
		{"shaChecksum", m.ShaChecksum, hex.EncodeToString(sum[:])},
		{"fileSize", *m.FileSize, int64(len(data))},
		{"width", m.Width, 400},
		{"height", m.Height, 300},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	for _, d := range []string{m.UploadedDate, m.LastUpdatedDate} {
		if ts, err := time.Parse(time.RFC3339, d); err != nil || ts.Location() != time.UTC {
			t.Errorf("date %q is not RFC 3339 UTC: %v", d, err)
		}
	}

	resp, body := e.do("GET", "/"+privateChan+"/"+m.ID, alice, nil, nil)
	if resp.StatusCode != 200 || !bytes.Equal(body, data) {
		t.Fatalf("GET file: status %d, %d bytes (want %d)", resp.StatusCode, len(body), len(data))
	}
	if got := resp.Header.Get("Content-Type"); got != "image/jpeg" {
		t.Errorf("Content-Type %q", got)
	}
	if got := resp.Header.Get("Cache-Control"); !strings.HasPrefix(got, "private") {
		t.Errorf("private channel media Cache-Control %q", got)
	}

	resp, body = e.do("GET", "/"+privateChan+"/"+m.ID+"/metadata", carol, nil, nil)
	var meta mediaJSON
	if resp.StatusCode != 200 || json.Unmarshal(body, &meta) != nil || meta.ID != m.ID || meta.Title != m.Title {
		t.Fatalf("metadata: %d %s", resp.StatusCode, body)
	}

	resp, body = e.do("GET", "/"+privateChan, carol, nil, nil)
	var list []mediaJSON
	if resp.StatusCode != 200 || json.Unmarshal(body, &list) != nil || len(list) != 1 || list[0].ID != m.ID {
		t.Fatalf("list: %d %s", resp.StatusCode, body)
	}
}

func TestUploadFieldPrecedence(t *testing.T) {
	e := newEnv(t)
	body, ct := multipartBody(t,
		part{name: "data", file: []byte("hello"), fileName: "C:\\Users\\x\\notes.TXT", partType: "application/octet-stream"},
		part{name: "Content-Type", value: "text/plain"},
	)
	resp, b := e.do("POST", "/"+privateChan, alice, body, http.Header{"Content-Type": {ct}})
	var m mediaJSON
	json.Unmarshal(b, &m)
	if resp.StatusCode != 201 || m.MimeType != "text/plain" || m.FileName != "notes.TXT" || m.FileExtension != "txt" {
		t.Fatalf("status %d, %+v", resp.StatusCode, m)
	}
	// Only the part's own type given: it is used.
	body, ct = multipartBody(t, part{name: "data", file: []byte("x"), partType: "audio/mpeg", fileName: "a.mp3"}, part{name: "filename", value: "song.mp3"})
	resp, b = e.do("POST", "/"+privateChan, alice, body, http.Header{"Content-Type": {ct}})
	json.Unmarshal(b, &m)
	if resp.StatusCode != 201 || m.MimeType != "audio/mpeg" || m.FileName != "song.mp3" {
		t.Fatalf("status %d, %+v", resp.StatusCode, m)
	}
}

func TestUploadBase64Form(t *testing.T) {
	e := newEnv(t)
	data := []byte{0xfb, 0xff, 0xfe, 0x00, 0x3e, 0x3f, 'h', 'i', 0xfa} // has + / in std, - _ in URL-safe
	std := base64.StdEncoding.EncodeToString(data)
	urlsafe := base64.URLEncoding.EncodeToString(data)
	mixed := strings.Replace(std, "+", "-", 1)
	for _, tc := range []struct {
		name, encoded string
		rawPlus       bool // send + unencoded (becomes a space in form decoding)
	}{
		{"standard", std, false},
		{"url-safe", urlsafe, false},
		{"no padding", strings.TrimRight(urlsafe, "="), false},
		{"mixed alphabets", mixed, false},
		{"unencoded plus", std, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := url.Values{"data": {tc.encoded}, "content-type": {"application/octet-stream"}, "filename": {"x.bin"}}
			form := v.Encode()
			if tc.rawPlus {
				form = strings.ReplaceAll(form, "%2B", "+")
			}
			resp, b := e.do("POST", "/"+privateChan, alice, strings.NewReader(form),
				http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
			var m mediaJSON
			if resp.StatusCode != 201 || json.Unmarshal(b, &m) != nil {
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
			resp, got := e.do("GET", "/"+privateChan+"/"+m.ID, alice, nil, nil)
			if !bytes.Equal(got, data) {
				t.Fatalf("stored %x, want %x (status %d)", got, data, resp.StatusCode)
			}
		})
	}
}

func TestUploadBadBodies(t *testing.T) {
	small := func(c *Config) { c.MaxUploadBytes = 64 << 10 }
	e := newEnv(t, small)
	formHeader := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	mp := func(parts ...part) (string, http.Header) {
		body, ct := multipartBody(t, parts...)
		b, _ := io.ReadAll(body)
		return string(b), http.Header{"Content-Type": {ct}}
	}
	big := bytes.Repeat([]byte("x"), 64<<10+1)
	for _, tc := range []struct {
		name   string
		body   string
		header http.Header
		want   int
	}{
		{"bad base64", "content-type=image%2Fpng&data=%21%21%21notbase64", formHeader, 400},
		{"missing data (form)", "content-type=image%2Fpng", formHeader, 400},
		{"missing content-type (form)", "data=aGVsbG8", formHeader, 400},
		{"bad percent-encoding", "content-type=text%2Fplain&data=aGV%ZZ", formHeader, 400},
		{"missing data (multipart)", func() string { b, _ := mp(part{name: "content-type", value: "text/plain"}); return b }(), func() http.Header { _, h := mp(); return h }(), 400},
		{"not a form", "hello", http.Header{"Content-Type": {"text/plain"}}, 415},
		{"no content type", "hello", http.Header{}, 415},
		{"malformed multipart", "--xyz\r\nbroken", http.Header{"Content-Type": {"multipart/form-data; boundary=xyz"}}, 400},
		{"bad media type", func() string {
			b, _ := mp(part{name: "data", file: []byte("x")}, part{name: "content-type", value: "not a type"})
			return b
		}(), nil, 400},
		{"declared content-length over limit", func() string {
			b, _ := mp(part{name: "content-length", value: "999999999"}, part{name: "content-type", value: "text/plain"}, part{name: "data", file: []byte("x")})
			return b
		}(), nil, 413},
		{"oversized file (multipart)", func() string {
			b, _ := mp(part{name: "content-type", value: "text/plain"}, part{name: "data", file: big})
			return b
		}(), nil, 413},
		{"oversized file (base64)", "content-type=text%2Fplain&data=" + base64.RawURLEncoding.EncodeToString(big), formHeader, 413},
		{"title not UTF-8", func() string {
			b, _ := mp(part{name: "content-type", value: "text/plain"}, part{name: "title", value: "\xff\xfe"}, part{name: "data", file: []byte("x")})
			return b
		}(), nil, 400},
		{"corrupt image", func() string {
			b, _ := mp(part{name: "content-type", value: "image/jpeg"}, part{name: "data", file: []byte("\xff\xd8\xff\xe0garbage that is no jpeg")})
			return b
		}(), nil, 422},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.header
			if h == nil {
				// multipart built above: recover the boundary from the body
				boundary := strings.TrimPrefix(strings.SplitN(tc.body, "\r\n", 2)[0], "--")
				h = http.Header{"Content-Type": {"multipart/form-data; boundary=" + boundary}}
			}
			before := len(e.blobFiles())
			resp, b := e.do("POST", "/"+privateChan, alice, strings.NewReader(tc.body), h)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.want, b)
			}
			var body map[string]string
			if json.Unmarshal(b, &body) != nil || body["error"] == "" {
				t.Errorf("error body is not {\"error\": ...}: %s", b)
			}
			if after := len(e.blobFiles()); after != before {
				t.Errorf("a failed upload left %d files behind", after-before)
			}
		})
	}
	resp, b := e.do("GET", "/"+privateChan, alice, nil, nil)
	if resp.StatusCode != 200 || strings.TrimSpace(string(b)) != "[]" {
		t.Fatalf("failed uploads are listed: %s", b)
	}
}

func TestDecompressionBombRefused(t *testing.T) {
	e := newEnv(t)
	// A valid PNG header claiming 100000 x 100000 pixels, with no real data.
	bomb := pngHeaderOnly(100000, 100000)
	status, _ := e.upload("/"+privateChan, alice, bomb, "image/png")
	if status != http.StatusRequestEntityTooLarge {
		t.Fatalf("bomb upload status %d, want 413", status)
	}
	if n := len(e.blobFiles()); n != 0 {
		t.Fatalf("bomb left %d files", n)
	}
}

// pngHeaderOnly is a PNG signature and IHDR chunk claiming w x h.
func pngHeaderOnly(w, h uint32) []byte {
	ihdr := []byte{
		byte(w >> 24), byte(w >> 16), byte(w >> 8), byte(w),
		byte(h >> 24), byte(h >> 16), byte(h >> 8), byte(h),
		8, 6, 0, 0, 0,
	}
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	b.Write([]byte{0, 0, 0, 13})
	chunk := append([]byte("IHDR"), ihdr...)
	b.Write(chunk)
	crc := crc32.ChecksumIEEE(chunk)
	b.Write([]byte{byte(crc >> 24), byte(crc >> 16), byte(crc >> 8), byte(crc)})
	return b.Bytes()
}

func TestUploadStreamingLimitWithoutContentLength(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxUploadBytes = 1 << 20 })
	pr, pw := io.Pipe()
	body, ct := multipartBody(t, part{name: "content-type", value: "application/octet-stream"}, part{name: "data", file: make([]byte, 4<<20)})
	go func() {
		io.Copy(pw, body)
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", e.url("/"+privateChan), pr) // chunked: no Content-Length
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Authorization", "Basic "+cred(alice))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Fatalf("status %d, want 413", resp.StatusCode)
	}
	if n := len(e.blobFiles()); n != 0 {
		t.Fatalf("partial data kept: %d files", n)
	}
}
