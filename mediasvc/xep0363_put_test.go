package mediasvc

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xmppmedia/mediaserver/auth/xmppauth"
	"github.com/xmppmedia/mediaserver/mediasvc/httpupload"
	"github.com/xmppmedia/mediaserver/storage"
)

// withSlots gives e's server an upload service with cfg and returns it.
func withSlots(t *testing.T, e *env, cfg httpupload.Config) *httpupload.Service {
	t.Helper()
	s, err := httpupload.New(context.Background(), cfg, httpupload.Deps{
		Ledger: e.srv.meta.Metadata.(storage.UploadLedger), ComponentJID: jid.MustParse("media.localhost"), BaseURL: e.http.URL,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.srv.slots = s
	return s
}

func grant(t *testing.T, s *httpupload.Service, user, name, typ string, size int) (put, get string) {
	t.Helper()
	slot, err := s.RequestSlot(context.Background(), jid.MustParse(user+"/r"),
		xmppauth.SlotRequest{FileName: name, Size: strconv.Itoa(size), ContentType: typ})
	if err != nil {
		t.Fatal(err)
	}
	pu, _ := url.Parse(slot.PutURL)
	gu, _ := url.Parse(slot.GetURL)
	return pu.RequestURI(), gu.RequestURI()
}

// What the PUT itself refuses beyond the URL checks (TestXEP0363 has
// those): a quota passed by slots granted together, a decompression bomb,
// a client that drops the connection. Each keeps nothing.
func TestXEP0363PutRefusals(t *testing.T) {
	e := newEnv(t)
	cfg := httpupload.DefaultConfig()
	cfg.Quota.UserTotalBytes = 1500
	s := withSlots(t, e, cfg)
	ct := http.Header{"Content-Type": {"application/octet-stream"}}

	// Two slots granted while the quota held either; the second PUT finds
	// the first stored and is refused.
	put1, get1 := grant(t, s, "alice@localhost", "one.bin", "", 1000)
	put2, get2 := grant(t, s, "alice@localhost", "two.bin", "", 1000)
	if resp, _ := e.do(http.MethodPut, put1, "", bytes.NewReader(make([]byte, 1000)), ct); resp.StatusCode != http.StatusCreated {
		t.Fatalf("first PUT: %d", resp.StatusCode)
	}
	files := len(e.blobFiles())
	if resp, _ := e.do(http.MethodPut, put2, "", bytes.NewReader(make([]byte, 1000)), ct); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("PUT past the quota: %d, want 403", resp.StatusCode)
	}
	if resp, _ := e.do(http.MethodGet, get2, "", nil, nil); resp.StatusCode != http.StatusNotFound || len(e.blobFiles()) != files {
		t.Fatalf("the refused PUT left something: GET %d, %d files (was %d)", resp.StatusCode, len(e.blobFiles()), files)
	}
	if resp, _ := e.do(http.MethodGet, get1, "", nil, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("the first upload: %d", resp.StatusCode)
	}

	s = withSlots(t, e, httpupload.DefaultConfig()) // no quota from here on
	bomb := pngHeaderOnly(100000, 100000)
	put, get := grant(t, s, "bob@localhost", "bomb.png", "image/png", len(bomb))
	if resp, _ := e.do(http.MethodPut, put, "", bytes.NewReader(bomb), http.Header{"Content-Type": {"image/png"}}); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("decompression bomb: %d, want 413", resp.StatusCode)
	}
	if resp, _ := e.do(http.MethodGet, get, "", nil, nil); resp.StatusCode != http.StatusNotFound || len(e.blobFiles()) != files {
		t.Fatalf("the bomb left something: GET %d, %d files", resp.StatusCode, len(e.blobFiles()))
	}

	// Half the body, then the client is gone.
	put, get = grant(t, s, "carol@localhost", "cut.bin", "", 1<<20)
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.http.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	conn.Write([]byte("PUT " + put + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 1048576\r\n\r\n"))
	conn.Write(make([]byte, 512<<10))
	time.Sleep(100 * time.Millisecond)
	conn.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		pending, err := e.srv.meta.Pending(context.Background(), time.Now().Add(time.Hour))
		if err == nil && len(pending) == 0 && len(e.blobFiles()) == files && len(tempFiles(e.root)) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a dropped PUT left %d pending, %d files (was %d), %d temporaries", len(pending), len(e.blobFiles()), files, len(tempFiles(e.root)))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if resp, _ := e.do(http.MethodGet, get, "", nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET after a dropped PUT: %d", resp.StatusCode)
	}
}

// Without an upload service the XEP-0363 routes do not exist.
func TestXEP0363RoutesOffWithoutService(t *testing.T) {
	e := newEnv(t)
	for _, m := range []string{http.MethodGet, http.MethodPut} {
		if resp, _ := e.do(m, httpupload.PathPrefix+strings.Repeat("a", 32)+"/x.jpg", "", nil, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s without a service: %d", m, resp.StatusCode)
		}
	}
}
