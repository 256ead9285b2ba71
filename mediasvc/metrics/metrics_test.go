package metrics_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xmppmedia/mediaserver/auth"
	"github.com/xmppmedia/mediaserver/internal/authtest"
	"github.com/xmppmedia/mediaserver/mediasvc"
	"github.com/xmppmedia/mediaserver/mediasvc/metrics"
	"github.com/xmppmedia/mediaserver/mediasvc/metrics/metricstest"
)

var _ mediasvc.Metrics = (*metrics.Metrics)(nil)

// scrape reads m's handler over real HTTP, as Prometheus does.
func scrape(t *testing.T, m *metrics.Metrics) metricstest.Scrape {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	s, err := metricstest.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func value(t *testing.T, s metricstest.Scrape, name string, labels map[string]string) float64 {
	t.Helper()
	v, ok := s.Value(name, labels)
	if !ok {
		t.Fatalf("no sample %s%v in the scrape", name, labels)
	}
	return v
}

func TestRequestsUploadsPreviews(t *testing.T) {
	m := metrics.New(metrics.Options{Version: "v1.2.3"})
	m.ObserveRequest("/{entity}", "POST", 201, 120*time.Millisecond, 5000, 300)
	m.ObserveRequest("/{entity}", "POST", 201, 80*time.Millisecond, 7000, 300)
	m.ObserveRequest("/{entity}/{mediaID}", "GET", 0, time.Millisecond, 0, 42)
	m.ObserveRequest("/{entity}/{mediaID}", "GET", 404, time.Millisecond, 0, 20)
	m.ObserveUpload(4900)
	m.ObservePreview("upload", 300*time.Millisecond, nil)
	m.ObservePreview("on_demand", 10*time.Millisecond, fmt.Errorf("bad image"))
	s := scrape(t, m)
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"mediaserver_http_requests_total", map[string]string{"route": "/{entity}", "method": "POST", "status": "201"}, 2},
		{"mediaserver_http_requests_total", map[string]string{"route": "/{entity}/{mediaID}", "status": "200"}, 1},
		{"mediaserver_http_requests_total", map[string]string{"route": "/{entity}/{mediaID}", "status": "404"}, 1},
		{"mediaserver_http_request_duration_seconds", map[string]string{"route": "/{entity}"}, 2},
		{"mediaserver_http_received_bytes_total", map[string]string{"route": "/{entity}"}, 12000},
		{"mediaserver_http_sent_bytes_total", map[string]string{"route": "/{entity}/{mediaID}"}, 62},
		{"mediaserver_upload_size_bytes", nil, 1},
		{"mediaserver_preview_duration_seconds", map[string]string{"when": "upload", "result": "ok"}, 1},
		{"mediaserver_preview_duration_seconds", map[string]string{"when": "on_demand", "result": "error"}, 1},
		{"mediaserver_build_info", map[string]string{"version": "v1.2.3"}, 1},
	} {
		if got := value(t, s, tc.name, tc.labels); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	if sum := s.Sum("mediaserver_http_request_duration_seconds", map[string]string{"route": "/{entity}"}); sum < 0.199 || sum > 0.201 {
		t.Errorf("latency sum %v, want 0.2", sum)
	}
	if sum := s.Sum("mediaserver_upload_size_bytes", nil); sum != 4900 {
		t.Errorf("upload bytes sum %v, want 4900", sum)
	}
	if _, ok := s.Value("go_goroutines", nil); !ok {
		t.Error("Go runtime metrics missing")
	}
}

func TestXMPPConnectedGauge(t *testing.T) {
	var up atomic.Bool
	m := metrics.New(metrics.Options{XMPPConnected: up.Load})
	for _, want := range []bool{false, true, false} {
		up.Store(want)
		got := value(t, scrape(t, m), "mediaserver_xmpp_connected", nil)
		if (got == 1) != want {
			t.Errorf("connected %v: gauge %v", want, got)
		}
	}
}

// slowConfirmer takes d to deny, as a user who never answers does.
type slowConfirmer struct{ d time.Duration }

func (s slowConfirmer) Confirm(ctx context.Context, _ auth.ConfirmRequest) error {
	time.Sleep(s.d)
	return fmt.Errorf("%w: no answer", auth.ErrDenied)
}

func TestConfirmOutcomesAndCacheHits(t *testing.T) {
	// A denial that takes the reply timeout counts as "timeout", so the
	// immediate ones must stay well under it on a loaded machine with the
	// race detector: a second of slack, for a second of this test's time.
	const replyTimeout = time.Second
	m := metrics.New(metrics.Options{ReplyTimeout: replyTimeout, NoProcessCollectors: true})
	users := &authtest.Confirmer{}
	users.Accept("alice@example.com/phone", "t1")
	confirmer := m.ConfirmCache(auth.NewConfirmCache(m.Confirmer(users), time.Minute))
	req := func(j, tid string) auth.ConfirmRequest {
		return auth.ConfirmRequest{JID: jid.MustParse(j), TransactionID: tid, Method: "GET", URL: "http://x/c@x/1", Channel: jid.MustParse("c@x")}
	}
	ctx := context.Background()
	// Thirty thumbnails with one auth value: one question, 29 hits.
	for i := 0; i < 30; i++ {
		if err := confirmer.Confirm(ctx, req("alice@example.com/phone", "t1")); err != nil {
			t.Fatal(err)
		}
	}
	if err := confirmer.Confirm(ctx, req("mallory@example.com/pc", "t2")); err == nil {
		t.Fatal("mallory confirmed")
	}
	users.SetErr(fmt.Errorf("%w: not connected", auth.ErrUnavailable))
	confirmer.Confirm(ctx, req("bob@example.com/pc", "t3"))
	timeouts := m.Confirmer(slowConfirmer{replyTimeout + 10*time.Millisecond})
	timeouts.Confirm(ctx, req("carol@example.com/pc", "t4"))
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	m.Confirmer(ctxConfirmer{}).Confirm(cancelled, req("dave@example.com/pc", "t5"))

	s := scrape(t, m)
	for _, tc := range []struct {
		name, label, value string
		want               float64
	}{
		{"mediaserver_xmpp_confirmations_total", "outcome", "accepted", 1},
		{"mediaserver_xmpp_confirmations_total", "outcome", "denied", 1},
		{"mediaserver_xmpp_confirmations_total", "outcome", "unavailable", 1},
		{"mediaserver_xmpp_confirmations_total", "outcome", "timeout", 1},
		{"mediaserver_xmpp_confirmations_total", "outcome", "abandoned", 1},
		{"mediaserver_auth_cache_requests_total", "result", "hit", 29},
		{"mediaserver_auth_cache_requests_total", "result", "miss", 3},
	} {
		labels := map[string]string{tc.label: tc.value}
		if strings.HasPrefix(tc.name, "mediaserver_auth") {
			labels["cache"] = "confirm"
		}
		if got := value(t, s, tc.name, labels); got != tc.want {
			t.Errorf("%s{%s=%q} = %v, want %v", tc.name, tc.label, tc.value, got, tc.want)
		}
	}
	if got := value(t, s, "mediaserver_xmpp_confirmation_duration_seconds", nil); got != 3 {
		t.Errorf("%v confirmation durations, want 3 (accepted, denied, timeout)", got)
	}
}

// blockingChannels answers once released, counting calls, so concurrent
// lookups of one entity pile up on a single one.
type blockingChannels struct {
	release chan struct{}
	calls   atomic.Int64
}

func (b *blockingChannels) AccessModel(ctx context.Context, entity jid.JID) (auth.ChannelInfo, error) {
	return b.Channel(ctx, entity)
}

func (b *blockingChannels) Channel(ctx context.Context, entity jid.JID) (auth.ChannelInfo, error) {
	b.calls.Add(1)
	<-b.release
	return auth.ChannelInfo{AccessModel: "open"}, nil
}

func TestChannelCacheHitsIncludeSharedLookups(t *testing.T) {
	m := metrics.New(metrics.Options{NoProcessCollectors: true})
	backend := &blockingChannels{release: make(chan struct{})}
	channels := m.ChannelCache(auth.NewChannelCache(m.Channels(backend), time.Minute))
	entity := jid.MustParse("news@example.com")
	const callers = 8
	var wg sync.WaitGroup
	for i := 0; i < callers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := channels.Channel(context.Background(), entity); err != nil {
				t.Error(err)
			}
		}()
	}
	time.Sleep(100 * time.Millisecond) // let them all join the one lookup
	close(backend.release)
	wg.Wait()
	channels.Channel(context.Background(), entity) // from the cache
	s := scrape(t, m)
	misses := value(t, s, "mediaserver_auth_cache_requests_total", map[string]string{"cache": "channel", "result": "miss"})
	hits := value(t, s, "mediaserver_auth_cache_requests_total", map[string]string{"cache": "channel", "result": "hit"})
	if misses != float64(backend.calls.Load()) || hits+misses != callers+1 {
		t.Errorf("hits %v misses %v, want misses = %d backend calls and %d in all", hits, misses, backend.calls.Load(), callers+1)
	}
	if got := value(t, s, "mediaserver_xmpp_channel_lookups_total", map[string]string{"result": "ok"}); got != misses {
		t.Errorf("channel lookups %v, want %v", got, misses)
	}
}

func TestHandlerServesTextFormat(t *testing.T) {
	m := metrics.New(metrics.Options{})
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q", ct)
	}
	if !strings.Contains(string(body), "# HELP mediaserver_xmpp_confirmations_total") {
		t.Errorf("no help text for confirmations:\n%.500s", body)
	}
}

// ctxConfirmer returns its context's error, as the component does when
// the HTTP client goes away while a user is asked.
type ctxConfirmer struct{}

func (ctxConfirmer) Confirm(ctx context.Context, _ auth.ConfirmRequest) error {
	<-ctx.Done()
	return fmt.Errorf("confirm: %w", ctx.Err())
}

// The cost the hook adds to every request.
func BenchmarkObserveRequest(b *testing.B) {
	m := metrics.New(metrics.Options{NoProcessCollectors: true})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.ObserveRequest("/{entity}/{mediaID}", "GET", 200, 3*time.Millisecond, 0, 5000)
		}
	})
}
