package mediasvc_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"io/fs"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xmppmedia/mediaserver/auth"
	"github.com/xmppmedia/mediaserver/auth/localxmpp"
	"github.com/xmppmedia/mediaserver/auth/xmppauth"
	"github.com/xmppmedia/mediaserver/auth/xmppclient"
	"github.com/xmppmedia/mediaserver/internal/authtest"
	"github.com/xmppmedia/mediaserver/mediasvc"
	"github.com/xmppmedia/mediaserver/mediasvc/httpupload"
	"github.com/xmppmedia/mediaserver/storage/disk"
	"github.com/xmppmedia/mediaserver/storage/sqlite"
	"github.com/xmppmedia/mediaserver/transform"
	"mellium.im/xmpp/jid"
)

// uploadStack is one XEP-0363 service as cmd/mediaserver wires it: the
// component registered with the XMPP server, the HTTP API with the slot
// routes, SQLite and a disk store.
type uploadStack struct {
	comp  *xmppauth.Component
	svc   *mediasvc.Server
	slots *httpupload.Service
	http  *httptest.Server
	blobs string // the disk store's root
}

func startUploadStack(t testing.TB, srv *localxmpp.Server, component string, cfg httpupload.Config) *uploadStack {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	st := &uploadStack{blobs: filepath.Join(dir, "media")}
	blobs, err := disk.New(disk.Config{Root: st.blobs})
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
	// The listener first: slot URLs name it.
	st.http = httptest.NewUnstartedServer(nil)
	st.slots, err = httpupload.New(ctx, cfg, httpupload.Deps{
		Ledger: meta, ComponentJID: jid.MustParse(component), BaseURL: "http://" + st.http.Listener.Addr().String(),
	})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	st.comp, err = xmppauth.New(xmppauth.Config{
		ComponentJID: component, Secret: srv.ComponentSecret(), ServerAddr: srv.ComponentAddr(),
		ReplyTimeout: 10 * time.Second,
	}, log)
	if err != nil {
		t.Fatal(err)
	}
	st.comp.SetSlotService(st.slots)
	// Channel permissions play no part in XEP-0363: a fixture refuses
	// every channel request, so any use of them would show.
	channels, confirmer := &authtest.Channels{}, &authtest.Confirmer{}
	st.svc, err = mediasvc.New(mediasvc.DefaultConfig(), mediasvc.Deps{
		Blobs: blobs, Metadata: meta, Images: images, Log: log, Slots: st.slots,
		Auth: &auth.Guard{Channels: channels, Confirmer: confirmer},
	})
	if err != nil {
		t.Fatal(err)
	}
	st.http.Config.Handler = st.svc.Handler()
	st.http.Start()
	t.Cleanup(st.http.Close)
	done := make(chan struct{})
	go func() { defer close(done); _ = st.comp.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	wctx, wcancel := context.WithTimeout(ctx, 15*time.Second)
	defer wcancel()
	if err := st.comp.WaitConnected(wctx); err != nil {
		t.Fatal(err)
	}
	return st
}

// files lists the blob files the store holds (no temporary ones).
func (st *uploadStack) files(t testing.TB) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(st.blobs, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// photoJPEG is a w x h JPEG of smooth colour under fine noise, which
// compresses about as badly as a phone photo (1200x1600: about 3 MB).
func photoJPEG(t testing.TB, w, h int, seed uint64) []byte {
	t.Helper()
	rng := mrand.New(mrand.NewPCG(seed, 1))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			n := uint8(rng.IntN(64))
			img.Set(x, y, color.RGBA{uint8(x*255/w) ^ n, uint8(y*255/h) ^ n, n * 3, 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 92}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func httpDo(t testing.TB, method, url string, body io.Reader, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// putSlot PUTs body to url with the given declared length (-1: chunked)
// and type, returning the status.
func putSlot(t testing.TB, url string, body []byte, length int64, contentType string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, url, io.NopCloser(bytes.NewReader(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = length
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("PUT: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// slotErr asserts err is a refused slot with this type and condition.
func slotErr(t testing.TB, err error, typ, condition string) *xmppclient.SlotError {
	t.Helper()
	var se *xmppclient.SlotError
	if !errors.As(err, &se) {
		t.Fatalf("want a %s/%s refusal, got %v", typ, condition, err)
	}
	if se.Type != typ || se.Condition != condition {
		t.Fatalf("refusal %s/%s, want %s/%s (%v)", se.Type, se.Condition, typ, condition, se)
	}
	return se
}

const (
	mainMax = 8 << 20
	// Quota service: small limits, a short slot life and retention.
	quotaTotal  = 3000
	quotaTTL    = 3 * time.Second
	quotaExpire = 4 * time.Second
)

// TestXEP0363 is XEP-0363 end to end with the real Prosody: discovery,
// our own client and slixmpp's uploading a photo and reading it and its
// 240x320 preview back, every refusal of a slot request and of a PUT,
// the domain rule, a quota, expiry and identical files.
func TestXEP0363(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	srv, err := localxmpp.Start(ctx, localxmpp.Options{ExtraComponents: []string{"foreign.localhost", "quota.localhost", "slow.localhost"}})
	if err != nil {
		t.Fatalf("start Prosody: %v", err)
	}
	t.Cleanup(srv.Stop)
	cfg := httpupload.DefaultConfig()
	cfg.MaxFileSize = mainMax
	main := startUploadStack(t, srv, srv.ComponentJID().String(), cfg)

	if err := srv.Register(ctx, "alice", "alice-pw"); err != nil {
		t.Fatal(err)
	}
	alice, err := xmppclient.Dial(ctx, xmppclient.Config{Addr: srv.C2SAddr(), JID: srv.UserJID("alice"), Password: "alice-pw"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { alice.Close() })

	// Before the other two components connect, the domain has one upload
	// service: discovery must find it with its limit.
	t.Run("discovery", func(t *testing.T) {
		svc, err := alice.FindUploadService(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if svc.JID.String() != srv.ComponentJID().String() || svc.MaxFileSize != mainMax {
			t.Fatalf("found %s (max %d), want %s (max %d)", svc.JID, svc.MaxFileSize, srv.ComponentJID(), mainMax)
		}
	})

	photo := photoJPEG(t, 1200, 1600, 1)
	var photoURL string
	t.Run("photo and its preview", func(t *testing.T) {
		slot, err := alice.RequestSlot(ctx, srv.ComponentJID(), "holiday photo.jpg", int64(len(photo)), "image/jpeg")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(slot.GetURL, main.http.URL+httpupload.PathPrefix) || strings.Contains(slot.GetURL, "?") {
			t.Fatalf("GET URL %q", slot.GetURL)
		}
		photoURL, err = slot.Upload(ctx, nil, bytes.NewReader(photo), int64(len(photo)), "image/jpeg")
		if err != nil {
			t.Fatal(err)
		}
		resp, body := httpDo(t, http.MethodGet, photoURL, nil, http.Header{"Origin": {"https://chat.example"}})
		if resp.StatusCode != http.StatusOK || !bytes.Equal(body, photo) {
			t.Fatalf("GET: %d, %d bytes (want the %d uploaded)", resp.StatusCode, len(body), len(photo))
		}
		if resp.Header.Get("Access-Control-Allow-Origin") != "https://chat.example" || resp.Header.Get("Content-Type") != "image/jpeg" {
			t.Fatalf("GET headers %v", resp.Header)
		}
		etag := resp.Header.Get("ETag")
		if resp, _ := httpDo(t, http.MethodGet, photoURL, nil, http.Header{"If-None-Match": {etag}}); resp.StatusCode != http.StatusNotModified {
			t.Fatalf("If-None-Match: %d", resp.StatusCode)
		}
		resp, body = httpDo(t, http.MethodGet, photoURL, nil, http.Header{"Range": {"bytes=100-199"}})
		if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, photo[100:200]) {
			t.Fatalf("Range: %d, %d bytes", resp.StatusCode, len(body))
		}
		resp, body = httpDo(t, http.MethodHead, photoURL, nil, nil)
		if resp.StatusCode != http.StatusOK || len(body) != 0 || resp.Header.Get("Content-Length") != strconv.Itoa(len(photo)) {
			t.Fatalf("HEAD: %d, Content-Length %s", resp.StatusCode, resp.Header.Get("Content-Length"))
		}
		resp, body = httpDo(t, http.MethodGet, photoURL+"?maxwidth=240&maxheight=320", nil, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("preview: %d %s", resp.StatusCode, body)
		}
		pc, _, err := image.DecodeConfig(bytes.NewReader(body))
		if err != nil || pc.Width != 240 || pc.Height != 320 {
			t.Fatalf("preview is %dx%d (%v), want 240x320", pc.Width, pc.Height, err)
		}
		// Made at upload: the stored preview files are there already.
		var previews int
		for _, f := range main.files(t) {
			if strings.Contains(filepath.Base(f), ".240x320") || strings.Contains(filepath.Base(f), ".320x240") {
				previews++
			}
		}
		if previews == 0 {
			t.Fatalf("no 240x320 preview stored at upload: %v", main.files(t))
		}
		// Another name, or another id, is not the file.
		wrong := strings.Replace(photoURL, "holiday", "work", 1)
		if resp, _ := httpDo(t, http.MethodGet, wrong, nil, nil); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("GET another name: %d", resp.StatusCode)
		}
	})

	t.Run("slixmpp", func(t *testing.T) {
		small := photoJPEG(t, 600, 800, 2)
		path := filepath.Join(t.TempDir(), "from slixmpp.jpg")
		if err := os.WriteFile(path, small, 0o600); err != nil {
			t.Fatal(err)
		}
		out := runSlixmpp(t, srv, path, "image/jpeg")
		resp, body := httpDo(t, http.MethodGet, out, nil, nil)
		if resp.StatusCode != http.StatusOK || !bytes.Equal(body, small) {
			t.Fatalf("GET %s: %d, %d bytes (want %d)", out, resp.StatusCode, len(body), len(small))
		}
		resp, body = httpDo(t, http.MethodGet, out+"?maxwidth=240&maxheight=320", nil, nil)
		if pc, _, err := image.DecodeConfig(bytes.NewReader(body)); resp.StatusCode != http.StatusOK || err != nil || pc.Width != 240 || pc.Height != 320 {
			t.Fatalf("preview: %d %dx%d %v", resp.StatusCode, pc.Width, pc.Height, err)
		}
		// slixmpp refuses a file over the announced max-file-size itself.
		big := filepath.Join(t.TempDir(), "big.bin")
		if err := os.WriteFile(big, make([]byte, mainMax+1), 0o600); err != nil {
			t.Fatal(err)
		}
		if got := runSlixmpp(t, srv, big, "application/octet-stream", "too-large"); got != strconv.Itoa(mainMax) {
			t.Fatalf("slixmpp read max-file-size %q, want %d", got, mainMax)
		}
	})

	t.Run("slot refusals", func(t *testing.T) {
		svc := srv.ComponentJID()
		_, err := alice.RequestSlot(ctx, svc, "big.bin", mainMax+1, "application/octet-stream")
		if se := slotErr(t, err, "modify", "not-acceptable"); se.MaxFileSize != mainMax {
			t.Fatalf("file-too-large says max %d, want %d", se.MaxFileSize, mainMax)
		}
		for _, c := range []struct {
			name, typ string
			size      int64
		}{
			{"empty.txt", "text/plain", 0},
			{"", "text/plain", 10},
			{"../escape.txt", "text/plain", 10},
			{"a\\b.txt", "text/plain", 10},
			{strings.Repeat("x", 252) + ".txt", "text/plain", 10},
			{"ok.txt", "not a type", 10},
		} {
			_, err := alice.RequestSlot(ctx, svc, c.name, c.size, c.typ)
			if err == nil {
				t.Fatalf("slot granted for %q, %q, %d bytes", c.name, c.typ, c.size)
			}
			if se := slotErr(t, err, "modify", "not-acceptable"); se.MaxFileSize != 0 {
				t.Fatalf("%q: file-too-large for a bad request", c.name)
			}
		}
	})

	t.Run("put refusals keep nothing", func(t *testing.T) {
		body := randomBytes(t, 1000)
		before := len(main.files(t))
		fresh := func() xmppclient.UploadSlot {
			slot, err := alice.RequestSlot(ctx, srv.ComponentJID(), "notes.bin", 1000, "application/octet-stream")
			if err != nil {
				t.Fatal(err)
			}
			return slot
		}
		for _, c := range []struct {
			name   string
			url    func(string) string
			body   []byte
			length int64
			typ    string
			want   int
		}{
			{"shorter, declared", nil, body[:999], 999, "application/octet-stream", http.StatusBadRequest},
			{"longer, declared", nil, append(body, 1), 1001, "application/octet-stream", http.StatusRequestEntityTooLarge},
			{"shorter, chunked", nil, body[:999], -1, "application/octet-stream", http.StatusBadRequest},
			{"longer, chunked", nil, append(body, 1), -1, "application/octet-stream", http.StatusRequestEntityTooLarge},
			{"another type", nil, body, 1000, "image/png", http.StatusBadRequest},
			{"size changed in URL", func(u string) string { return strings.Replace(u, "size=1000", "size=999", 1) }, body[:999], 999, "application/octet-stream", http.StatusForbidden},
			{"type changed in URL", func(u string) string {
				return strings.Replace(u, "type=application%2Foctet-stream", "type=image%2Fpng", 1)
			}, body, 1000, "image/png", http.StatusForbidden},
			{"name changed", func(u string) string { return strings.Replace(u, "notes.bin", "other.bin", 1) }, body, 1000, "application/octet-stream", http.StatusForbidden},
			{"requester changed", func(u string) string { return strings.Replace(u, "jid=alice", "jid=bob", 1) }, body, 1000, "application/octet-stream", http.StatusForbidden},
			{"signature changed", func(u string) string { return strings.Replace(u, "sig=", "sig=A", 1) }, body, 1000, "application/octet-stream", http.StatusForbidden},
			{"expiry extended", func(u string) string { return strings.Replace(u, "expires=", "expires=9", 1) }, body, 1000, "application/octet-stream", http.StatusForbidden},
		} {
			slot := fresh()
			u := slot.PutURL
			if c.url != nil {
				if u = c.url(u); u == slot.PutURL {
					t.Fatalf("%s: the URL %s was not changed", c.name, u)
				}
			}
			if got := putSlot(t, u, c.body, c.length, c.typ); got != c.want {
				t.Errorf("%s: PUT %d, want %d", c.name, got, c.want)
			}
			if resp, _ := httpDo(t, http.MethodGet, slot.GetURL, nil, nil); resp.StatusCode != http.StatusNotFound {
				t.Errorf("%s: GET after a refused PUT: %d", c.name, resp.StatusCode)
			}
		}
		if after := len(main.files(t)); after != before {
			t.Fatalf("refused PUTs left %d files behind", after-before)
		}
		// Once stored, the URL is spent: a second PUT is refused and the
		// first file stays.
		slot := fresh()
		if got := putSlot(t, slot.PutURL, body, 1000, "application/octet-stream"); got != http.StatusCreated {
			t.Fatalf("PUT: %d", got)
		}
		other := randomBytes(t, 1000)
		if got := putSlot(t, slot.PutURL, other, 1000, "application/octet-stream"); got != http.StatusConflict {
			t.Fatalf("second PUT to one slot: %d, want 409", got)
		}
		if resp, got := httpDo(t, http.MethodGet, slot.GetURL, nil, nil); resp.StatusCode != http.StatusOK || !bytes.Equal(got, body) {
			t.Fatalf("after a second PUT the file is %d bytes (%d)", len(got), resp.StatusCode)
		}
	})

	// The other two services connect now; discovery is over.
	foreignCfg := httpupload.DefaultConfig()
	foreignCfg.Domains = []string{"example.net"}
	foreign := startUploadStack(t, srv, "foreign.localhost", foreignCfg)
	quotaCfg := httpupload.DefaultConfig()
	quotaCfg.Quota.UserTotalBytes = quotaTotal
	quotaCfg.SlotTTL = quotaTTL
	quotaCfg.ExpireAfter = quotaExpire
	quota := startUploadStack(t, srv, "quota.localhost", quotaCfg)

	t.Run("foreign domain", func(t *testing.T) {
		_, err := alice.RequestSlot(ctx, foreign.comp.JID(), "a.txt", 10, "text/plain")
		slotErr(t, err, "auth", "forbidden")
	})

	t.Run("quota, expiry and identical files", func(t *testing.T) {
		svc := quota.comp.JID()
		same := randomBytes(t, 1000)
		upload := func(name string, data []byte) string {
			slot, err := alice.RequestSlot(ctx, svc, name, int64(len(data)), "application/octet-stream")
			if err != nil {
				t.Fatal(err)
			}
			u, err := slot.Upload(ctx, nil, bytes.NewReader(data), int64(len(data)), "application/octet-stream")
			if err != nil {
				t.Fatal(err)
			}
			return u
		}
		first := upload("same.bin", same)
		late, err := alice.RequestSlot(ctx, svc, "late.bin", 10, "application/octet-stream")
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(quotaExpire / 2)
		second := upload("same.bin", same)
		if first == second {
			t.Fatalf("identical files share the URL %s", first)
		}
		// 2000 stored: 1001 more would pass the 3000 quota.
		asked := time.Now()
		_, err = alice.RequestSlot(ctx, svc, "more.bin", quotaTotal-2000+1, "application/octet-stream")
		se := slotErr(t, err, "wait", "resource-constraint")
		if se.RetryAt.Before(asked.Add(quotaExpire-time.Second)) || se.RetryAt.After(asked.Add(quotaExpire+time.Second)) {
			t.Fatalf("retry at %s, want about %s after %s", se.RetryAt, quotaExpire, asked)
		}
		// The first is past retention; the second is not.
		time.Sleep(quotaExpire/2 + 200*time.Millisecond)
		if got := putSlot(t, late.PutURL, randomBytes(t, 10), 10, "application/octet-stream"); got != http.StatusForbidden {
			t.Fatalf("PUT to an expired URL: %d, want 403", got)
		}
		if resp, _ := httpDo(t, http.MethodGet, first, nil, nil); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("GET past retention: %d", resp.StatusCode)
		}
		files := len(quota.files(t))
		n, err := quota.svc.ExpireUploads(ctx)
		if err != nil || n != 1 {
			t.Fatalf("expired %d (%v), want 1", n, err)
		}
		if left := len(quota.files(t)); left != files-1 {
			t.Fatalf("expiry left %d of %d files, want %d", left, files, files-1)
		}
		if resp, got := httpDo(t, http.MethodGet, second, nil, nil); resp.StatusCode != http.StatusOK || !bytes.Equal(got, same) {
			t.Fatalf("the identical file uploaded later: %d, %d bytes", resp.StatusCode, len(got))
		}
		// The expired bytes no longer count.
		if _, err := alice.RequestSlot(ctx, svc, "more.bin", quotaTotal-1000, "application/octet-stream"); err != nil {
			t.Fatalf("after expiry: %v", err)
		}
	})

	t.Run("slow store", func(t *testing.T) { testSlowSlotService(t, ctx, srv, alice, main.slots) })
}

// blockingSlots holds every slot request until release is closed.
type blockingSlots struct {
	xmppauth.SlotService
	asked   chan struct{}
	release chan struct{}
}

func (b blockingSlots) RequestSlot(ctx context.Context, from jid.JID, req xmppauth.SlotRequest) (xmppauth.Slot, error) {
	b.asked <- struct{}{}
	select {
	case <-b.release:
	case <-ctx.Done():
		return xmppauth.Slot{}, ctx.Err()
	}
	return b.SlotService.RequestSlot(ctx, from, req)
}

// A slot request the service is slow to answer (its metadata store
// stalls) does not hold up the component's stream: a confirmation asked
// meanwhile goes through, and the slot comes once the store answers.
func testSlowSlotService(t *testing.T, ctx context.Context, srv *localxmpp.Server, alice *xmppclient.Client, inner xmppauth.SlotService) {
	comp, err := xmppauth.New(xmppauth.Config{
		ComponentJID: "slow.localhost", Secret: srv.ComponentSecret(), ServerAddr: srv.ComponentAddr(),
		ReplyTimeout: 20 * time.Second,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	slow := blockingSlots{SlotService: inner, asked: make(chan struct{}, 1), release: make(chan struct{})}
	comp.SetSlotService(slow)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); comp.Run(runCtx) }()
	defer func() { stop(); <-done }()
	if err := comp.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	if err := srv.Register(ctx, "bob", "bob-pw"); err != nil {
		t.Fatal(err)
	}
	bob, err := xmppclient.Dial(ctx, xmppclient.Config{Addr: srv.C2SAddr(), JID: srv.UserJID("bob"), Password: "bob-pw"},
		func(auth.ConfirmRequest) xmppclient.Answer { return xmppclient.Accept })
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()

	granted := make(chan error, 1)
	go func() {
		_, err := alice.RequestSlot(ctx, comp.JID(), "slow.txt", 10, "text/plain")
		granted <- err
	}()
	<-slow.asked
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := comp.Confirm(cctx, auth.ConfirmRequest{JID: bob.JID(), TransactionID: "while-slow", Method: "GET", URL: "https://x/y"}); err != nil {
		t.Fatalf("a confirmation while a slot request waits on the store: %v", err)
	}
	select {
	case err := <-granted:
		t.Fatalf("the slot request was answered before the store was: %v", err)
	default:
	}
	close(slow.release)
	if err := <-granted; err != nil {
		t.Fatalf("the slot once the store answered: %v", err)
	}
}

// runSlixmpp runs testdata/xep0363_slixmpp.py as alice and returns what
// it printed (the GET URL, or the max-file-size with "too-large").
func runSlixmpp(t testing.TB, srv *localxmpp.Server, path, contentType string, extra ...string) string {
	t.Helper()
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 is needed (scripts/test installs python3-slixmpp)")
	}
	// The Debian package installs into the system Python.
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		python = "/usr/bin/python3"
	}
	host, port, _ := strings.Cut(srv.C2SAddr(), ":")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := append([]string{"testdata/xep0363_slixmpp.py", srv.UserJID("alice").String(), "alice-pw", host, port, path, contentType}, extra...)
	cmd := exec.CommandContext(ctx, python, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("slixmpp: %v: %s\n%s", err, out, stderr.String())
	}
	return strings.TrimSpace(string(out))
}
