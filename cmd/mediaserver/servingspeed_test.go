package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/jpeg"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xmppmedia/mediaserver/auth"
	"github.com/xmppmedia/mediaserver/auth/localxmpp"
	"github.com/xmppmedia/mediaserver/auth/xmppclient"
	"github.com/xmppmedia/mediaserver/mediasvc/mediaclient"
	"github.com/xmppmedia/mediaserver/mediasvc/metrics/metricstest"
	"github.com/xmppmedia/mediaserver/storage/pgtest"
	"mellium.im/xmpp/jid"
)

var (
	servingDuration = flag.Duration("servingspeed.duration", 0,
		"wrk duration of each TestServingSpeed run; 0 is the short smoke form CI runs (ratios not checked)")
	servingRuns   = flag.Int("servingspeed.runs", 3, "runs of each server per figure in TestServingSpeed (the median is taken)")
	servingBinary = flag.String("servingspeed.binary", "",
		"a mediaserver binary for TestServingSpeed to run instead of building this tree (to compare with another build)")
)

// Targets of issue 12: the media server beside a bare net/http file server
// serving the same bytes.
const (
	targetOpenRatio     = 0.80 // open-channel preview, req/s
	targetPrivateRatio  = 0.70 // private preview with a remembered confirmation, req/s
	targetOriginalRatio = 0.80 // 3 MB original, bytes/s
	targetP99Factor     = 2.0  // p99 no worse than this many times the bare server's
)

// TestServingSpeed measures the real server process (built binary, real
// configuration file, JSON access log on, its component connected to a real
// Prosody) beside a bare net/http http.FileServer holding the same bytes,
// with wrk -t1 -c16, the two alternating, for an open-channel 320x480
// preview, the same preview of a private channel with a remembered
// confirmation, and the 3 MB original of a 12 MP photo, once with SQLite
// and once with PostgreSQL metadata. It prints the medians, ratios and p99
// latencies, and fails on any error, on a request missing from the metrics,
// and (in the full form) on a figure below the targets of issue 12.
//
//	go test -run TestServingSpeed -v ./cmd/mediaserver -args -servingspeed.duration=5s
//
// Without -servingspeed.duration it runs each figure once for a second on
// the test binary itself (race detector and all), to check the wiring.
func TestServingSpeed(t *testing.T) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		t.Fatal("wrk is needed (apt-get install wrk; scripts/test installs it)")
	}
	full := *servingDuration > 0
	d, runs := *servingDuration, *servingRuns
	if !full {
		d, runs = time.Second, 1
	}
	exe, env := serverCommand(t, full)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	px, err := localxmpp.Start(ctx, localxmpp.Options{})
	if err != nil {
		t.Fatalf("start Prosody: %v", err)
	}
	t.Cleanup(px.Stop)
	priv, privPass := newChannelUser(t, px, "reader", "whitelist")
	pub, pubPass := newChannelUser(t, px, "newsroom", "open")
	var asked atomic.Int64
	privClient, err := xmppclient.Dial(ctx, xmppclient.Config{Addr: px.C2SAddr(), JID: priv, Password: privPass, TLS: px.ClientTLS()},
		func(auth.ConfirmRequest) xmppclient.Answer { asked.Add(1); return xmppclient.Accept })
	if err != nil {
		t.Fatal(err)
	}
	defer privClient.Close()
	pubClient, err := xmppclient.Dial(ctx, xmppclient.Config{Addr: px.C2SAddr(), JID: pub, Password: pubPass, TLS: px.ClientTLS()},
		func(auth.ConfirmRequest) xmppclient.Answer { return xmppclient.Accept })
	if err != nil {
		t.Fatal(err)
	}
	defer pubClient.Close()
	privAuth := authQuery(privClient.JID().String(), "speed-tid")
	pubAuth := authQuery(pubClient.JID().String(), "speed-tid")
	photo := noisyPhoto(t, 4000, 3000)

	pg := pgtest.StartServerT(t)
	backends := []struct{ name, driver, dsn string }{
		{"sqlite", "sqlite", ""},
		{"postgres", "postgres", pg.NewDatabase(t)},
	}
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			dir := t.TempDir()
			dsn := be.dsn
			if dsn == "" {
				dsn = filepath.Join(dir, "media.db")
			}
			srv := startServerProcess(t, exe, env, px, dir, be.driver, dsn)
			asked.Store(0)
			privID := uploadForTest(t, srv.base+"/"+priv.String()+"?auth="+privAuth, photo)
			pubID := uploadForTest(t, srv.base+"/"+pub.String()+"?auth="+pubAuth, photo)
			privURL := srv.base + "/" + priv.String() + "/" + privID + "?maxwidth=320&maxheight=480&auth=" + privAuth
			pubURL := srv.base + "/" + pub.String() + "/" + pubID + "?maxwidth=320&maxheight=480"
			origURL := srv.base + "/" + pub.String() + "/" + pubID

			// The bare server holds exactly the bytes the media server sends.
			bareDir := filepath.Join(dir, "bare")
			os.Mkdir(bareDir, 0o750)
			sizes := map[string]int{}
			for name, u := range map[string]string{"open.jpg": pubURL, "private.jpg": privURL, "original.jpg": origURL} {
				status, _, body := fetch(t, u)
				if status != http.StatusOK {
					t.Fatalf("GET %s: %s", u, describe(status, body))
				}
				if err := os.WriteFile(filepath.Join(bareDir, name), body, 0o640); err != nil {
					t.Fatal(err)
				}
				sizes[name] = len(body)
			}
			if !bytes.Equal(photo, mustRead(t, filepath.Join(bareDir, "original.jpg"))) {
				t.Fatal("the original served is not the photo uploaded")
			}
			bare := startBareFileServer(t, bareDir)
			asked.Store(0)

			cases := []struct {
				name, server, bare, file string
				bytes                    bool
				target                   float64
			}{
				{"open-channel 320x480 preview", pubURL, bare + "/open.jpg", "open.jpg", false, targetOpenRatio},
				{"private channel, remembered confirmation", privURL, bare + "/private.jpg", "private.jpg", false, targetPrivateRatio},
				{"3 MB original", origURL, bare + "/original.jpg", "original.jpg", true, targetOriginalRatio},
			}
			var served int64
			for _, c := range cases {
				var mine, theirs []wrkResult
				for i := 0; i < runs; i++ {
					m := runWrk(t, wrk, c.server, d)
					b := runWrk(t, wrk, c.bare, d)
					mine, theirs = append(mine, m), append(theirs, b)
					served += m.requests
				}
				m, b := medianResult(mine), medianResult(theirs)
				size := float64(sizes[c.file])
				ratio := m.rps / b.rps
				figure := fmt.Sprintf("%.0f vs %.0f req/s", m.rps, b.rps)
				if c.bytes {
					figure = fmt.Sprintf("%.0f vs %.0f MB/s", m.rps*size/1e6, b.rps*size/1e6)
				}
				t.Logf("%s, %s (%d bytes): mediaserver/bare %s = %.2f; p99 %v vs %v = %.2fx",
					be.name, c.name, sizes[c.file], figure, ratio,
					m.p99.Round(10*time.Microsecond), b.p99.Round(10*time.Microsecond), float64(m.p99)/float64(b.p99))
				if full && ratio < c.target {
					t.Errorf("%s: ratio %.2f below the target %.2f", c.name, ratio, c.target)
				}
				if full && float64(m.p99) > targetP99Factor*float64(b.p99) {
					t.Errorf("%s: p99 %v over %.0fx the bare server's %v", c.name, m.p99, targetP99Factor, b.p99)
				}
			}
			// A process restarted from scratch asks once; a remembered
			// confirmation is never asked again.
			if n := asked.Load(); n > 1 {
				t.Errorf("%d confirmations asked for one remembered (jid, transaction id)", n)
			}
			// Every request is in the metrics and in the access log.
			labels := map[string]string{"route": "/{entity}/{mediaID}", "method": "GET", "status": "200"}
			waitFor(t, 10*time.Second, "every wrk request counted", func() (bool, string) {
				sc, err := metricstest.Get(srv.metricsURL)
				if err != nil {
					return false, err.Error()
				}
				v, _ := sc.Value("mediaserver_http_requests_total", labels)
				got := int64(v)
				return got >= served, fmt.Sprintf("%d counted, wrk completed %d", got, served)
			})
			if logged := srv.accessLogLines(t); logged < served {
				t.Errorf("%d requests in the access log, wrk completed %d", logged, served)
			}
		})
	}
}

// serverCommand is the mediaserver binary to run and the environment that
// makes it one: in the full form a build of this package without the race
// detector, as operators run it; in the smoke form the test binary itself;
// -servingspeed.binary when given.
func serverCommand(t *testing.T, build bool) (string, []string) {
	t.Helper()
	if *servingBinary != "" {
		return *servingBinary, nil
	}
	if !build {
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		return exe, []string{runMainEnv + "=1"}
	}
	exe := filepath.Join(t.TempDir(), "mediaserver")
	out, err := exec.Command("go", "build", "-o", exe, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return exe, nil
}

// accessLogLines counts the access log's request lines of media reads.
func (s *serverProcess) accessLogLines(t *testing.T) int64 {
	t.Helper()
	f, err := os.Open(s.logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var n int64
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var rec struct {
			Msg, Method, Path string
			Status            int
		}
		if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "request" && rec.Method == http.MethodGet &&
			rec.Status == http.StatusOK && strings.Count(rec.Path, "/") == 2 {
			n++
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

func tailFile(path string, n int64) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if int64(len(b)) > n {
		b = b[int64(len(b))-n:]
	}
	return string(b)
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// startBareFileServer serves dir with nothing but net/http's file server,
// the reference of issue 12, and returns its base URL.
func startBareFileServer(t *testing.T, dir string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(dir))}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// newChannelUser registers local with a channel of accessModel that the
// user owns, and returns the JID and password.
func newChannelUser(t *testing.T, px *localxmpp.Server, local, accessModel string) (jid.JID, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	password := local + "-secret"
	if err := px.Register(ctx, local, password); err != nil {
		t.Fatal(err)
	}
	user := px.UserJID(local)
	if err := px.CreateChannel(ctx, user, accessModel, map[string]auth.Affiliation{user.String(): auth.AffOwner}); err != nil {
		t.Fatal(err)
	}
	return user, password
}

// noisyPhoto is a w x h JPEG whose noise keeps it photo-sized (a 12 MP one
// is about 3 MB).
func noisyPhoto(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(1, 2))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i, n := img.PixOffset(x, y), r.IntN(26)
			img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] =
				uint8(x*127/w+n), uint8(y*127/h+n), uint8((x+y)%128+n), 255
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// wrkResult is what one wrk run reports.
type wrkResult struct {
	rps      float64
	p99      time.Duration
	requests int64
}

var (
	wrkRequests = regexp.MustCompile(`(\d+) requests in`)
	wrkRPS      = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	wrkP99      = regexp.MustCompile(`\s99%\s+([\d.]+)(us|ms|s)`)
	wrkErrors   = regexp.MustCompile(`(Non-2xx or 3xx responses|Socket errors):.*`)
)

// runWrk loads url with wrk -t1 -c16 for d and fails t on any error.
func runWrk(t *testing.T, wrk, url string, d time.Duration) wrkResult {
	t.Helper()
	secs := strconv.Itoa(max(1, int(d.Round(time.Second)/time.Second)))
	out, err := exec.Command(wrk, "-t1", "-c16", "-d"+secs+"s", "--latency", url).CombinedOutput()
	if err != nil {
		t.Fatalf("wrk %s: %v\n%s", url, err, out)
	}
	if m := wrkErrors.Find(out); m != nil {
		t.Fatalf("wrk %s: %s\n%s", url, m, out)
	}
	req, rps, p99 := wrkRequests.FindSubmatch(out), wrkRPS.FindSubmatch(out), wrkP99.FindSubmatch(out)
	if req == nil || rps == nil || p99 == nil {
		t.Fatalf("wrk output not understood:\n%s", out)
	}
	var r wrkResult
	r.requests, _ = strconv.ParseInt(string(req[1]), 10, 64)
	r.rps, _ = strconv.ParseFloat(string(rps[1]), 64)
	v, _ := strconv.ParseFloat(string(p99[1]), 64)
	unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[string(p99[2])]
	r.p99 = time.Duration(v * float64(unit))
	if r.requests == 0 {
		t.Fatalf("wrk %s: no request completed\n%s", url, out)
	}
	return r
}

// medianResult is the median throughput and the median p99 of runs.
func medianResult(runs []wrkResult) wrkResult {
	rps := make([]float64, len(runs))
	p99 := make([]time.Duration, len(runs))
	for i, r := range runs {
		rps[i], p99[i] = r.rps, r.p99
	}
	slices.Sort(rps)
	slices.Sort(p99)
	return wrkResult{rps: rps[len(rps)/2], p99: p99[len(p99)/2]}
}

func uploadForTest(t *testing.T, url string, photo []byte) string {
	t.Helper()
	item, err := mediaclient.Post(context.Background(), http.DefaultClient, url, nil, mediaclient.Upload{
		Body: bytes.NewReader(photo), Size: int64(len(photo)), Filename: "demo.jpg", ContentType: "image/jpeg", Title: "Demo photo",
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
