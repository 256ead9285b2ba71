package mediasvc_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xmppmedia/mediaserver/auth"
	"github.com/xmppmedia/mediaserver/auth/localxmpp"
	"github.com/xmppmedia/mediaserver/auth/xmppauth"
	"github.com/xmppmedia/mediaserver/auth/xmppclient"
	"github.com/xmppmedia/mediaserver/mediasvc"
	"github.com/xmppmedia/mediaserver/storage/disk"
	"github.com/xmppmedia/mediaserver/storage/sqlite"
	"github.com/xmppmedia/mediaserver/transform"
	"mellium.im/xmpp/jid"
)

// The whole stack over real HTTP: the media API in front of the real
// XMPP component, a real Prosody with its pubsub channel server, and real
// users logged in over c2s who confirm what they asked for.
type xmppEnv struct {
	t testing.TB
	// srv is the Prosody of newXMPPEnv; nil on another XMPP server.
	srv *localxmpp.Server
	// accounts is the XMPP server the users log in to.
	accounts accounts
	comp     *xmppauth.Component
	http     *httptest.Server
	// outage, when switched on, makes the channel server unreachable
	// while XMPP itself stays up.
	outage *outageChannels

	mu    sync.Mutex
	users map[string]*xmppUser
	tid   int
}

type xmppUser struct {
	local  string
	client *xmppclient.Client
	mu     sync.Mutex
	asked  []auth.ConfirmRequest
	answer xmppclient.Answer
	// decide, when set, answers instead of answer.
	decide func(auth.ConfirmRequest) xmppclient.Answer
}

func (u *xmppUser) onConfirm(req auth.ConfirmRequest) xmppclient.Answer {
	u.mu.Lock()
	u.asked = append(u.asked, req)
	decide := u.decide
	u.mu.Unlock()
	if decide != nil {
		return decide(req)
	}
	return u.answer
}

func (u *xmppUser) askedCount() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.asked)
}

func (u *xmppUser) lastAsked() auth.ConfirmRequest {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.asked) == 0 {
		return auth.ConfirmRequest{}
	}
	return u.asked[len(u.asked)-1]
}

func (u *xmppUser) bare() jid.JID { return u.client.JID().Bare() }

// newXMPPEnv starts Prosody, the component and the media API; configure,
// when given, changes the API's default configuration.
func newXMPPEnv(t testing.TB, channelTTL time.Duration, configure ...func(*mediasvc.Config)) *xmppEnv {
	srv, err := localxmpp.Start(context.Background(), localxmpp.Options{})
	if err != nil {
		t.Fatalf("start Prosody: %v", err)
	}
	t.Cleanup(srv.Stop)
	e := newMediaEnv(t, xmppauth.Config{
		ComponentJID: srv.ComponentJID().String(),
		Secret:       srv.ComponentSecret(),
		ServerAddr:   srv.ComponentAddr(),
		// Found by discovery, as in a default configuration.
		ReplyTimeout: 10 * time.Second,
	}, srv, channelTTL, configure...)
	e.srv = srv
	return e
}

// accounts is an XMPP server on which users can be made and log in:
// Prosody (localxmpp) or ejabberd (ejabberdtest).
type accounts interface {
	Register(ctx context.Context, localpart, password string) error
	C2SAddr() string
	UserJID(localpart string) jid.JID
}

// newMediaEnv connects the media server's component with compCfg and
// serves the media API in front of it, for users of accounts.
func newMediaEnv(t testing.TB, compCfg xmppauth.Config, accounts accounts, channelTTL time.Duration, configure ...func(*mediasvc.Config)) *xmppEnv {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	comp, err := xmppauth.New(compCfg, log)
	if err != nil {
		t.Fatal(err)
	}
	runDone := make(chan struct{})
	go func() { defer close(runDone); _ = comp.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-runDone })
	wctx, wcancel := context.WithTimeout(ctx, 15*time.Second)
	defer wcancel()
	if err := comp.WaitConnected(wctx); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	blobs, err := disk.New(disk.Config{Root: filepath.Join(dir, "media")})
	if err != nil {
		t.Fatal(err)
	}
	meta, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(dir, "media.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { meta.Close() })
	images, err := transform.New(transform.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	// As the server is wired in production: both caches in front of the
	// component. The matrix uses a channel ttl of 0 because it re-creates
	// channels with other access models.
	outage := &outageChannels{next: comp}
	guard := &auth.Guard{
		Channels:  auth.NewChannelCache(outage, channelTTL),
		Confirmer: auth.NewConfirmCache(comp, time.Minute),
	}
	cfg := mediasvc.DefaultConfig()
	for _, f := range configure {
		f(&cfg)
	}
	svc, err := mediasvc.New(cfg, mediasvc.Deps{Blobs: blobs, Metadata: meta, Images: images, Auth: guard, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(svc.Handler())
	t.Cleanup(hs.Close)
	return &xmppEnv{t: t, accounts: accounts, comp: comp, http: hs, outage: outage, users: map[string]*xmppUser{}}
}

// user registers and logs in local, who answers every confirmation with answer.
func (e *xmppEnv) user(local string, answer xmppclient.Answer) *xmppUser {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.accounts.Register(ctx, local, local+"-pw"); err != nil {
		e.t.Fatal(err)
	}
	u := &xmppUser{local: local, answer: answer}
	e.login(ctx, u)
	e.mu.Lock()
	e.users[local] = u
	e.mu.Unlock()
	return u
}

func (e *xmppEnv) login(ctx context.Context, u *xmppUser) error {
	c, err := xmppclient.Dial(ctx, xmppclient.Config{Addr: e.accounts.C2SAddr(), JID: e.accounts.UserJID(u.local), Password: u.local + "-pw"}, u.onConfirm)
	if err != nil {
		return err
	}
	u.client = c
	e.t.Cleanup(func() { c.Close() })
	return nil
}

// newTID is a transaction id not used before, so every request is a new
// confirmation unless a test reuses one on purpose.
func (e *xmppEnv) newTID() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.tid++
	return fmt.Sprintf("tx%d", e.tid)
}

// request sends method path as u (nil: no credentials) with transaction
// id tid and returns status, headers and body.
func (e *xmppEnv) request(method, path string, u *xmppUser, tid string, body io.Reader, contentType string) (int, http.Header, []byte) {
	e.t.Helper()
	return e.requestWith(method, path, u, tid, body, contentType, nil)
}

// requestWith is request with extra headers.
func (e *xmppEnv) requestWith(method, path string, u *xmppUser, tid string, body io.Reader, contentType string, header http.Header) (int, http.Header, []byte) {
	e.t.Helper()
	return e.requestVia(e.t, http.DefaultClient, method, path, u, tid, body, contentType, header)
}

// requestVia is requestWith through client (from a network address of
// the test's choice, see clientFrom), failing t on a transport error.
func (e *xmppEnv) requestVia(t testing.TB, client *http.Client, method, path string, u *xmppUser, tid string, body io.Reader, contentType string, header http.Header) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, e.http.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if u != nil {
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(u.client.JID().String()+":"+tid)))
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func tinyPNG(t testing.TB) []byte { return pngOf(t, 8, 6) }

// pngOf is a w×h PNG (w, h ≥ 2), grey with a red pixel; tests tell
// avatars apart by their size.
func pngOf(t testing.TB, w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = 0x80
	}
	img.Set(1, 1, color.RGBA{255, 0, 0, 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func multipartUpload(t testing.TB, data []byte, contentType string) (io.Reader, string) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	w, err := mw.CreateFormFile("data", "file")
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	mw.WriteField("content-type", contentType)
	mw.Close()
	return &b, mw.FormDataContentType()
}

// upload stores a text item in entity as u and returns its id.
func (e *xmppEnv) upload(entity string, u *xmppUser) string {
	e.t.Helper()
	return e.uploadFile(entity, u, []byte("hello "+entity), "text/plain")
}

// uploadFile stores data of type contentType in entity as u and returns its id.
func (e *xmppEnv) uploadFile(entity string, u *xmppUser, data []byte, contentType string) string {
	e.t.Helper()
	body, ct := multipartUpload(e.t, data, contentType)
	status, _, b := e.request(http.MethodPost, "/"+entity, u, e.newTID(), body, ct)
	if status != http.StatusCreated {
		e.t.Fatalf("seed upload to %s as %s: %d %s", entity, u.local, status, b)
	}
	var m struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &m); err != nil || m.ID == "" {
		e.t.Fatalf("seed upload answer %s: %v", b, err)
	}
	return m.ID
}

// The decision matrix of API.md over HTTP: owner, moderator, publisher,
// member, none, outcast and the channel's own user × read (file, list,
// HEAD, Range, conditional GET, metadata, preview), upload, avatar (set,
// read, delete), update, delete × open and whitelist channels.
// Refused reads show nothing of the item, refused writes change nothing
// (as TestNoPrivateReadsForOutsiders and TestNoChangesByOutsiders check
// in-process).
func TestXMPPMatrixOverHTTP(t *testing.T) {
	e := newXMPPEnv(t, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	type role struct {
		name string
		aff  auth.Affiliation
		self bool
	}
	roles := []role{
		{"owner", auth.AffOwner, false}, {"moderator", auth.AffModerator, false},
		{"publisher", auth.AffPublisher, false}, {"member", auth.AffMember, false},
		{"none", "", false}, {"outcast", auth.AffOutcast, false}, {"self", "", true},
	}
	// What each kind of user expects; update and delete are of an item
	// someone else (the seeder, an owner) uploaded.
	type row struct{ read, upload, avatar, update, delete int }
	const ok, created, forbidden = http.StatusOK, http.StatusCreated, http.StatusForbidden
	want := map[string]map[string]row{
		"whitelist": {
			"owner":     {ok, created, created, ok, ok},
			"moderator": {ok, created, created, ok, ok},
			"publisher": {ok, created, created, forbidden, forbidden},
			"member":    {ok, forbidden, forbidden, forbidden, forbidden},
			"none":      {forbidden, forbidden, forbidden, forbidden, forbidden},
			"outcast":   {forbidden, forbidden, forbidden, forbidden, forbidden},
			"self":      {ok, created, created, ok, ok},
		},
		"open": {
			"owner":     {ok, created, created, ok, ok},
			"moderator": {ok, created, created, ok, ok},
			"publisher": {ok, created, created, forbidden, forbidden},
			"member":    {ok, forbidden, forbidden, forbidden, forbidden},
			"none":      {ok, forbidden, forbidden, forbidden, forbidden},
			"outcast":   {ok, forbidden, forbidden, forbidden, forbidden},
			"self":      {ok, created, created, ok, ok},
		},
	}
	seeder := e.user("seeder", xmppclient.Accept)
	// The auditor, a member, reads back what refused writes left (with one
	// auth value per channel, remembered, so it is asked once).
	auditor := e.user("auditor", xmppclient.Accept)
	auditTID := map[string]string{}
	users := map[string]*xmppUser{}
	for _, r := range roles {
		users[r.name] = e.user("http-"+r.name, xmppclient.Accept)
	}
	avatar := tinyPNG(t)

	for _, model := range []string{"open", "whitelist"} {
		channel := "http-" + model + "@localhost"
		affs := map[string]auth.Affiliation{seeder.bare().String(): auth.AffOwner, auditor.bare().String(): auth.AffMember}
		auditTID[channel] = e.newTID()
		for _, r := range roles {
			if r.aff != "" {
				affs[users[r.name].bare().String()] = r.aff
			}
		}
		if err := e.srv.CreateChannel(ctx, jid.MustParse(channel), model, affs); err != nil {
			t.Fatal(err)
		}
		// The self user's own channel has the same access model; the
		// seeder is an owner there too, so it can put an item in it.
		if err := e.srv.CreateChannel(ctx, users["self"].bare(), model, map[string]auth.Affiliation{seeder.bare().String(): auth.AffOwner}); err != nil {
			t.Fatal(err)
		}
		// A photo in each, for previews and conditional GETs (one each: the
		// seeder's questions are rate-limited like anyone's).
		type stored struct{ id, etag string }
		photos := map[string]stored{}
		for _, entity := range []string{channel, users["self"].bare().String()} {
			id := e.uploadFile(entity, seeder, avatar, "image/png")
			status, h, b := e.request(http.MethodGet, "/"+entity+"/"+id, seeder, e.newTID(), nil, "")
			if status != ok || h.Get("ETag") == "" {
				t.Fatalf("seeder's read of the photo in %s: %d, ETag %q (%s)", entity, status, h.Get("ETag"), b)
			}
			photos[entity] = stored{id, h.Get("ETag")}
		}
		for _, r := range roles {
			u := users[r.name]
			entity := channel
			if r.self {
				entity = u.bare().String()
			}
			w := want[model][r.name]
			check := func(t *testing.T, op string, status, wantStatus int, body []byte, before int) {
				t.Helper()
				if status != wantStatus {
					t.Errorf("%s %s %s in the %s channel: status %d, want %d (%s)", r.name, op, entity, model, status, wantStatus, body)
				}
				asked := u.askedCount() - before
				public := model == "open" && op == "read"
				switch {
				case wantStatus == forbidden || public:
					if asked != 0 {
						t.Errorf("%s %s: user asked to confirm %d times, want 0", r.name, op, asked)
					}
				default:
					if asked != 1 {
						t.Errorf("%s %s: user asked to confirm %d times, want 1", r.name, op, asked)
					}
				}
			}
			t.Run(fmt.Sprintf("%s/%s", model, r.name), func(t *testing.T) {
				item := e.upload(entity, seeder)
				// One auth value for the whole row: a confirmed read must
				// not stand in for the writes that follow with the same
				// value (each write is asked about, once, and refused
				// writes not at all).
				tid := e.newTID()

				before := u.askedCount()
				status, _, b := e.request(http.MethodGet, "/"+entity+"/"+item, u, tid, nil, "")
				check(t, "read", status, w.read, b, before)

				// Every other read is answered as that one, and the
				// confirmation it got (same auth value, same channel)
				// covers them: nobody is asked again. A refused user
				// learns nothing, not even that the version is current.
				photo := photos[entity]
				before = u.askedCount()
				for _, rd := range []struct {
					name, method, path string
					header             http.Header
					allowed            int
				}{
					{"list", http.MethodGet, "/" + entity, nil, ok},
					{"HEAD", http.MethodHead, "/" + entity + "/" + item, nil, ok},
					{"Range", http.MethodGet, "/" + entity + "/" + item, http.Header{"Range": {"bytes=0-2"}}, http.StatusPartialContent},
					{"conditional GET", http.MethodGet, "/" + entity + "/" + photo.id, http.Header{"If-None-Match": {photo.etag}}, http.StatusNotModified},
					{"metadata", http.MethodGet, "/" + entity + "/" + item + "/metadata", nil, ok},
					{"preview", http.MethodGet, "/" + entity + "/" + photo.id + "?maxwidth=4", nil, ok},
				} {
					wantStatus := rd.allowed
					if w.read == forbidden {
						wantStatus = forbidden
					}
					status, h, b := e.requestWith(rd.method, rd.path, u, tid, nil, "", rd.header)
					if status != wantStatus {
						t.Errorf("%s %s of %s in the %s channel: status %d, want %d (%s)", r.name, rd.name, entity, model, status, wantStatus, b)
					}
					if status == forbidden {
						// A refusal tells nothing of the item: no validator,
						// no size, no name, none of its bytes.
						for _, k := range []string{"ETag", "Last-Modified", "Content-Range", "Content-Disposition"} {
							if v := h.Get(k); v != "" {
								t.Errorf("%s %s refused with %s: %q", r.name, rd.name, k, v)
							}
						}
						if bytes.Contains(b, []byte("hello ")) || bytes.Contains(b, []byte(item)) {
							t.Errorf("%s %s refused with a body that shows the item: %s", r.name, rd.name, b)
						}
					}
				}
				if asked := u.askedCount() - before; asked != 0 {
					t.Errorf("%s: asked to confirm %d more times for the other reads, want 0", r.name, asked)
				}

				before = u.askedCount()
				body, ct := multipartUpload(t, []byte("by "+r.name), "text/plain")
				status, _, b = e.request(http.MethodPost, "/"+entity, u, tid, body, ct)
				check(t, "upload", status, w.upload, b, before)
				if status == created {
					// The confirmation named the real method and this URL.
					if got := u.lastAsked(); got.Method != http.MethodPost || !strings.HasSuffix(got.URL, "/"+entity) {
						t.Errorf("upload confirmation asked %s %s, want POST .../%s", got.Method, got.URL, entity)
					}
				}

				before = u.askedCount()
				body, ct = multipartUpload(t, avatar, "image/png")
				status, _, b = e.request(http.MethodPut, "/"+entity+"/avatar", u, tid, body, ct)
				check(t, "avatar", status, w.avatar, b, before)
				if status == created {
					// Avatars are public (AvatarsPublic, the default).
					before = u.askedCount()
					status, _, b := e.request(http.MethodGet, "/"+entity+"/avatar", u, tid, nil, "")
					if cfg, _, err := image.DecodeConfig(bytes.NewReader(b)); status != ok || err != nil || cfg.Width != 6 || cfg.Height != 6 {
						t.Errorf("%s avatar read of %s: status %d, %v %dx%d; want 200 and the 6x6 square of the PNG just set", r.name, entity, status, err, cfg.Width, cfg.Height)
					}
					if asked := u.askedCount() - before; asked != 0 {
						t.Errorf("%s avatar read: asked to confirm %d times, want 0", r.name, asked)
					}
				}
				// Deleting the avatar is a delete of what they uploaded:
				// allowed to whoever could set it, asked about once.
				wantDelete := forbidden
				if w.avatar == created {
					wantDelete = ok
				}
				before = u.askedCount()
				status, _, b = e.request(http.MethodDelete, "/"+entity+"/avatar", u, tid, nil, "")
				check(t, "avatar delete", status, wantDelete, b, before)

				before = u.askedCount()
				form := url.Values{"title": {"changed by " + r.name}}.Encode()
				status, _, b = e.request(http.MethodPost, "/"+entity+"/"+item, u, tid, strings.NewReader(form), "application/x-www-form-urlencoded")
				check(t, "update", status, w.update, b, before)

				before = u.askedCount()
				status, _, b = e.request(http.MethodDelete, "/"+entity+"/"+item, u, tid, nil, "")
				check(t, "delete", status, w.delete, b, before)
				if status == ok {
					if got := u.lastAsked(); got.Method != http.MethodDelete {
						t.Errorf("delete confirmation asked method %q, want DELETE", got.Method)
					}
				}
				if w.update == forbidden && w.delete == forbidden && !r.self {
					// Refused writes changed nothing: the item is there,
					// with its title and its bytes.
					status, _, b := e.request(http.MethodGet, "/"+entity+"/"+item+"/metadata", auditor, auditTID[channel], nil, "")
					var m struct {
						Title string `json:"title"`
					}
					if status != ok || json.Unmarshal(b, &m) != nil || m.Title != "" {
						t.Errorf("after %s's refused writes, the item's metadata: %d %s; want 200, title unchanged (none)", r.name, status, b)
					}
					if status, _, b := e.request(http.MethodGet, "/"+entity+"/"+item, auditor, auditTID[channel], nil, ""); status != ok || string(b) != "hello "+entity {
						t.Errorf("after %s's refused writes, the item: %d %q; want 200 and its bytes", r.name, status, b)
					}
				}
			})
		}
		t.Run(model+"/anonymous", func(t *testing.T) {
			item := e.upload(channel, seeder)
			status, h, b := e.request(http.MethodGet, "/"+channel+"/"+item, nil, "", nil, "")
			wantStatus := ok
			if model != "open" {
				wantStatus = http.StatusUnauthorized
			}
			if status != wantStatus {
				t.Errorf("anonymous read: %d, want %d (%s)", status, wantStatus, b)
			}
			if status == http.StatusUnauthorized && !strings.Contains(h.Get("WWW-Authenticate"), "Basic") {
				t.Errorf("401 without a Basic challenge: %q", h.Get("WWW-Authenticate"))
			}
		})
	}

	// A publisher may change and delete what they uploaded themselves.
	t.Run("whitelist/publisher's own item", func(t *testing.T) {
		channel := "http-whitelist@localhost"
		pub := users["publisher"]
		item := e.upload(channel, pub)
		form := url.Values{"title": {"mine"}}.Encode()
		if status, _, b := e.request(http.MethodPost, "/"+channel+"/"+item, pub, e.newTID(), strings.NewReader(form), "application/x-www-form-urlencoded"); status != ok {
			t.Errorf("update own item: %d %s", status, b)
		}
		if status, _, b := e.request(http.MethodDelete, "/"+channel+"/"+item, pub, e.newTID(), nil, ""); status != ok {
			t.Errorf("delete own item: %d %s", status, b)
		}
	})
}

// Uploads whose confirmation a real user's client leaves unanswered (anyone
// can send them, naming any publisher) hold no upload slot: with every slot
// "taken" by them, a confirmed owner's upload is still answered 201.
func TestXMPPUnconfirmedUploadsHoldNoSlotsOverHTTP(t *testing.T) {
	const slots = 2
	e := newXMPPEnv(t, 0, func(c *mediasvc.Config) { c.MaxConcurrentUploads = slots })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	silent := e.user("silent-publisher", xmppclient.Ignore)
	owner := e.user("busy-owner", xmppclient.Accept)
	channel := "slots@localhost"
	if err := e.srv.CreateChannel(ctx, jid.MustParse(channel), "whitelist", map[string]auth.Affiliation{
		owner.bare().String(): auth.AffOwner, silent.bare().String(): auth.AffPublisher,
	}); err != nil {
		t.Fatal(err)
	}
	post := func(u *xmppUser) chan int {
		done := make(chan int, 1)
		tid := e.newTID()
		go func() {
			body, ct := multipartUpload(t, []byte("x"), "text/plain")
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.http.URL+"/"+channel, body)
			if err != nil {
				done <- 0
				return
			}
			req.Header.Set("Content-Type", ct)
			req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(u.client.JID().String()+":"+tid)))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				done <- 0
				return
			}
			resp.Body.Close()
			done <- resp.StatusCode
		}()
		return done
	}
	// More unconfirmed uploads than slots, each waiting on its question
	// (the component waits 10 s for the answer that never comes).
	for i := 0; i < slots+2; i++ {
		c := post(silent)
		for deadline := time.Now().Add(10 * time.Second); silent.askedCount() < i+1; time.Sleep(10 * time.Millisecond) {
			select {
			case status := <-c:
				t.Fatalf("unconfirmed upload %d answered %d before its confirmation", i+1, status)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("unconfirmed upload %d: its user was not asked within 10 s", i+1)
			}
		}
	}
	select {
	case status := <-post(owner):
		if status != http.StatusCreated {
			t.Errorf("a confirmed upload while %d unconfirmed ones wait: %d, want 201", slots+2, status)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the confirmed upload was not answered within 10 s")
	}
}

// Deny, silence and someone else's forged accept, over HTTP.
func TestXMPPConfirmationOutcomesOverHTTP(t *testing.T) {
	e := newXMPPEnv(t, time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	owner := e.user("deny-owner", xmppclient.Accept)
	denier := e.user("denier", xmppclient.Deny)
	channel := "outcomes@localhost"
	if err := e.srv.CreateChannel(ctx, jid.MustParse(channel), "whitelist", map[string]auth.Affiliation{
		owner.bare().String(): auth.AffOwner, denier.bare().String(): auth.AffOwner,
	}); err != nil {
		t.Fatal(err)
	}
	item := e.upload(channel, owner)

	if status, _, b := e.request(http.MethodGet, "/"+channel+"/"+item, denier, e.newTID(), nil, ""); status != http.StatusForbidden {
		t.Errorf("read by an owner who denies: %d, want 403 (%s)", status, b)
	}

	// Thirty thumbnails of one page, one auth value: one confirmation.
	tid := e.newTID()
	var wg sync.WaitGroup
	statuses := make(chan int, 30)
	before := owner.askedCount()
	for i := 0; i < 30; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, _, _ := e.request(http.MethodGet, "/"+channel+"/"+item+"?maxwidth=64", owner, tid, nil, "")
			statuses <- status
		}()
	}
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != http.StatusOK && s != http.StatusPreconditionFailed { // a text item has no preview
			t.Errorf("thumbnail request: %d", s)
		}
	}
	if got := owner.askedCount() - before; got != 1 {
		t.Errorf("30 requests with one auth value cost %d confirmations, want 1", got)
	}
}

// The XMPP server stops: requests that need XMPP get 503 with
// Retry-After while public reads of a channel seen recently keep working,
// and after it comes back the same media server answers again within
// 30 s.
func TestXMPPServerRestartOverHTTP(t *testing.T) {
	e := newXMPPEnv(t, 100*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	owner := e.user("restart-owner", xmppclient.Accept)
	private, open := "restart@localhost", "restart-open@localhost"
	for _, c := range []struct{ entity, model string }{{private, "whitelist"}, {open, "open"}} {
		if err := e.srv.CreateChannel(ctx, jid.MustParse(c.entity), c.model, map[string]auth.Affiliation{owner.bare().String(): auth.AffOwner}); err != nil {
			t.Fatal(err)
		}
	}
	item, openItem := e.upload(private, owner), e.upload(open, owner)
	if status, _, b := e.request(http.MethodGet, "/"+open+"/"+openItem, nil, "", nil, ""); status != http.StatusOK {
		t.Fatalf("public read: %d %s", status, b)
	}

	e.srv.StopProcess()
	for deadline := time.Now().Add(5 * time.Second); e.comp.Connected() && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // past the channel ttl: only a stale answer is left
	status, h, b := e.request(http.MethodGet, "/"+private+"/"+item, owner, e.newTID(), nil, "")
	if status != http.StatusServiceUnavailable || h.Get("Retry-After") == "" {
		t.Errorf("private read while XMPP is down: %d Retry-After=%q (%s), want 503 with Retry-After", status, h.Get("Retry-After"), b)
	}
	body, ct := multipartUpload(t, []byte("x"), "text/plain")
	if status, h, b := e.request(http.MethodPost, "/"+open, owner, e.newTID(), body, ct); status != http.StatusServiceUnavailable || h.Get("Retry-After") == "" {
		t.Errorf("upload while XMPP is down: %d Retry-After=%q (%s), want 503 with Retry-After", status, h.Get("Retry-After"), b)
	}
	if status, _, b := e.request(http.MethodGet, "/"+open+"/"+openItem, nil, "", nil, ""); status != http.StatusOK {
		t.Errorf("public read while XMPP is down: %d (%s), want 200", status, b)
	}

	if err := e.srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	for {
		// The user's own client lost its session too: log in again.
		if err := e.login(ctx, owner); err == nil {
			status, _, b = e.request(http.MethodGet, "/"+private+"/"+item, owner, e.newTID(), nil, "")
			if status == http.StatusOK {
				break
			}
		}
		if time.Since(restarted) > 30*time.Second {
			t.Fatalf("no 200 within 30 s of the XMPP server's restart; last %d %s", status, b)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("private reads work again %s after the XMPP server restarted", time.Since(restarted).Round(time.Millisecond))
}

// Reads with the production cache settings (confirm_cache_ttl 5m,
// permission_cache_ttl 60s): a private-channel read whose confirmation is
// remembered beside the same read on an open channel, with requests per
// second and p99 latency; and, for scale, one XEP-0070 round trip through
// Prosody to a real client.
func BenchmarkXMPPReads(b *testing.B) {
	e := newXMPPEnv(b, 60*time.Second)
	ctx := context.Background()
	owner := e.user("bench-owner", xmppclient.Accept)
	private, open := "bench-private@localhost", "bench-open@localhost"
	for _, c := range []struct{ entity, model string }{{private, "whitelist"}, {open, "open"}} {
		if err := e.srv.CreateChannel(ctx, jid.MustParse(c.entity), c.model, map[string]auth.Affiliation{owner.bare().String(): auth.AffOwner}); err != nil {
			b.Fatal(err)
		}
	}
	privItem, openItem := e.upload(private, owner), e.upload(open, owner)
	tid := e.newTID()
	remembered := "Basic " + base64.StdEncoding.EncodeToString([]byte(owner.client.JID().String()+":"+tid))

	read := func(b *testing.B, path, authorization string) {
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
		defer client.CloseIdleConnections()
		var mu sync.Mutex
		var lat []time.Duration
		b.SetParallelism(8)
		b.ResetTimer()
		started := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			var mine []time.Duration
			for pb.Next() {
				req, _ := http.NewRequest(http.MethodGet, e.http.URL+path, nil)
				if authorization != "" {
					req.Header.Set("Authorization", authorization)
				}
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mine = append(mine, time.Since(t0))
				if resp.StatusCode != http.StatusOK {
					b.Errorf("GET %s: %d", path, resp.StatusCode)
					return
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
		elapsed := time.Since(started)
		b.StopTimer()
		if len(lat) == 0 {
			return
		}
		slices.Sort(lat)
		b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "req/s")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
	b.Run("private-remembered-confirmation", func(b *testing.B) {
		read(b, "/"+private+"/"+privItem, remembered)
		if n := owner.askedCount(); n > 1+2 { // the two seed uploads and one read confirmation
			b.Errorf("%d confirmations: the remembered one was not used", n)
		}
	})
	b.Run("open", func(b *testing.B) { read(b, "/"+open+"/"+openItem, "") })
	b.Run("xep0070-roundtrip", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			err := e.comp.Confirm(ctx, auth.ConfirmRequest{JID: owner.client.JID(), TransactionID: e.newTID(), Method: "GET", URL: "https://m/bench"})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}
