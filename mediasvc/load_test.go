package mediasvc

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xmppmedia/mediaserver/auth"
)

// go test ./mediasvc runs a short load test; the figures in docs/load.md
// come from: go test ./mediasvc -run TestLoad -load.duration=60s -v
var (
	loadDuration = flag.Duration("load.duration", 5*time.Second, "how long TestLoad holds its mixed workload")
	loadClients  = flag.Int("load.clients", 8, "concurrent clients of TestLoad")
)

// loadKind is one kind of request of the mixed workload.
type loadKind struct {
	name   string
	weight int
	// ok lists the statuses that are not errors.
	ok []int
	// slotted kinds run in upload slots or preview workers, so 503 with
	// Retry-After is their intended answer when those are full. Reads of
	// stored files and lists have no slots: a 503 there is an error.
	slotted bool
}

var loadKinds = []loadKind{
	{"upload", 1, []int{http.StatusCreated}, true},
	{"preview", 3, []int{http.StatusOK}, true},
	{"private read", 4, []int{http.StatusOK, http.StatusNotModified}, false},
	{"public read", 4, []int{http.StatusOK, http.StatusNotModified}, false},
	{"list", 2, []int{http.StatusOK}, false},
}

// loadStats collects what every request answered and how long it took.
type loadStats struct {
	mu        sync.Mutex
	latencies map[string][]time.Duration
	statuses  map[string]map[int]int
	errors    []string // the first few, for the failure message
	errCount  int
}

func (s *loadStats) record(kind string, status int, d time.Duration, problem string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latencies[kind] = append(s.latencies[kind], d)
	s.statuses[kind][status]++
	if problem != "" {
		s.errCount++
		if len(s.errors) < 20 {
			s.errors = append(s.errors, kind+": "+problem)
		}
	}
}

// itemPool is the media the clients read, growing as they upload.
type itemPool struct {
	mu  sync.Mutex
	ids []string
}

func (p *itemPool) add(id string) {
	p.mu.Lock()
	p.ids = append(p.ids, id)
	p.mu.Unlock()
}

func (p *itemPool) pick(r *rand.Rand) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ids[r.IntN(len(p.ids))]
}

// TestLoad holds a mixed workload on a real loopback server (the
// http.Server of HTTPServer, SQLite and disk stores, the confirmation
// cache over the fixture's stand-ins) for -load.duration with
// -load.clients concurrent clients: uploads of small JPEGs, previews of
// several sizes, private reads with remembered confirmations, public
// reads (some conditional) and list pages. Every answer must be an
// expected status or a 503 with Retry-After; it reports throughput and
// p50/p99 latency per kind.
func TestLoad(t *testing.T) {
	duration, clients := *loadDuration, *loadClients
	if testing.Short() {
		duration = time.Second
	}
	channels, confirm := newFixtureAuth()
	guard := &auth.Guard{Channels: auth.NewChannelCache(channels, time.Minute), Confirmer: auth.NewConfirmCache(confirm, 5*time.Minute)}
	cfg := DefaultConfig()
	cfg.MaxConcurrentUploads = 4 // small, so that the 503 path is part of the test
	cfg.PreviewWait = 2 * time.Second
	srv := serverWith(t, t.TempDir(), cfg, stackOptions{auth: guard})
	base := loggedServer(t, srv)

	photos := [][]byte{jpegImage(t, 640, 480), jpegImage(t, 480, 640), jpegImage(t, 800, 600)}
	client := &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients},
	}
	do := func(method, path, authz string, body io.Reader, header http.Header) (*http.Response, []byte, error) {
		req, err := http.NewRequest(method, base+path, body)
		if err != nil {
			return nil, nil, err
		}
		for k, v := range header {
			req.Header[k] = v
		}
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp, b, err
	}
	upload := func(ch, user string, data []byte) (*http.Response, mediaJSON, error) {
		body, ct := multipartBody(t, part{name: "data", file: data, fileName: "p.jpg"}, part{name: "content-type", value: "image/jpeg"})
		resp, b, err := do("POST", "/"+ch, "Basic "+cred(user), body, http.Header{"Content-Type": {ct}})
		var m mediaJSON
		if err == nil && resp.StatusCode == http.StatusCreated {
			err = json.Unmarshal(b, &m)
		}
		return resp, m, err
	}
	private, public := &itemPool{}, &itemPool{}
	for i := 0; i < 6; i++ {
		for _, pool := range []struct {
			ch string
			p  *itemPool
		}{{privateChan, private}, {openChan, public}} {
			resp, m, err := upload(pool.ch, bob, photos[i%len(photos)])
			if err != nil || resp.StatusCode != http.StatusCreated {
				t.Fatalf("seed upload: %v %v", resp, err)
			}
			pool.p.add(m.ID)
		}
	}

	stats := &loadStats{latencies: map[string][]time.Duration{}, statuses: map[string]map[int]int{}}
	total := 0
	for _, k := range loadKinds {
		stats.statuses[k.name] = map[int]int{}
		total += k.weight
	}
	previewSizes := []string{"maxwidth=64", "maxwidth=100&maxheight=100", "maxwidth=240&maxheight=320", "maxwidth=320&maxheight=480", "maxwidth=500", "maxwidth=1024"}
	began := time.Now()
	deadline := began.Add(duration)
	const maxRequestsPerClient = 200000 // a bound even if the clock misbehaves
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, 1))
			reader := []string{carol, dave, alice}[seed%3] // one remembered confirmation each
			etags := map[string]string{}
			for n := 0; n < maxRequestsPerClient && time.Now().Before(deadline); n++ {
				w := r.IntN(total)
				var kind loadKind
				for _, k := range loadKinds {
					if w < k.weight {
						kind = k
						break
					}
					w -= k.weight
				}
				start := time.Now()
				var resp *http.Response
				var err error
				var body []byte
				switch kind.name {
				case "upload":
					var m mediaJSON
					resp, m, err = upload(privateChan, bob, photos[r.IntN(len(photos))])
					if err == nil && resp.StatusCode == http.StatusCreated {
						private.add(m.ID)
					}
				case "preview":
					resp, body, err = do("GET", "/"+privateChan+"/"+private.pick(r)+"?"+previewSizes[r.IntN(len(previewSizes))], "Basic "+cred(reader), nil, nil)
				case "private read":
					resp, body, err = do("GET", "/"+privateChan+"/"+private.pick(r), "Basic "+cred(reader), nil, nil)
				case "public read":
					id := public.pick(r)
					h := http.Header{}
					if tag := etags[id]; tag != "" && r.IntN(2) == 0 {
						h.Set("If-None-Match", tag)
					}
					resp, body, err = do("GET", "/"+openChan+"/"+id, "", nil, h)
					if err == nil && resp.StatusCode == http.StatusOK {
						etags[id] = resp.Header.Get("ETag")
					}
				case "list":
					resp, body, err = do("GET", "/"+privateChan+"?max=20", "Basic "+cred(reader), nil, nil)
				}
				d := time.Since(start)
				switch {
				case err != nil:
					stats.record(kind.name, 0, d, err.Error())
				case resp.StatusCode == http.StatusServiceUnavailable && kind.slotted:
					problem := ""
					if resp.Header.Get("Retry-After") == "" {
						problem = "503 without Retry-After"
					}
					stats.record(kind.name, resp.StatusCode, d, problem)
				case !slices.Contains(kind.ok, resp.StatusCode):
					stats.record(kind.name, resp.StatusCode, d, fmt.Sprintf("status %d: %.200s", resp.StatusCode, body))
				case kind.name == "preview" && !bytes.HasPrefix(body, []byte("\xff\xd8")):
					stats.record(kind.name, resp.StatusCode, d, "preview is not a JPEG")
				default:
					stats.record(kind.name, resp.StatusCode, d, "")
				}
			}
		}(uint64(c))
	}
	wg.Wait()
	elapsed := time.Since(began) // the last requests may end after the deadline

	var report strings.Builder
	fmt.Fprintf(&report, "%d clients for %v (%d stored items at the end)\n", clients, elapsed.Round(time.Millisecond), len(private.ids)+len(public.ids))
	fmt.Fprintf(&report, "%-13s %8s %8s %9s %9s  %s\n", "kind", "requests", "req/s", "p50", "p99", "statuses")
	all := 0
	for _, k := range loadKinds {
		lat := stats.latencies[k.name]
		all += len(lat)
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		fmt.Fprintf(&report, "%-13s %8d %8.1f %9v %9v  %v\n", k.name, len(lat), float64(len(lat))/elapsed.Seconds(),
			percentile(lat, 50), percentile(lat, 99), stats.statuses[k.name])
	}
	fmt.Fprintf(&report, "%-13s %8d %8.1f\n", "all", all, float64(all)/elapsed.Seconds())
	t.Log("\n" + report.String())
	if stats.errCount > 0 {
		t.Errorf("%d errors beyond intended 503s, the first:\n%s", stats.errCount, strings.Join(stats.errors, "\n"))
	}
	for _, k := range loadKinds {
		succeeded := 0
		for _, status := range k.ok {
			succeeded += stats.statuses[k.name][status]
		}
		if succeeded == 0 {
			t.Errorf("no %s request succeeded: %v", k.name, stats.statuses[k.name])
		}
	}
}

func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	if i > 0 {
		i--
	}
	return sorted[i].Round(100 * time.Microsecond)
}
