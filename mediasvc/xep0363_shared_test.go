package mediasvc

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strconv"
	"testing"

	"mellium.im/xmpp/jid"

	"github.com/xmppmedia/mediaserver/auth/xmppauth"
	"github.com/xmppmedia/mediaserver/mediasvc/httpupload"
	"github.com/xmppmedia/mediaserver/storage"
	"github.com/xmppmedia/mediaserver/storage/pgtest"
	"github.com/xmppmedia/mediaserver/storage/s3store"
	"github.com/xmppmedia/mediaserver/storage/s3test"
)

// sharedUploadServer is one server of a XEP-0363 service spread over
// several machines: one S3 bucket, one PostgreSQL database, and no secret
// configured, so the one generated in the database is shared. Each has
// its own component JID, as docs/operations.md says to deploy them.
func sharedUploadServer(t *testing.T, s3cfg s3store.Config, dsn, component string) (*Server, *httpupload.Service, *env) {
	t.Helper()
	var slots *httpupload.Service
	srv, e := sharedServer(t, s3cfg, dsn, DefaultConfig(), func(d *Deps) {
		// The public URL of the service is the load balancer's; each test
		// server is reached by its own address instead.
		var err error
		slots, err = httpupload.New(context.Background(), httpupload.DefaultConfig(), httpupload.Deps{
			Ledger: d.Metadata.(storage.UploadLedger), ComponentJID: jid.MustParse(component), BaseURL: "https://media.example",
		})
		if err != nil {
			t.Fatal(err)
		}
		d.Slots = slots
	})
	return srv, slots, e
}

// via points a slot URL at one test server.
func via(t *testing.T, e *env, raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return e.http.URL + u.RequestURI()
}

// A slot granted by one server is stored through another and read through
// the first, with its preview, on S3 and PostgreSQL; the URL stays single
// use across both.
func TestXEP0363TwoServersShareS3AndPostgres(t *testing.T) {
	gw := s3test.StartServer(t)
	dsn := pgtest.Start(t)
	_, slotsA, a := sharedUploadServer(t, gw.Config, dsn, "media1.localhost")
	_, _, b := sharedUploadServer(t, gw.Config, dsn, "media2.localhost")

	photo := jpegImage(t, 1200, 900)
	slot, err := slotsA.RequestSlot(context.Background(), jid.MustParse("alice@localhost/phone"),
		xmppauth.SlotRequest{FileName: "cat.jpg", Size: itoa(len(photo)), ContentType: "image/jpeg"})
	if err != nil {
		t.Fatal(err)
	}
	put := func(e *env) int {
		req, _ := http.NewRequest(http.MethodPut, via(t, e, slot.PutURL), bytes.NewReader(photo))
		req.Header.Set("Content-Type", "image/jpeg")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := put(b); got != http.StatusCreated {
		t.Fatalf("PUT through B of A's slot: %d", got)
	}
	if got := put(a); got != http.StatusConflict {
		t.Fatalf("second PUT through A: %d, want 409", got)
	}
	resp, body := a.do(http.MethodGet, pathOf(t, via(t, a, slot.GetURL)), "", nil, nil)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, photo) {
		t.Fatalf("GET through A: %d, %d bytes", resp.StatusCode, len(body))
	}
	resp, body = a.do(http.MethodGet, pathOf(t, via(t, a, slot.GetURL))+"?maxwidth=240&maxheight=320", "", nil, nil)
	if _, w, h := decodeSize(t, body); resp.StatusCode != http.StatusOK || w != 240 || h != 180 {
		t.Fatalf("preview through A: %d %dx%d", resp.StatusCode, w, h)
	}
}

func pathOf(t *testing.T, raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.RequestURI()
}

func itoa(n int) string { return strconv.Itoa(n) }
