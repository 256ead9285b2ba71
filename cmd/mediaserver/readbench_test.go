package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xmppmedia/mediaserver/auth"
	"github.com/xmppmedia/mediaserver/auth/xmppclient"
	"github.com/xmppmedia/mediaserver/mediasvc/mediaclient"
)

var readBenchDuration = flag.Duration("readbench.duration", time.Second,
	"how long TestReadThroughput loads each kind of read (e.g. 10s for the figures in docs/)")

// TestReadThroughput measures, against a real Prosody and the real
// component, a private-channel read whose confirmation is remembered
// beside the same read on an open channel, in one run, alternating the two
// in rounds so machine noise hits both alike. It prints requests per second
// and p99 latency of each and their ratio; it fails on any error and when
// the remembered confirmation is asked more than once.
//
//	go test -run TestReadThroughput -v ./cmd/mediaserver -args -readbench.duration=8s
func TestReadThroughput(t *testing.T) {
	s := startOpsStack(t)
	priv, privPass := s.newUser(t, "reader", "whitelist")
	pub, pubPass := s.newUser(t, "newsroom", "open")

	var asked atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := xmppclient.Dial(ctx, xmppclient.Config{Addr: s.px.C2SAddr(), JID: priv, Password: privPass},
		func(auth.ConfirmRequest) xmppclient.Answer { asked.Add(1); return xmppclient.Accept })
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	privAuth := authQuery(c.JID().String(), "bench-tid")
	pubAuth := s.login(t, pub, pubPass, "pub-tid")

	photo := testPhoto(t, 800, 600)
	privID := uploadForTest(t, s.base+"/"+priv.String()+"?auth="+privAuth, photo)
	pubID := uploadForTest(t, s.base+"/"+pub.String()+"?auth="+pubAuth, photo)
	asked.Store(0)
	privURL := s.base + "/" + priv.String() + "/" + privID + "?maxwidth=240&maxheight=320&auth=" + privAuth
	pubURL := s.base + "/" + pub.String() + "/" + pubID + "?maxwidth=240&maxheight=320"

	const clients, rounds = 8, 4
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}, Timeout: 30 * time.Second}
	var privRes, pubRes loadResult
	for r := 0; r < rounds; r++ {
		privRes.add(loadURL(t, client, privURL, clients, *readBenchDuration/rounds))
		pubRes.add(loadURL(t, client, pubURL, clients, *readBenchDuration/rounds))
	}
	t.Logf("private read, remembered confirmation: %s", &privRes)
	t.Logf("open channel read:                     %s", &pubRes)
	t.Logf("private/open: throughput %.2f, p99 latency %.2f", privRes.rps()/pubRes.rps(),
		float64(privRes.p99())/float64(pubRes.p99()))
	if privRes.errors+pubRes.errors > 0 {
		t.Fatalf("%d private and %d open reads failed", privRes.errors, pubRes.errors)
	}
	if n := asked.Load(); n > 1 {
		t.Fatalf("%d confirmations asked for one remembered (jid, transaction id)", n)
	}
}

func uploadForTest(t *testing.T, url string, photo []byte) string {
	t.Helper()
	item, err := mediaclient.Post(context.Background(), http.DefaultClient, url, nil, mediaclient.Upload{
		Body: bytes.NewReader(photo), Size: int64(len(photo)), Filename: "photo.jpg", ContentType: "image/jpeg",
	})
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	return item.ID
}

func idFromJSON(t *testing.T, body []byte) string {
	t.Helper()
	var v struct{ ID string }
	if err := json.Unmarshal(body, &v); err != nil || v.ID == "" {
		t.Fatalf("not media JSON: %s", body)
	}
	return v.ID
}

type loadResult struct {
	latencies []time.Duration
	errors    int
	elapsed   time.Duration
}

func (l *loadResult) add(o loadResult) {
	l.latencies = append(l.latencies, o.latencies...)
	l.errors += o.errors
	l.elapsed += o.elapsed
}

func (l *loadResult) rps() float64 { return float64(len(l.latencies)) / l.elapsed.Seconds() }

func (l *loadResult) p99() time.Duration {
	if len(l.latencies) == 0 {
		return 0
	}
	s := slices.Clone(l.latencies)
	slices.Sort(s)
	return s[len(s)*99/100]
}

func (l *loadResult) String() string {
	return fmt.Sprintf("%d requests, %.0f req/s, p99 %v, %d errors", len(l.latencies), l.rps(), l.p99().Round(10*time.Microsecond), l.errors)
}

// loadURL GETs url from n concurrent clients for d (bounded in time).
func loadURL(t *testing.T, client *http.Client, url string, n int, d time.Duration) loadResult {
	var mu sync.Mutex
	var res loadResult
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local []time.Duration
			errs := 0
			for time.Now().Before(deadline) {
				t0 := time.Now()
				resp, err := client.Get(url)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				if err != nil {
					errs++
					continue
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			res.latencies = append(res.latencies, local...)
			res.errors += errs
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	return res
}
