package mediasvc

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xmppmedia/mediaserver/auth"
	"github.com/xmppmedia/mediaserver/internal/authtest"
	"github.com/xmppmedia/mediaserver/storage"
	"github.com/xmppmedia/mediaserver/storage/disk"
	"github.com/xmppmedia/mediaserver/storage/sqlite"
	"github.com/xmppmedia/mediaserver/transform"
	"github.com/xmppmedia/mediaserver/transform/poster"
)

// Users and channels of the fixture, as the decision table sees them.
const (
	alice   = "alice@example.com" // owner of both channels
	bob     = "bob@example.com"   // publisher
	carol   = "carol@example.com" // member
	mallory = "mallory@example.com"
	dave    = "dave@example.com" // moderator

	privateChan = "alice@example.com"
	openChan    = "news@example.com"
)

// env is a Server over real disk and SQLite stores with in-process
// stand-ins for XMPP, behind a real HTTP server.
type env struct {
	t        testing.TB
	srv      *Server
	http     *httptest.Server
	root     string // blob store root
	dbPath   string
	channels *authtest.Channels
	confirm  *authtest.Confirmer
}

type envOption func(*Config)

func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{t: t, root: filepath.Join(dir, "media"), dbPath: filepath.Join(dir, "media.db")}
	e.channels, e.confirm = newFixtureAuth()
	cfg := DefaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	e.srv = e.newServer(cfg)
	e.http = httptestServer(t, e.srv)
	return e
}

func httptestServer(t testing.TB, srv *Server) *httptest.Server {
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return hs
}

var pageAll = storage.Page{Max: 1000}

// newFixtureAuth sets up the channels and accepted confirmations of the
// fixture users.
func newFixtureAuth() (*authtest.Channels, *authtest.Confirmer) {
	channels, confirm := &authtest.Channels{}, &authtest.Confirmer{}
	affs := map[string]auth.Affiliation{
		alice: auth.AffOwner, bob: auth.AffPublisher, carol: auth.AffMember,
		mallory: auth.AffOutcast, dave: auth.AffModerator,
	}
	channels.Set(privateChan, "whitelist", affs)
	channels.Set(openChan, "open", affs)
	for _, u := range []string{alice, bob, carol, mallory, dave} {
		confirm.Accept(u+"/phone", "tid-"+strings.Split(u, "@")[0])
	}
	return channels, confirm
}

// newServer builds a Server on the env's stores (a fresh process would).
func (e *env) newServer(cfg Config) *Server {
	e.t.Helper()
	blobs, err := disk.New(disk.Config{Root: e.root})
	if err != nil {
		e.t.Fatal(err)
	}
	meta, err := sqlite.Open(context.Background(), sqlite.Config{Path: e.dbPath})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { meta.Close() })
	tcfg := transform.DefaultConfig()
	tcfg.MaxPixels = 50_000_000
	images, err := transform.New(tcfg)
	if err != nil {
		e.t.Fatal(err)
	}
	posters, err := poster.New(poster.Config{MaxPixels: tcfg.MaxPixels})
	if err != nil {
		e.t.Fatal(err)
	}
	srv, err := New(cfg, Deps{
		Blobs: blobs, Metadata: meta, Images: images, Posters: posters,
		Auth: &auth.Guard{Channels: e.channels, Confirmer: e.confirm},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return srv
}

// cred is the auth query value for a fixture user (accepted confirmation).
func cred(user string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + "/phone:tid-" + strings.Split(user, "@")[0]))
}

func (e *env) url(path string) string { return e.http.URL + path }

// do sends a request; user "" sends no credentials. It returns the
// response with its body read.
func (e *env) do(method, path, user string, body io.Reader, header http.Header) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url(path), body)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if user != "" {
		req.Header.Set("Authorization", "Basic "+cred(user))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("read %s %s: %v", method, path, err)
	}
	return resp, b
}

type part struct {
	name, value string
	file        []byte // set for the data part
	fileName    string // Content-Disposition filename of the data part
	partType    string // the data part's own Content-Type
}

// multipartBody builds a body as the Android uploader sends it.
func multipartBody(t testing.TB, parts ...part) (io.Reader, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		if p.file == nil {
			mw.WriteField(p.name, p.value)
			continue
		}
		h := textproto.MIMEHeader{}
		disp := `form-data; name="` + p.name + `"`
		if p.fileName != "" {
			disp += `; filename="` + p.fileName + `"`
		}
		h.Set("Content-Disposition", disp)
		if p.partType != "" {
			h.Set("Content-Type", p.partType)
		}
		w, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(p.file)
	}
	mw.Close()
	return &buf, mw.FormDataContentType()
}

// upload posts a file as multipart and returns status and media JSON.
func (e *env) upload(path, user string, data []byte, contentType string, extra ...part) (int, mediaJSON) {
	e.t.Helper()
	parts := append([]part{{name: "data", file: data, fileName: "photo.jpg"}, {name: "content-type", value: contentType}}, extra...)
	body, ct := multipartBody(e.t, parts...)
	resp, b := e.do(http.MethodPost, path, user, body, http.Header{"Content-Type": {ct}})
	var m mediaJSON
	if resp.StatusCode == http.StatusCreated {
		if err := json.Unmarshal(b, &m); err != nil {
			e.t.Fatalf("upload answer is not media JSON: %v: %s", err, b)
		}
	}
	return resp.StatusCode, m
}

// mustUpload uploads and fails the test unless it is 201.
func (e *env) mustUpload(entity, user string, data []byte, contentType string) mediaJSON {
	e.t.Helper()
	status, m := e.upload("/"+entity, user, data, contentType)
	if status != http.StatusCreated {
		e.t.Fatalf("upload to %s as %s: status %d", entity, user, status)
	}
	return m
}

// blobFiles lists the files under the blob root (not temporaries).
func (e *env) blobFiles() []string {
	var out []string
	filepath.Walk(e.root, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// jpegImage makes a w x h JPEG with detail (a gradient and stripes).
func jpegImage(t testing.TB, w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), uint8((x / 8 % 2) * 200), 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func pngImage(t testing.TB, w, h int, alpha bool) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			a := uint8(255)
			if alpha {
				a = uint8(x * 255 / w)
			}
			img.Set(x, y, color.NRGBA{uint8(x), uint8(y), 100, a})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// decodeSize returns an image's dimensions.
func decodeSize(t testing.TB, b []byte) (string, int, int) {
	t.Helper()
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not an image (%d bytes): %v", len(b), err)
	}
	return format, cfg.Width, cfg.Height
}
