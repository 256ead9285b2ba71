package mediasvc

import (
	"context"
	"fmt"
	"image/jpeg"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// clientFrom is an HTTP client whose connections come from the local
// address ip (any 127.0.0.0/8 address is local on Linux), so the server
// sees another network source.
func clientFrom(t *testing.T, ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	tr := &http.Transport{DialContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: time.Minute}
}

// TestLargeDerivedBoxesAreBudgetedPerSource: distinct boxes over about
// 1024 pixels are derived from the stored 2048 preview in a worker slot.
// One address asking for many gets its burst, then 429 with Retry-After;
// another address still gets its large box, promptly.
func TestLargeDerivedBoxesAreBudgetedPerSource(t *testing.T) {
	e := newEnv(t)
	// A server whose clock stands still, so no token comes back while the
	// burst is rendered (slowly, under -race). It is set before the
	// server starts serving.
	e.srv = e.newServer(DefaultConfig())
	frozen := e.srv.now()
	e.srv.now = func() time.Time { return frozen }
	e.http = httptestServer(t, e.srv)
	// 1200x900 is over transform.Derive's 1 MP, so every box it does not
	// fit takes a worker.
	m := e.mustUpload(privateChan, alice, jpegImage(t, 1200, 900), "image/jpeg")
	get := func(c *http.Client, side int) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest("GET", e.url(fmt.Sprintf("/%s/%s?maxwidth=%d&maxheight=%d", privateChan, m.ID, side, side)), nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Basic "+cred(alice))
		resp, err := c.Do(req)
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
	flooder := clientFrom(t, "127.0.0.1")
	for i := range workerDeriveBurst + 3 {
		side := 1100 + i // distinct, and 1200x900 fits none of them
		start := time.Now()
		resp, body := get(flooder, side)
		took := time.Since(start)
		switch {
		case i < workerDeriveBurst:
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("box %d of the burst (%dx%d): status %d %s", i+1, side, side, resp.StatusCode, body)
			}
			cfg, err := jpeg.DecodeConfig(bytesReader(body))
			if err != nil || cfg.Width > side || cfg.Height > side {
				t.Fatalf("box %dx%d: answer %dx%d (%v)", side, side, cfg.Width, cfg.Height, err)
			}
		default:
			if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
				t.Fatalf("box %d past the burst of %d: status %d, Retry-After %q; want 429 with Retry-After",
					i+1, workerDeriveBurst, resp.StatusCode, resp.Header.Get("Retry-After"))
			}
			// Refused before any rendering: no worker time spent.
			if took > time.Second {
				t.Errorf("the refusal took %v", took)
			}
		}
	}
	// An answer already made costs nothing: the flooder still gets it.
	if resp, _ := get(flooder, 1100); resp.StatusCode != http.StatusOK {
		t.Fatalf("a box already derived, from the spent source: status %d", resp.StatusCode)
	}
	// Another source is not held back by the first one's budget.
	start := time.Now()
	resp, body := get(clientFrom(t, "127.0.0.2"), 1150)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("another address: status %d %s", resp.StatusCode, body)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("another address waited %v", d)
	}
}

// TestDeriveBudgetCountsIPv6By64: the budget is per auth.SourceOf, so the
// addresses of one IPv6 /64 share one, and the next /64 has its own.
func TestDeriveBudgetCountsIPv6By64(t *testing.T) {
	e := newEnv(t)
	req := func(remote string) *http.Request {
		r := httptest.NewRequestWithContext(context.Background(), "GET", "/", nil)
		r.RemoteAddr = remote
		return r
	}
	for i := range workerDeriveBurst {
		if err := e.srv.chargeWorkerDerive(req(fmt.Sprintf("[2001:db8::%x]:%d", i+1, 4000+i))); err != nil {
			t.Fatalf("derivation %d of the /64's burst: %v", i+1, err)
		}
	}
	if err := e.srv.chargeWorkerDerive(req("[2001:db8::ffff]:5000")); err == nil {
		t.Fatal("a new address in the same /64 got a fresh budget")
	} else if status, _ := classify(err); status != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429", status)
	}
	if err := e.srv.chargeWorkerDerive(req("[2001:db8:0:1::1]:5000")); err != nil {
		t.Fatalf("the next /64: %v", err)
	}
}

// TestClientShapedVariantsAreBudgetedPerSource: every ?maxbytes step is
// a new search in a worker slot, so one source gets its burst of them,
// then 429; the variants a page of pictures asks for (WebP of a stored
// box, WebP of a small box such as the demo's 32x32 tiny previews) are
// not charged and still come, and another source still gets its budget.
func TestClientShapedVariantsAreBudgetedPerSource(t *testing.T) {
	e := newEnv(t)
	e.srv = e.newServer(DefaultConfig())
	frozen := e.srv.now()
	e.srv.now = func() time.Time { return frozen }
	e.http = httptestServer(t, e.srv)
	m := e.mustUpload(privateChan, alice, photoJPEG(t), "image/jpeg")
	get := func(c *http.Client, query, accept string) *http.Response {
		t.Helper()
		req, err := http.NewRequest("GET", e.url("/"+privateChan+"/"+m.ID+query), nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Basic "+cred(alice))
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			t.Fatal(err)
		}
		return resp
	}
	flooder := clientFrom(t, "127.0.0.1")
	for i := range workerDeriveBurst + 2 {
		// Distinct steps, all below the plain preview (about 14 KB), so
		// each is a search.
		n := 3000 + i*1024
		resp := get(flooder, fmt.Sprintf("?maxwidth=320&maxheight=480&maxbytes=%d", n), "")
		switch {
		case i < workerDeriveBurst && resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusRequestEntityTooLarge:
			t.Fatalf("maxbytes=%d, %d of the burst: status %d", n, i+1, resp.StatusCode)
		case i >= workerDeriveBurst && (resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == ""):
			t.Fatalf("maxbytes=%d past the burst of %d: status %d, Retry-After %q; want 429 with Retry-After",
				n, workerDeriveBurst, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	for _, q := range []string{"?maxwidth=320&maxheight=480", "?maxwidth=32&maxheight=32", "?maxwidth=33&maxheight=33", "?maxwidth=50&maxheight=50"} {
		if resp := get(flooder, q, acceptChrome); resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/webp" {
			t.Errorf("%s as WebP from the spent source: %d %s, want 200 image/webp", q, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	if resp := get(flooder, "?maxwidth=300&maxheight=300", acceptChrome); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("a distinct 300x300 WebP from the spent source: %d, want 429", resp.StatusCode)
	}
	if resp := get(clientFrom(t, "127.0.0.2"), "?maxwidth=320&maxheight=480&maxbytes=9000", ""); resp.StatusCode != http.StatusOK {
		t.Errorf("another address: status %d", resp.StatusCode)
	}
}
