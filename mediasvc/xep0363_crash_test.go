package mediasvc

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xmppmedia/mediaserver/auth/xmppauth"
	"github.com/xmppmedia/mediaserver/mediasvc/httpupload"
	"github.com/xmppmedia/mediaserver/storage"
	"github.com/xmppmedia/mediaserver/storage/sqlite"
)

// crashSecret signs the crash tests' slots in the child and the parent.
const crashSecret = "crash-test-signing-key-0123456789"

// crashSlots is the child's upload service: the parent signs slots with
// the same key, as a second server sharing the secret would.
func crashSlots(meta storage.Metadata) *httpupload.Service {
	cfg := httpupload.DefaultConfig()
	cfg.Secret = crashSecret
	s, err := httpupload.New(context.Background(), cfg, httpupload.Deps{
		Ledger: meta.(storage.UploadLedger), ComponentJID: jid.MustParse("media.localhost"), BaseURL: "http://crash.invalid",
	})
	if err != nil {
		panic(err)
	}
	return s
}

// crashSlot grants alice a slot for size bytes of application/octet-stream
// and returns its PUT URL's path and query.
func crashSlot(t *testing.T, size int) string {
	t.Helper()
	meta, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "parent.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer meta.Close()
	slot, err := crashSlots(meta).RequestSlot(context.Background(), jid.MustParse("alice@localhost/phone"),
		xmppauth.SlotRequest{FileName: "crash.bin", Size: strconv.Itoa(size), ContentType: "application/octet-stream"})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(slot.PutURL)
	return u.RequestURI()
}

// A XEP-0363 PUT cut by a crash, part way through the body or between
// the durable blob and the commit, leaves nothing visible; recovery
// removes what it wrote, and the unused URL then works.
func TestXEP0363CrashMidPut(t *testing.T) {
	for _, stage := range []string{"serve", "after-blob"} {
		t.Run(stage, func(t *testing.T) {
			dir := t.TempDir()
			cmd, base := startCrashChild(t, stage, dir)
			size := 8 << 20
			if stage == "after-blob" {
				size = 1000
			}
			put := crashSlot(t, size)
			body := bytes.Repeat([]byte{7}, size)
			pr, pw := io.Pipe()
			go func() {
				if stage == "serve" {
					pw.Write(body[:2<<20]) // part of the body, then the server dies
					return
				}
				pw.Write(body)
				pw.Close()
			}()
			req, _ := http.NewRequest(http.MethodPut, base+put, pr)
			req.ContentLength = int64(size)
			req.Header.Set("Content-Type", "application/octet-stream")
			done := make(chan error, 1)
			go func() {
				resp, err := http.DefaultClient.Do(req)
				if err == nil {
					resp.Body.Close()
					done <- nil
					return
				}
				done <- err
			}()
			if stage == "serve" {
				root := filepath.Join(dir, "media")
				deadline := time.Now().Add(20 * time.Second)
				for len(tempFiles(root)) == 0 {
					if time.Now().After(deadline) {
						t.Fatal("the PUT never reached the blob store")
					}
					time.Sleep(10 * time.Millisecond)
				}
				cmd.Process.Kill()
				cmd.Wait()
				pw.CloseWithError(io.ErrClosedPipe)
			}
			if err := <-done; err == nil {
				t.Fatal("the PUT was answered though the server died before storing it")
			}

			e := &env{t: t, root: filepath.Join(dir, "media"), dbPath: filepath.Join(dir, "media.db")}
			e.channels, e.confirm = newFixtureAuth()
			cfg := DefaultConfig()
			cfg.AbandonAfter = 0
			srv := e.newServer(cfg)
			srv.slots = crashSlots(srv.meta.Metadata)
			e.srv, e.http = srv, httptestServer(t, srv)
			get, _, _ := strings.Cut(put, "?")
			if resp, _ := e.do(http.MethodGet, get, "", nil, nil); resp.StatusCode != http.StatusNotFound {
				t.Fatalf("GET before recovery: %d", resp.StatusCode)
			}
			st, err := srv.Recover(context.Background())
			if err != nil || st.Uploads != 1 {
				t.Fatalf("Recover = %+v, %v; want the one upload", st, err)
			}
			if files := e.blobFiles(); len(files) != 0 {
				t.Fatalf("files left after recovery: %v", files)
			}
			resp, _ := e.do(http.MethodPut, put, "", bytes.NewReader(body), http.Header{"Content-Type": {"application/octet-stream"}})
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("PUT of the unused URL after recovery: %d", resp.StatusCode)
			}
			if resp, got := e.do(http.MethodGet, get, "", nil, nil); resp.StatusCode != http.StatusOK || !bytes.Equal(got, body) {
				t.Fatalf("GET after the retried PUT: %d, %d bytes", resp.StatusCode, len(got))
			}
		})
	}
}
